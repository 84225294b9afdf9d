"""``NvdecVideoReader``: a ``VideoReader`` whose frames NVDEC decodes.

The reader opens and indexes the file once (Note [one open] in io/opening.py): its index defines
frame ``i``, ``len()`` and ``get_avg_fps()`` (Note [frame index] in io/decoder.py), its FFmpeg
decoder is the fallback, and NVDEC is fed packets from its container. Whether NVDEC may decode
the file is decided from the decoder caps before any decoder is made (Note [measured caps]);
NVDEC's frames are numbered through the CPU index (Note [stamps]). A file goes to the CPU, said once per reason, when

* its codec, bit depth, chroma or size is outside the caps (the reason names codec and limit);
* its numbering cannot be proven (no timestamps, or frames out of order after a seek);
* PyNvVideoCodec raised on it (the decoder that raised is dropped, never reused).

Missing driver libraries are not a fallback: they raise ``NvdecUnavailableError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import torch

from pyvidfast.io.indices import FrameIndices, frame_indices
from pyvidfast.io.nvdec.caps import Decision, gpu_decision
from pyvidfast.io.nvdec.decode import decode_frames
from pyvidfast.io.nvdec.library import NvdecUnavailableError, no_cuda_device
from pyvidfast.io.nvdec.numbering import FrameNumbering, NumberingError, plan_indices
from pyvidfast.io.nvdec.packets import PacketSource
from pyvidfast.io.nvdec.pool import DecoderKey, DecoderPool, decoder_pool
from pyvidfast.io.nvdec.surfaces import rotate_planes
from pyvidfast.io.reader import Indices, Source, VideoReader

__all__ = ["NvdecVideoReader"]

log = logging.getLogger("pyvidfast.io.nvdec")
_T = TypeVar("_T")
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(key: str, message: str) -> None:
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("%s", message)


def _target_device(device: str | torch.device, pool: DecoderPool | None) -> torch.device:
    """The device frames are returned on: CUDA for NVDEC; any device with a given pool (the
    stand-in decodes on the CPU)."""
    dev = torch.device(device)
    if pool is not None and dev.type != "cuda":
        return dev
    if dev.type != "cuda":
        raise ValueError(f"NvdecVideoReader needs a CUDA device, got device={device!r}")
    problem = no_cuda_device()  # the same line as `check --device cuda` gives
    if problem is not None:
        raise NvdecUnavailableError(problem)
    return dev if dev.index is not None else torch.device("cuda", torch.cuda.current_device())


class NvdecVideoReader(VideoReader):
    """A ``VideoReader`` whose frames are decoded on NVDEC.

    Args:
        source: a path or the file's bytes (a file object is read on the CPU).
        device: the CUDA device whose NVDEC engines decode and where frames are returned.
        num_threads: FFmpeg decoder threads for the CPU fallback.
        pool: the decoders (default: ``decoder_pool(device)``); ``standin.standin_pool()`` runs
            the same logic on the CPU with the measured behaviour of NVDEC.

    The file is opened and indexed once, as ``VideoReader`` does; NVDEC is fed packets from
    that container. ``get_batch`` returns uint8 ``[N, H, W, 3]`` RGB converted from NV12/P016
    with the stream's matrix and range; ``get_batch_resized`` is the fused YUV -> resize -> crop
    -> normalise path. ``on_gpu`` is False when FFmpeg decodes this file; ``fallback_reason``
    says why.
    """

    def __init__(
        self,
        source: Source,
        device: str | torch.device = "cuda",
        *,
        num_threads: int = 0,
        pool: DecoderPool | None = None,
    ) -> None:
        self.device = _target_device(device, pool)
        self._pool = pool
        self._packets: PacketSource | None = None
        self.numbering: FrameNumbering | None = None
        self.fallback_reason = ""
        super().__init__(source, num_threads=num_threads)
        self.format = self.info.format
        self.applied_rotation = self.rotation  # clockwise degrees the frames are turned
        ok, reason = self._decide(source)
        if not ok:
            self._fall_back(reason)

    # ---- decisions

    def _decide(self, source: Source) -> Decision:
        if not _is_path(source) and not isinstance(source, (bytes, bytearray, memoryview)):
            return Decision(False, "file objects are read on the CPU (pass a path or the bytes)")
        pts = self.frame_pts
        if pts is None:
            return Decision(False, "the stream has no usable timestamps: numbering needs the CPU")
        pool = self._get_pool()  # missing driver libraries: the one clear error, no fallback
        decision = gpu_decision(self.format, pool.capability, pool.caps(self.format))
        if decision.ok:
            self._packets = PacketSource(self)
            self.numbering = FrameNumbering(pts, self.get_key_indices(), self.info.stamp_shift)
        return decision

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        self._packets = None
        _warn_once(reason.split(":")[0], f"{self.path}: reading on the CPU ({reason})")

    @property
    def on_gpu(self) -> bool:
        return not self.fallback_reason

    def _get_pool(self) -> DecoderPool:
        if self._pool is None:
            self._pool = decoder_pool(self.device.index or 0)
        return self._pool

    # ---- decoding

    def _yuv(self, distinct: list[int]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Owned ``(lumas, chromas)`` of frames ``distinct`` from NVDEC."""
        assert self._packets is not None and self.numbering is not None
        size = (self.format.height, self.format.width)  # as stored, before any rotation
        on_device = torch.cuda.device(self.device) if self.device.type == "cuda" else nullcontext()
        with self._get_pool().acquire(DecoderKey.of(self.format)) as decoder, on_device:
            lumas, chromas = decode_frames(
                decoder, self._packets.packets, self.numbering, distinct, size, self.device
            )
        return rotate_planes(lumas, chromas, self.applied_rotation)

    def _on_gpu(
        self, distinct: list[int], consume: Callable[[list[torch.Tensor], list[torch.Tensor]], _T]
    ) -> _T | None:
        """``consume(lumas, chromas)`` of frames ``distinct`` from NVDEC, or None when this file
        is (or has just gone) to the CPU."""
        if self.on_gpu:
            try:
                return consume(*self._yuv(distinct))
            except NumberingError as exc:
                self._fall_back(f"NVDEC frame numbering is not the CPU index's: {exc}")
            except Exception as exc:  # PyNvVideoCodec failed on this file: it goes to the CPU
                self._fall_back(f"NVDEC failed on this file: {type(exc).__name__}: {exc}")
        return None

    def get_frames(self, request: FrameIndices) -> torch.Tensor:
        """The distinct frames of a planned request on ``device`` (``VideoReader.get_frames``)."""
        from pyvidfast.transform import yuv_to_rgb

        if not request.distinct:
            return torch.empty((0, *self.frame_shape), dtype=torch.uint8, device=self.device)
        fmt = self.format

        def consume(lumas: list[torch.Tensor], chromas: list[torch.Tensor]) -> torch.Tensor:
            return yuv_to_rgb(lumas, chromas, matrix=fmt.matrix, full_range=fmt.full_range)

        out = self._on_gpu(request.distinct, consume)
        if out is None:
            out = super().get_frames(request).to(self.device, non_blocking=True)
        return out

    def get_batch_yuv(self, indices: Indices) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Frames ``indices`` as ``(luma, chroma)`` lists of owned tensors (NV12: uint8, P016:
        uint16 with the sample in the high bits); repeats share a tensor. Raises
        ``NvdecUnavailableError`` when this file is read on the CPU."""
        distinct, rows = plan_indices(indices, len(self), self.path, self.padded_from)
        if not distinct:
            return [], []
        planes = self._on_gpu(distinct, lambda y, c: (y, c))
        if planes is None:
            raise NvdecUnavailableError(f"{self.path}: read on the CPU ({self.fallback_reason})")
        lumas, chromas = planes
        return [lumas[r] for r in rows], [chromas[r] for r in rows]

    def get_batch_resized(
        self,
        indices: Indices,
        size: tuple[int, int],
        *,
        out_dtype: torch.dtype = torch.float32,
        layout: str = "TCHW",
        crop: str | tuple[int, int] = "center",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``resize_crop_normalize(get_batch(indices), size, ...)`` from the decoder's YUV in one
        kernel (``yuv_resize_crop_normalize``); each distinct frame once. Same defaults, errors
        and empty result as ``VideoReader.get_batch_resized``, which serves the CPU fallback."""
        from pyvidfast.transform import yuv_resize_crop_normalize

        options: dict[str, Any] = dict(
            crop=crop, out_dtype=out_dtype, layout=layout, generator=generator
        )
        request = frame_indices(indices, len(self), self.path, self.padded_from)
        fmt = self.format

        def consume(lumas: list[torch.Tensor], chromas: list[torch.Tensor]) -> torch.Tensor:
            return yuv_resize_crop_normalize(
                lumas, chromas, size, matrix=fmt.matrix, full_range=fmt.full_range, **options
            )

        out = self._on_gpu(request.distinct, consume) if request.distinct else None
        if out is None:
            return super().get_batch_resized(indices, size, **options)
        return request.expand(out, 0 if layout == "TCHW" else 1)

    def close(self) -> None:
        self._packets = None
        super().close()

    def __repr__(self) -> str:
        where = "nvdec" if self.on_gpu else f"cpu fallback: {self.fallback_reason}"
        return f"NvdecVideoReader({self.path!r}, frames={len(self)}, {self.device}, {where})"


def _is_path(source: Any) -> bool:
    return isinstance(source, str) or hasattr(source, "__fspath__")

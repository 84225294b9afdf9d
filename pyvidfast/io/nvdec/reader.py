"""``NvdecVideoReader``: the CPU reader's interface and frame numbers, decoded on NVDEC.

Every ``NvdecVideoReader`` owns a CPU ``VideoReader`` on the same source: its index defines frame
``i``, ``len()`` and ``get_avg_fps()`` (Note [frame index] in pyvidfast/io/reader.py), and it is
the fallback. Whether NVDEC may decode the file is decided from the decoder caps before any
decoder is made (Note [measured caps]); NVDEC's frames are numbered through the CPU index
(Note [stamps]). A file goes to the CPU, said once per reason, when

* its codec, bit depth, chroma or size is outside the caps (the reason names codec and limit);
* its numbering cannot be proven (no timestamps, or frames out of order after a seek);
* PyNvVideoCodec raised on it (the decoder that raised is dropped, never reused).

Missing driver libraries are not a fallback: they raise ``NvdecUnavailableError``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from pyvidfast.io.nvdec.caps import Decision, gpu_decision
from pyvidfast.io.nvdec.decode import decode_frames
from pyvidfast.io.nvdec.formats import stream_format_of
from pyvidfast.io.nvdec.library import NvdecUnavailableError, no_cuda_device
from pyvidfast.io.nvdec.numbering import FrameNumbering, NumberingError, plan_indices
from pyvidfast.io.nvdec.packets import PacketSource, first_packet_shift
from pyvidfast.io.nvdec.pool import DecoderKey, DecoderPool, decoder_pool
from pyvidfast.io.nvdec.surfaces import rotate_planes
from pyvidfast.io.orientation import decord_rotation, rotated_shape
from pyvidfast.io.reader import Source, VideoReader

__all__ = ["NvdecVideoReader"]

log = logging.getLogger("pyvidfast.io.nvdec")
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


class NvdecVideoReader:
    """``VideoReader``'s interface, decoding on NVDEC.

    Args:
        source: a path or the file's bytes (a file object is read on the CPU).
        device: the CUDA device whose NVDEC engines decode and where frames are returned.
        num_threads: threads of the CPU reader (indexing and fallback).
        pool: the decoders (default: ``decoder_pool(device)``); ``standin.standin_pool()`` runs
            the same logic on the CPU with the measured behaviour of NVDEC.

    ``get_batch`` returns uint8 ``[N, H, W, 3]`` RGB converted from NV12/P016 with the stream's
    matrix and range; ``get_batch_resized`` is the fused YUV -> resize -> crop -> normalise path.
    ``on_gpu`` is False when the CPU reader serves this file; ``fallback_reason`` says why.
    """

    def __init__(
        self,
        source: Source,
        device: str | torch.device = "cuda",
        *,
        num_threads: int = 0,
        pool: DecoderPool | None = None,
    ):
        self.device = _target_device(device, pool)
        self._pool = pool
        self._cpu = VideoReader(source, num_threads=num_threads)
        self.path = self._cpu.path
        self._source = source
        self._packets: PacketSource | None = None
        self.numbering: FrameNumbering | None = None
        self.format = None
        self.applied_rotation = 0  # clockwise degrees the frames are turned (decord's rule)
        self.fallback_reason = ""
        ok, reason = self._decide()
        if not ok:
            self._fall_back(reason)

    # ---- decisions

    def _decide(self) -> Decision:
        if not _is_path(self._source) and not isinstance(
            self._source, (bytes, bytearray, memoryview)
        ):
            return Decision(False, "file objects are read on the CPU (pass a path or the bytes)")
        pts = self._cpu.frame_pts
        if pts is None:
            return Decision(False, "the stream has no usable timestamps: numbering needs the CPU")
        self._packets = PacketSource(self._source, self._cpu.stream_index)
        self.format = stream_format_of(self._packets.stream)
        matrix_source = io.BytesIO(self._source) if not _is_path(self._source) else self._source
        self.applied_rotation = decord_rotation(self._packets.stream, matrix_source)
        pool = self._get_pool()  # missing driver libraries: the one clear error, no fallback
        decision = gpu_decision(self.format, pool.capability, pool.caps(self.format))
        if decision.ok:
            shift = first_packet_shift(self._source, self._cpu.stream_index)
            self.numbering = FrameNumbering(pts, self._cpu.get_key_indices(), shift)
        return decision

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        if self._packets is not None:
            self._packets.close()
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
        size = (self.format.height, self.format.width)  # as stored, before any rotation
        on_device = torch.cuda.device(self.device) if self.device.type == "cuda" else nullcontext()
        with self._get_pool().acquire(DecoderKey.of(self.format)) as decoder, on_device:
            lumas, chromas = decode_frames(
                decoder, self._packets.packets, self.numbering, distinct, size, self.device
            )
        return rotate_planes(lumas, chromas, self.applied_rotation)

    def _gpu_or_cpu(self, distinct: list[int], consume: Callable, on_cpu: Callable) -> Any:
        if self.on_gpu:
            try:
                return consume(*self._yuv(distinct))
            except NumberingError as exc:
                self._fall_back(f"NVDEC frame numbering is not the CPU index's: {exc}")
            except Exception as exc:  # PyNvVideoCodec failed on this file: it goes to the CPU
                self._fall_back(f"NVDEC failed on this file: {type(exc).__name__}: {exc}")
        return on_cpu()

    def get_batch(self, indices) -> torch.Tensor:
        """Frames ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]``."""
        distinct, rows = plan_indices(indices, len(self), self.path, self._cpu.padded_from)
        if not distinct:
            return torch.empty((0, *self.frame_shape), dtype=torch.uint8, device=self.device)
        fmt = self.format

        def consume(lumas, chromas):
            from pyvidfast.transform import yuv_to_rgb

            return yuv_to_rgb(lumas, chromas, matrix=fmt.matrix, full_range=fmt.full_range)

        def on_cpu():
            return self._cpu.get_batch(distinct).to(self.device, non_blocking=True)

        out = self._gpu_or_cpu(distinct, consume, on_cpu)
        return _rows(out, rows, 0)

    def get_batch_yuv(self, indices) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Frames ``indices`` as ``(luma, chroma)`` lists of owned tensors (NV12: uint8, P016:
        uint16 with the sample in the high bits); repeats share a tensor. Raises
        ``NvdecUnavailableError`` when this file is read on the CPU."""
        distinct, rows = plan_indices(indices, len(self), self.path, self._cpu.padded_from)

        def on_cpu():
            raise NvdecUnavailableError(f"{self.path}: read on the CPU ({self.fallback_reason})")

        if not distinct:
            return [], []
        lumas, chromas = self._gpu_or_cpu(distinct, lambda y, c: (y, c), on_cpu)
        return [lumas[r] for r in rows], [chromas[r] for r in rows]

    def get_batch_resized(
        self,
        indices,
        size: tuple[int, int],
        *,
        out_dtype: torch.dtype = torch.float32,
        layout: str = "TCHW",
        crop: str | tuple[int, int] = "center",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``resize_crop_normalize(get_batch(indices), size, ...)`` from the decoder's YUV in one
        kernel (``yuv_resize_crop_normalize``); each distinct frame once. Same defaults and the
        same empty result as ``VideoReader.get_batch_resized`` (as decord's empty batch)."""
        from pyvidfast.transform import resize_crop_normalize, yuv_resize_crop_normalize

        distinct, rows = plan_indices(indices, len(self), self.path, self._cpu.padded_from)
        fmt = self.format
        options = dict(crop=crop, out_dtype=out_dtype, layout=layout, generator=generator)
        if not distinct:
            return self._cpu.get_batch_resized([], size, **options).to(self.device)

        def consume(lumas, chromas):
            return yuv_resize_crop_normalize(
                lumas, chromas, size, matrix=fmt.matrix, full_range=fmt.full_range, **options
            )

        def on_cpu():
            rgb = self._cpu.get_batch(distinct).to(self.device, non_blocking=True)
            return resize_crop_normalize(rgb, size, **options)

        out = self._gpu_or_cpu(distinct, consume, on_cpu)
        return _rows(out, rows, 0 if layout == "TCHW" else 1)

    # ---- VideoReader's interface

    def __len__(self) -> int:
        return len(self._cpu)

    @property
    def num_decodable(self) -> int:
        """Frames that decode (``VideoReader.num_decodable``: the CPU index is the truth)."""
        return self._cpu.num_decodable

    def get_avg_fps(self) -> float:
        return self._cpu.get_avg_fps()

    def get_frame_timestamp(self, indices):
        return self._cpu.get_frame_timestamp(indices)

    def get_key_indices(self) -> list[int]:
        return self._cpu.get_key_indices()

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.get_batch(range(*key.indices(len(self))))
        if isinstance(key, (int, np.integer)):
            return self.get_batch([int(key)])[0]
        return self.get_batch(key)

    width = property(lambda self: self._cpu.width)
    height = property(lambda self: self._cpu.height)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)`` of the frames, upright (turned by ``applied_rotation``)."""
        if not self.on_gpu:
            return self._cpu.frame_shape
        fmt = self.format
        return (*rotated_shape(fmt.height, fmt.width, self.applied_rotation), 3)

    rotation = property(lambda self: self._cpu.rotation)
    sample_aspect_ratio = property(lambda self: self._cpu.sample_aspect_ratio)
    codec = property(lambda self: self._cpu.codec)

    def close(self) -> None:
        self._cpu.close()
        if self._packets is not None:
            self._packets.close()
            self._packets = None

    def __enter__(self) -> NvdecVideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "nvdec" if self.on_gpu else f"cpu fallback: {self.fallback_reason}"
        return f"NvdecVideoReader({self.path!r}, frames={len(self)}, {self.device}, {where})"


def _is_path(source: Any) -> bool:
    return isinstance(source, str) or hasattr(source, "__fspath__")


def _rows(out: torch.Tensor, rows: list[int], dim: int) -> torch.Tensor:
    """Restore the requested order and repeats from the distinct frames."""
    if rows == list(range(out.shape[dim])):
        return out
    return out.index_select(dim, torch.tensor(rows, device=out.device))

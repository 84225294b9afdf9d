"""NVDEC decoding through PyNvVideoCodec: ``NvdecVideoReader``, the decoder pool, surface views.

Unverified on a GPU: written and CPU-tested without NVDEC hardware (see benchmarks/gpu_nvdec_steps.sh).

What this module guarantees, and how:

* **One clear error.** ``import PyNvVideoCodec`` fails without the driver's
  ``libnvidia-encode.so.1`` (even for decoding), and decoding needs ``libnvcuvid.so.1``. Both are
  dlopen()ed first, so ``NvdecUnavailableError`` names the missing library (and the container
  setting that usually hides it) instead of PyNvVideoCodec's long troubleshooting text. The import
  happens on first use only: ``import pyvidfast`` never touches the GPU stack.
* **Same frame numbering as the CPU reader.** Every ``NvdecVideoReader`` owns a CPU
  ``VideoReader`` on the same source: its index (Note [frame index] in reader.py) defines frame
  ``i``, ``len()`` and ``get_avg_fps()``, and it is the fallback. The frames NVDEC returns for
  indices ``i`` are checked against that index by presentation timestamp (``getPTS()``); a file
  whose NVDEC numbering disagrees is read on the CPU from then on (warned once per reason).
* **Fallback.** Codecs NVDEC cannot decode here (AV1 on A100/H100/H200, H.264 High 10, 4:2:2
  and 4:4:4 surfaces the colour kernels do not take, colour matrices other than BT.601/709/2020,
  codecs without an NVDEC decoder) are read by the CPU reader and moved to the GPU, said once per
  reason. Missing driver libraries are not a fallback: they raise the error above.
* **Decoder reuse.** ``DecoderPool`` keeps at most ``size`` decoders per GPU (default: its NVDEC
  engine count) and points an idle one at the next file with ``reconfigure_decoder`` (about 5 ms)
  instead of creating one (50-70 ms).
* **Surfaces are consumed before the next decode.** A decoder's output buffers are only valid
  until its next call: conversion kernels run while the decoder is held, and the decoder returns
  to the pool only after a CUDA event recorded behind them has completed.
* **Indices.** ``get_batch_frames_by_index`` silently drops duplicate and out-of-range indices,
  so it is given the sorted distinct valid indices and repeats are restored here (``plan_indices``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pyvidfast.io.errors import FrameIndexError
from pyvidfast.io.reader import Source, VideoReader

__all__ = [
    "DecoderPool",
    "NvdecUnavailableError",
    "NvdecVideoReader",
    "StreamFormat",
    "gpu_decision",
    "nvdec_available",
    "nvdec_module",
    "open_reader",
    "plan_indices",
    "stream_color",
]

log = logging.getLogger(__name__)

# The driver libraries PyNvVideoCodec needs (NVIDIA's container toolkit mounts them only with
# NVIDIA_DRIVER_CAPABILITIES including "video").
DRIVER_LIBRARIES = ("libnvcuvid.so.1", "libnvidia-encode.so.1")

# PyAV decoder name -> NVDEC codec (a ``cudaVideoCodec`` member name).
NVDEC_CODECS = {
    "h264": "H264",
    "hevc": "HEVC",
    "vp9": "VP9",
    "libvpx-vp9": "VP9",
    "vp8": "VP8",
    "av1": "AV1",
    "libdav1d": "AV1",
    "libaom-av1": "AV1",
    "mpeg1video": "MPEG1",
    "mpeg2video": "MPEG2",
    "mpeg4": "MPEG4",
    "vc1": "VC1",
}
# The codecs the reader and the checker send to NVDEC (the others have NVDEC decoders but
# PyNvVideoCodec's demuxer/SimpleDecoder path is not the reference for them: CPU).
GPU_CODECS = frozenset({"H264", "HEVC", "VP9", "AV1"})
# NVDEC generations without an AV1 decoder, by CUDA compute capability: GA100 and GH100.
NO_AV1_CAPABILITIES = frozenset({(8, 0), (9, 0)})
# NVDEC engines per GPU when GetDecoderCaps does not say (gpu.md; first match by name wins).
ENGINES_BY_NAME = (
    ("H200", 7),
    ("H100", 7),
    ("H800", 7),
    ("GH200", 7),
    ("A100", 5),
    ("A800", 5),
    ("A30", 4),
    ("L40S", 3),
    ("L40", 3),
    ("L4", 4),
)
DEFAULT_ENGINES = 2
GPU_MATRICES = ("bt601", "bt709", "bt2020")  # what pyvidfast.transform converts


class NvdecUnavailableError(RuntimeError):
    """NVDEC cannot be used here: a driver library or PyNvVideoCodec is missing, or no GPU."""


# ------------------------------------------------------------------------ lazy import


def missing_driver_libraries(loader: Callable[[str], Any] = ctypes.CDLL) -> list[str]:
    """The entries of ``DRIVER_LIBRARIES`` that cannot be loaded (``loader`` as ``ctypes.CDLL``)."""
    missing = []
    for name in DRIVER_LIBRARIES:
        try:
            loader(name)
        except OSError:
            missing.append(name)
    return missing


def unavailable_message(missing: Sequence[str], import_error: BaseException | None = None) -> str:
    """The one error text: which library is missing and what usually fixes it."""
    if missing:
        return (
            f"NVDEC decoding needs the NVIDIA driver's {' and '.join(missing)}, which cannot be "
            "loaded here (PyNvVideoCodec imports libnvidia-encode.so.1 even to decode; decoding "
            "uses libnvcuvid.so.1). In a container, start it with "
            "NVIDIA_DRIVER_CAPABILITIES=compute,utility,video; on a host, install the full "
            "driver (check with `ldconfig -p | grep -E 'nvcuvid|nvidia-encode'`). "
            "Use device='cpu' to decode with FFmpeg instead."
        )
    if isinstance(import_error, ModuleNotFoundError):
        return (
            "NVDEC decoding needs PyNvVideoCodec, which is not installed: "
            "pip install 'pyvidfast[gpu]' (or pynvvideocodec>=2.0). Use device='cpu' to decode "
            "with FFmpeg instead."
        )
    first = str(import_error).strip().splitlines()[0] if import_error else "unknown error"
    return (
        f"PyNvVideoCodec is installed but failed to import: {first}. The driver may be too old "
        "for it (it needs NVENC API 12.1 or newer, driver >= 530) or the wheel does not match "
        "this Python. Use device='cpu' to decode with FFmpeg instead."
    )


_nvc: Any = None
_nvc_error: NvdecUnavailableError | None = None
_nvc_lock = threading.Lock()


def nvdec_module(
    *, loader: Callable[[str], Any] = ctypes.CDLL, importer: Callable[[], Any] | None = None
) -> Any:
    """``PyNvVideoCodec``, imported on first call; else ``NvdecUnavailableError`` (also cached).

    ``loader`` and ``importer`` exist for tests (a call with either is not cached).
    """
    global _nvc, _nvc_error
    testing = importer is not None or loader is not ctypes.CDLL
    with _nvc_lock:
        if not testing:
            if _nvc is not None:
                return _nvc
            if _nvc_error is not None:
                raise _nvc_error
        error: NvdecUnavailableError | None = None
        module = None
        missing = missing_driver_libraries(loader)
        if missing:
            error = NvdecUnavailableError(unavailable_message(missing))
        else:
            try:
                if importer is None:
                    import PyNvVideoCodec as module  # noqa: N813
                else:
                    module = importer()
            except Exception as exc:  # ImportError, or its RuntimeError on an old driver
                error = NvdecUnavailableError(unavailable_message([], exc))
                error.__cause__ = exc
        if testing:
            if error is not None:
                raise error
            return module
        _nvc, _nvc_error = module, error
        if error is not None:
            raise error
        return module


def nvdec_available() -> bool:
    """True when PyNvVideoCodec imports and torch sees a CUDA device."""
    if not torch.cuda.is_available():
        return False
    try:
        nvdec_module()
    except NvdecUnavailableError:
        return False
    return True


# ------------------------------------------------------------------- formats and decisions


@dataclass(frozen=True)
class StreamFormat:
    """What decides whether NVDEC and the colour kernels can take a stream."""

    codec: str  # PyAV decoder name
    pix_fmt: str | None
    width: int
    height: int
    bit_depth: int
    chroma: str  # "420", "422", "444", "400" or "?"
    matrix: str  # "bt601", "bt709", "bt2020", ...
    full_range: bool

    @property
    def nv_codec(self) -> str | None:
        return NVDEC_CODECS.get(self.codec)


def _pix_fmt_layout(pix_fmt: str | None) -> tuple[str, int]:
    """``(chroma, bit_depth)`` of a pixel format name such as ``yuv420p10le``."""
    if not pix_fmt:
        return "?", 8
    name = pix_fmt
    depth = 8
    for bits in (16, 14, 12, 10, 9):
        if f"p{bits}" in name:
            depth = bits
            break
    if name.startswith("gray"):
        return "400", depth
    if name.startswith(("nv12", "p010", "p016")):
        return "420", 8 if name.startswith("nv12") else (10 if name.startswith("p010") else 16)
    for chroma in ("420", "422", "444", "440", "411", "410"):
        if chroma in name:
            return chroma, depth
    return "?", depth


def stream_color(colorspace: int | None, color_range: int | None, pix_fmt: str | None):
    """``(matrix, full_range)`` the CPU reader's swscale conversion uses for this stream.

    Measured on PyAV 18 against the real clips: a stream tagged BT.709 (AVCOL_SPC 1) converts
    with BT.709, BT.2020 (9, 10) with BT.2020, everything else, untagged (2) included, with BT.601
    (swscale's default); range JPEG (2) or a ``yuvj*`` format is full range, else limited.
    """
    cs = int(colorspace or 2)
    if cs == 1:
        matrix = "bt709"
    elif cs in (9, 10):
        matrix = "bt2020"
    else:
        matrix = "bt601"
    full = int(color_range or 0) == 2 or bool(pix_fmt and pix_fmt.startswith("yuvj"))
    return matrix, full


def stream_format_of(stream) -> StreamFormat:
    """``StreamFormat`` of a PyAV video stream (header values; no decoding)."""
    cc = stream.codec_context
    pix_fmt = cc.pix_fmt
    chroma, depth = _pix_fmt_layout(pix_fmt)
    matrix, full = stream_color(
        getattr(cc, "colorspace", None), getattr(cc, "color_range", None), pix_fmt
    )
    return StreamFormat(
        codec=cc.name,
        pix_fmt=pix_fmt,
        width=int(cc.width or 0),
        height=int(cc.height or 0),
        bit_depth=depth,
        chroma=chroma,
        matrix=matrix,
        full_range=full,
    )


def gpu_decision(
    fmt: StreamFormat,
    capability: tuple[int, int] | None = None,
    caps: dict | None = None,
    *,
    for_pixels: bool = True,
) -> tuple[bool, str]:
    """Can NVDEC decode this stream here? ``(ok, reason)``; the reason says why not.

    ``caps`` is ``GetDecoderCaps(...)`` for this codec, chroma format and bit depth when it could
    be queried (it wins over the table); ``capability`` the GPU's compute capability. With
    ``for_pixels`` the colour kernels must also take the surface (4:2:0, BT.601/BT.709); the
    integrity checker only needs the decode.
    """
    nv = fmt.nv_codec
    if nv is None or nv not in GPU_CODECS:
        return False, f"codec {fmt.codec} is not decoded on NVDEC here"
    # The colour kernels take NV12/P016 (4:2:0); NVDEC itself also decodes HEVC 4:4:4.
    hevc_444 = nv == "HEVC" and fmt.chroma == "444"
    if fmt.chroma not in ("420", "?") and (for_pixels or not hevc_444):
        return False, f"{fmt.codec} {fmt.pix_fmt}: chroma {fmt.chroma} is not NV12/P016"
    if nv == "H264" and fmt.bit_depth != 8:
        return False, f"h264 {fmt.bit_depth}-bit (High 10) has no NVDEC decoder"
    if fmt.bit_depth > 12 or (fmt.bit_depth > 10 and nv in ("VP9", "AV1")):
        return False, f"{fmt.codec} {fmt.bit_depth}-bit is beyond NVDEC"
    if for_pixels and fmt.matrix not in GPU_MATRICES:
        return False, f"{fmt.codec}: colour matrix {fmt.matrix} is converted on the CPU"
    if caps is not None:
        engines = int(caps.get("num_decoder_engines", 0) or 0)
        width_max = int(caps.get("width_max", 0) or 0)
        height_max = int(caps.get("height_max", 0) or 0)
        if engines <= 0 or width_max <= 0:
            return False, f"{fmt.codec} {fmt.pix_fmt}: GetDecoderCaps reports no NVDEC support"
        if fmt.width > width_max or fmt.height > height_max:
            return False, (
                f"{fmt.codec} {fmt.width}x{fmt.height} exceeds NVDEC's {width_max}x{height_max}"
            )
        if fmt.width and fmt.width < int(caps.get("width_min", 0) or 0):
            return False, f"{fmt.codec} {fmt.width}x{fmt.height} is below NVDEC's minimum"
        return True, ""
    if nv == "AV1" and capability in NO_AV1_CAPABILITIES:
        return (
            False,
            f"AV1 has no NVDEC decoder on compute capability {capability[0]}.{capability[1]}",
        )
    return True, ""


def engines_for_name(name: str) -> int | None:
    """NVDEC engine count from the GPU's name (``ENGINES_BY_NAME``), None when unknown."""
    tokens = set(re.split(r"[^A-Z0-9]+", name.upper()))
    for key, count in ENGINES_BY_NAME:
        if key in tokens:
            return count
    return None


_caps_cache: dict[tuple, dict | None] = {}


def _caps_query(nvc, gpu_id: int, nv_codec: str, chroma: str, bit_depth: int) -> dict | None:
    """``GetDecoderCaps`` as a dict (cached per GPU and format), or None when this
    PyNvVideoCodec cannot answer."""
    key = (id(nvc), gpu_id, nv_codec, chroma, bit_depth)
    if key not in _caps_cache:
        _caps_cache[key] = _caps_uncached(nvc, gpu_id, nv_codec, chroma, bit_depth)
    return _caps_cache[key]


def _caps_uncached(nvc, gpu_id: int, nv_codec: str, chroma: str, bit_depth: int) -> dict | None:
    try:
        codec = getattr(nvc.cudaVideoCodec, nv_codec)
        chroma_enum = getattr(nvc.cudaVideoChromaFormat, f"_{chroma}", None) or getattr(
            nvc.cudaVideoChromaFormat, chroma
        )
        caps = nvc.GetDecoderCaps(
            gpuid=gpu_id, codec=codec, chromaformat=chroma_enum, bitdepth=bit_depth
        )
    except Exception as exc:  # API differences between versions: fall back to the table
        log.debug("GetDecoderCaps(%s, %s, %d) failed: %s", nv_codec, chroma, bit_depth, exc)
        return None
    return dict(caps) if caps is not None else None


def engine_count(device: int = 0) -> int:
    """NVDEC engines of GPU ``device``: GetDecoderCaps, else the name table, else 2."""
    try:
        nvc = nvdec_module()
        caps = _caps_query(nvc, device, "H264", "420", 8)
        if caps and int(caps.get("num_decoder_engines", 0) or 0) > 0:
            return int(caps["num_decoder_engines"])
    except NvdecUnavailableError:
        pass
    if torch.cuda.is_available():
        count = engines_for_name(torch.cuda.get_device_name(device))
        if count:
            return count
    return DEFAULT_ENGINES


# ------------------------------------------------------------------------------ indices


def plan_indices(indices, length: int, path: str = "<video>") -> tuple[list[int], list[int]]:
    """``(distinct, rows)``: the sorted distinct frames to decode, and for every requested
    index its row in ``distinct``. Negative indices count from the end (as decord); any index
    outside ``[-length, length)`` raises ``FrameIndexError``; non-integers raise ``TypeError``.
    """
    if isinstance(indices, torch.Tensor):
        indices = indices.cpu().numpy()
    idx = np.asarray(indices).reshape(-1)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"{path}: frame indices must be integers, got {idx.dtype}")
    idx = idx.astype(np.int64)
    idx = np.where(idx < 0, idx + length, idx)
    bad = idx[(idx < 0) | (idx >= length)]
    if bad.size:
        raise FrameIndexError(path, f"frame index {int(bad[0])} out of range for {length} frames")
    distinct = sorted(set(idx.tolist()))
    row = {k: j for j, k in enumerate(distinct)}
    return distinct, [row[i] for i in idx.tolist()]


def pts_agree(decoded: Sequence[int | None], expected: Sequence[int]) -> bool:
    """Do NVDEC's frames carry exactly the CPU index's pts? Exact on purpose: in a constant
    frame-rate clip, frames off by one are off by one constant shift, so a shift cannot be
    forgiven. Missing pts never agree."""
    if len(decoded) != len(expected) or any(p is None for p in decoded):
        return False
    return all(int(d) == int(e) for d, e in zip(decoded, expected))


# ------------------------------------------------------------------------- surfaces


def _plain(t: torch.Tensor) -> torch.Tensor:
    """Drop a channel dim of 1 (``[H, W, 1]`` planes) or a batch dim of 1 (``[1, H, W]``)."""
    if t.dim() == 3 and t.shape[-1] == 1:
        return t[..., 0]
    if t.dim() == 3 and t.shape[0] == 1:
        return t[0]
    return t


def interleaved_chroma(plane: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A UV plane as ``[ceil(H/2), ceil(W/2), 2]`` (a view, pitch kept), from ``[h, w, 2]``,
    ``[h, 2w]`` or ``[h, 2w, 1]``."""
    ch, cw = (height + 1) // 2, (width + 1) // 2
    if plane.dim() == 3 and plane.shape[-1] == 2:
        if plane.shape[0] < ch or plane.shape[1] < cw:
            raise ValueError(f"chroma plane {tuple(plane.shape)} is smaller than {ch}x{cw}x2")
        return plane[:ch, :cw]
    plane = _plain(plane)
    if plane.dim() != 2 or plane.shape[0] < ch or plane.shape[1] < 2 * cw:
        raise ValueError(
            f"chroma plane {tuple(plane.shape)} cannot hold {ch} rows of {cw} UV pairs"
        )
    s0, s1 = plane.stride()
    return plane.as_strided((ch, cw, 2), (s0, 2 * s1, s1), plane.storage_offset())


def split_planes(
    luma: torch.Tensor, chroma: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two plane tensors (``__cuda_array_interface__`` views) -> ``([H, W], [H/2, W/2, 2])``."""
    y = _plain(luma)
    if y.dim() != 2 or y.shape[0] < height or y.shape[1] < width:
        raise ValueError(f"luma plane {tuple(luma.shape)} is smaller than {height}x{width}")
    return y[:height, :width], interleaved_chroma(chroma, height, width)


def split_packed(
    surface: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One NV12/P016 surface ``[rows, >=W]`` (luma rows, then the UV rows, same pitch) ->
    ``([H, W], [H/2, W/2, 2])`` views. The luma plane may be taller than ``H`` (coded height,
    e.g. 1088 for 1080): it is ``2/3`` of the rows."""
    s = _plain(surface)
    if s.dim() != 2:
        raise ValueError(f"an NV12/P016 surface must be 2-D, got {tuple(surface.shape)}")
    rows = int(s.shape[0])
    luma_rows = (2 * rows) // 3 if (2 * rows) % 3 == 0 else height
    ch = (height + 1) // 2
    if luma_rows < height or rows - luma_rows < ch or s.shape[1] < width:
        raise ValueError(
            f"surface {tuple(surface.shape)} cannot hold a {height}x{width} NV12/P016 frame"
        )
    return s[:height, :width], interleaved_chroma(s[luma_rows:], height, width)


def frame_planes(frame, height: int, width: int, device: torch.device):
    """Zero-copy ``(luma, chroma)`` torch views of one decoded NATIVE frame (NV12 or P016).

    ``torch.from_dlpack(frame)`` is preferred: PyNvVideoCodec's ``__dlpack__(stream)`` makes the
    consumer's current stream wait for the decoder's copy-out. Frames also expose one
    ``__cuda_array_interface__`` view per plane through ``cuda()``; those are the fallback.
    """
    try:
        return split_packed(torch.from_dlpack(frame), height, width)
    except (RuntimeError, TypeError, ValueError, BufferError) as exc:
        dlpack_error = exc
    planes = list(frame.cuda()) if callable(getattr(frame, "cuda", None)) else []
    if len(planes) != 2:
        raise ValueError(
            f"cannot view this frame as NV12/P016: DLPack failed ({dlpack_error}) and cuda() "
            f"gave {len(planes)} planes"
        )
    with torch.cuda.device(device):
        # These views carry no producer stream to wait on: wait for the device (fallback only).
        torch.cuda.synchronize(device)
        luma = torch.as_tensor(planes[0], device=device)
        chroma = torch.as_tensor(planes[1], device=device)
    return split_planes(luma, chroma, height, width)


# ---------------------------------------------------------------------------- the pool


class DecoderPool:
    """At most ``size`` decoders for one GPU, handed out one per caller and reconfigured to the
    caller's source when reused.

    ``factory(source)`` makes a decoder already on ``source`` (``SimpleDecoder``); a reused
    decoder gets ``decoder.reconfigure_decoder(source)``. A decoder whose use raised is dropped
    (its state is unknown) and its slot freed. Thread-safe; ``acquire`` blocks while all
    ``size`` decoders are busy.
    """

    def __init__(self, factory: Callable[[Any], Any], size: int):
        if size < 1:
            raise ValueError(f"size must be >= 1, got size={size}")
        self.factory = factory
        self.size = int(size)
        self._idle: list[Any] = []
        self._live = 0
        self._cond = threading.Condition()
        self.created = 0
        self.reconfigured = 0
        self.dropped = 0

    @property
    def live(self) -> int:
        """Decoders that exist now (idle or in use)."""
        return self._live

    @property
    def idle(self) -> int:
        return len(self._idle)

    def _take(self) -> Any | None:
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._live < self.size:
                    self._live += 1
                    return None  # the caller creates one in this slot
                self._cond.wait()

    def _give_back(self, decoder: Any | None) -> None:
        with self._cond:
            if decoder is None:
                self._live -= 1
                self.dropped += 1
            else:
                self._idle.append(decoder)
            self._cond.notify()

    @contextmanager
    def acquire(self, source: Any):
        """``with pool.acquire(path) as decoder:`` a decoder positioned on ``source``."""
        decoder = self._take()
        try:
            if decoder is None:
                decoder = self.factory(source)
                with self._cond:
                    self.created += 1
            else:
                decoder.reconfigure_decoder(source)
                with self._cond:
                    self.reconfigured += 1
        except BaseException:
            self._give_back(None)
            raise
        try:
            yield decoder
        except BaseException:
            self._give_back(None)
            raise
        self._give_back(decoder)

    def close(self) -> None:
        """Drop the idle decoders (busy ones stay with their users and come back as idle)."""
        with self._cond:
            self._live -= len(self._idle)
            self._idle.clear()


_pools: dict[int, DecoderPool] = {}
_pools_lock = threading.Lock()


def decoder_pool(device: int = 0, size: int | None = None) -> DecoderPool:
    """The process-wide pool of ``SimpleDecoder``s for GPU ``device`` (NATIVE output, device
    memory), sized to its NVDEC engine count unless ``size`` is given on first use."""
    with _pools_lock:
        pool = _pools.get(device)
        if pool is None:
            nvc = nvdec_module()

            def factory(source):
                return nvc.SimpleDecoder(
                    source,
                    gpu_id=device,
                    use_device_memory=True,
                    output_color_type=nvc.OutputColorType.NATIVE,
                )

            pool = DecoderPool(factory, size or engine_count(device))
            _pools[device] = pool
        return pool


# -------------------------------------------------------------------------- the reader

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(key: str, message: str) -> None:
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("%s", message)


def _cuda_device(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type != "cuda":
        raise ValueError(f"NvdecVideoReader needs a CUDA device, got device={device!r}")
    if not torch.cuda.is_available():
        raise NvdecUnavailableError(
            f"device={device!r} asked for NVDEC decoding but torch sees no CUDA device "
            f"(torch {torch.__version__}, torch.version.cuda={torch.version.cuda})"
        )
    if dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def _stream_of(reader: VideoReader):
    """The PyAV stream of the CPU reader (its index and the colour tags come from it)."""
    return reader._stream


def _capability(device: torch.device) -> tuple[int, int] | None:
    try:
        return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]
    except Exception:
        return None


class NvdecVideoReader:
    """``VideoReader``'s interface, decoding on NVDEC; frames are CUDA tensors.

    Args:
        source: a path (or the file's bytes / a binary file, as ``VideoReader``).
        device: the CUDA device whose NVDEC engines decode.
        num_threads: threads of the CPU reader used for indexing and the fallback.
        pool: the decoder pool (default: ``decoder_pool(device)``).

    ``get_batch(indices)`` returns uint8 ``[N, H, W, 3]`` RGB on ``device``, converted from the
    decoder's NV12/P016 with the matrix and range the stream declares, on the current stream.
    ``get_batch_resized`` is the fused path (YUV -> resize -> crop -> normalise in one kernel).
    ``on_gpu`` is False when the CPU reader serves this file, and ``fallback_reason`` says why.
    """

    def __init__(
        self,
        source: Source,
        device: str | torch.device = "cuda",
        *,
        num_threads: int = 0,
        pool: DecoderPool | None = None,
    ):
        self.device = _cuda_device(device)
        self._cpu = VideoReader(source, num_threads=num_threads)
        self.path = self._cpu.path
        self._source = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        self._spill = None
        if self._source is None and isinstance(source, (bytes, bytearray, memoryview)):
            # SimpleDecoder.reconfigure_decoder takes a path only: bytes (a shard member) go to
            # a file in shared memory so that pooled decoders can be pointed at them.
            self._spill = _spill_to_file(source)
            self._source = self._spill
        self.format = stream_format_of(_stream_of(self._cpu))
        self.fallback_reason = ""
        self._pool = pool
        ok, reason = self._decide()
        if not ok:
            self._fall_back(reason)

    # ---- decisions

    def _decide(self) -> tuple[bool, str]:
        if self._source is None:
            return False, "file objects are read on the CPU (pass a path or the bytes)"
        if getattr(self._cpu, "_pts", None) is None:
            return False, "the stream has no usable timestamps: frame numbering needs the CPU"
        nvc = nvdec_module()  # missing driver libraries: the one clear error, not a fallback
        caps = None
        nv = self.format.nv_codec
        if nv in GPU_CODECS and self.format.chroma in ("420", "444"):
            caps = _caps_query(
                nvc, self.device.index, nv, self.format.chroma, self.format.bit_depth
            )
        return gpu_decision(self.format, _capability(self.device), caps)

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        key = reason.split(":")[0] if "NVDEC decoding needs" not in reason else "unavailable"
        _warn_once(key, f"{self.path}: reading on the CPU ({reason}); said once per reason")

    @property
    def on_gpu(self) -> bool:
        return not self.fallback_reason

    def _get_pool(self) -> DecoderPool:
        if self._pool is None:
            self._pool = decoder_pool(self.device.index)
        return self._pool

    # ---- decoding

    def _with_yuv(self, distinct: list[int], consume: Callable[[list, list], Any]) -> Any:
        """Decode ``distinct`` on NVDEC and run ``consume(lumas, chromas)`` on the views while
        the decoder is held; returns its result once the GPU has finished reading the views.
        Raises ``_NumberingMismatch`` when NVDEC's frames are not the CPU index's."""
        expected_pts = [self._cpu._pts[i] for i in distinct]
        h, w = self._cpu.height, self._cpu.width
        with self._get_pool().acquire(self._source) as decoder:
            if len(decoder) != len(self._cpu):
                raise _NumberingMismatch(
                    f"NVDEC sees {len(decoder)} frames, the CPU index {len(self._cpu)}"
                )
            with _held_views(self.device):
                frames = decoder.get_batch_frames_by_index(distinct)
                if len(frames) != len(distinct):
                    raise _NumberingMismatch(f"asked {len(distinct)} frames, got {len(frames)}")
                got_pts = [_frame_pts(f) for f in frames]
                if not pts_agree(got_pts, expected_pts):
                    raise _NumberingMismatch(
                        f"NVDEC frame timestamps {got_pts[:4]} differ from the index's "
                        f"{expected_pts[:4]}"
                    )
                planes = [frame_planes(f, h, w, self.device) for f in frames]
                result = consume([p[0] for p in planes], [p[1] for p in planes])
        return result

    def _gpu_or_cpu(self, distinct: list[int], consume, on_cpu: Callable[[], Any]) -> Any:
        if self.on_gpu:
            try:
                return self._with_yuv(distinct, consume)
            except _NumberingMismatch as exc:
                self._fall_back(f"NVDEC frame numbering differs from the CPU reader: {exc}")
        return on_cpu()

    def get_batch(self, indices) -> torch.Tensor:
        """Frames ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]`` on the GPU."""
        distinct, rows = plan_indices(indices, len(self), self.path)
        if not distinct:
            return torch.empty(
                (0, self.height, self.width, 3), dtype=torch.uint8, device=self.device
            )
        fmt = self.format

        def consume(lumas, chromas):
            from pyvidfast.transform import yuv_to_rgb

            return yuv_to_rgb(lumas, chromas, matrix=fmt.matrix, full_range=fmt.full_range)

        def on_cpu():
            return self._cpu.get_batch(distinct).to(self.device, non_blocking=True)

        out = self._gpu_or_cpu(distinct, consume, on_cpu)
        if rows == list(range(len(distinct))):
            return out
        return out.index_select(0, torch.tensor(rows, device=out.device))

    def get_batch_yuv(self, indices) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Frames ``indices`` as ``(luma, chroma)`` lists of owned CUDA tensors (NV12: uint8,
        P016: uint16 with the sample in the high bits), with the repeats as repeated entries.
        Copies each distinct surface once on the device (the decoder's buffers are reused);
        use ``get_batch_resized`` for the copy-free fused path. Raises ``NvdecUnavailableError``
        when this file is read on the CPU."""
        distinct, rows = plan_indices(indices, len(self), self.path)
        if not self.on_gpu:
            raise NvdecUnavailableError(f"{self.path}: read on the CPU ({self.fallback_reason})")

        def consume(lumas, chromas):
            return [y.clone() for y in lumas], [c.clone() for c in chromas]

        def on_cpu():
            raise NvdecUnavailableError(f"{self.path}: read on the CPU ({self.fallback_reason})")

        if not distinct:
            return [], []
        lumas, chromas = self._gpu_or_cpu(distinct, consume, on_cpu)
        return [lumas[r] for r in rows], [chromas[r] for r in rows]

    def get_batch_resized(
        self,
        indices,
        size: tuple[int, int],
        *,
        out_dtype: torch.dtype = torch.bfloat16,
        layout: str = "TCHW",
        crop: str | tuple[int, int] = "center",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``resize_crop_normalize(get_batch(indices), size, ...)`` computed from the decoder's
        YUV in one kernel (``yuv_resize_crop_normalize``); each distinct frame once. On the CPU
        fallback: CPU decode, then the CUDA resize kernel on the uploaded RGB."""
        distinct, rows = plan_indices(indices, len(self), self.path)
        fmt = self.format

        def consume(lumas, chromas):
            from pyvidfast.transform import yuv_resize_crop_normalize

            return yuv_resize_crop_normalize(
                lumas,
                chromas,
                size,
                matrix=fmt.matrix,
                full_range=fmt.full_range,
                crop=crop,
                out_dtype=out_dtype,
                layout=layout,
                generator=generator,
            )

        def on_cpu():
            from pyvidfast.transform import resize_crop_normalize

            rgb = self._cpu.get_batch(distinct).to(self.device, non_blocking=True)
            return resize_crop_normalize(
                rgb, size, crop=crop, out_dtype=out_dtype, layout=layout, generator=generator
            )

        if not distinct:
            raise FrameIndexError(self.path, "no frame indices given")
        out = self._gpu_or_cpu(distinct, consume, on_cpu)
        if rows == list(range(len(distinct))):
            return out
        return out.index_select(0 if layout == "TCHW" else 1, torch.tensor(rows, device=out.device))

    # ---- VideoReader's interface

    def __len__(self) -> int:
        return len(self._cpu)

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

    @property
    def width(self) -> int:
        return self._cpu.width

    @property
    def height(self) -> int:
        return self._cpu.height

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return self._cpu.frame_shape

    @property
    def rotation(self) -> int:
        return self._cpu.rotation

    @property
    def sample_aspect_ratio(self):
        return self._cpu.sample_aspect_ratio

    @property
    def codec(self) -> str:
        return self._cpu.codec

    def close(self) -> None:
        self._cpu.close()
        if self._spill is not None:
            try:
                os.unlink(self._spill)
            except OSError:
                pass
            self._spill = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> NvdecVideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "nvdec" if self.on_gpu else f"cpu fallback: {self.fallback_reason}"
        return f"NvdecVideoReader({self.path!r}, frames={len(self)}, {self.device}, {where})"


@contextmanager
def _held_views(device: torch.device):
    """While the decoder is held: its device is current, and on exit the host waits for the
    work queued on the current stream (the kernels reading the decoder's buffers), because the
    decoder may overwrite them once it is given back. Nothing to wait for on the CPU."""
    if device.type != "cuda":
        yield
        return
    with torch.cuda.device(device):
        yield
        done = torch.cuda.Event()
        done.record(torch.cuda.current_stream(device))
        done.synchronize()


def _spill_to_file(data: bytes | bytearray | memoryview) -> str:
    """Write ``data`` to a private file in /dev/shm (else the temp dir); returns its path."""
    import tempfile

    folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    fd, path = tempfile.mkstemp(prefix="pyvidfast-nvdec-", suffix=".bin", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


class _NumberingMismatch(Exception):
    """NVDEC's frames are not the CPU index's frames (internal; triggers the CPU fallback)."""


def _frame_pts(frame) -> int | None:
    get = getattr(frame, "getPTS", None)
    if get is None:
        return None
    try:
        return int(get())
    except Exception:
        return None


def open_reader(source: Source, device: str | torch.device = "cpu", **kwargs: Any):
    """``VideoReader`` for ``device="cpu"``, ``NvdecVideoReader`` for a CUDA device."""
    if torch.device(device).type == "cuda":
        return NvdecVideoReader(source, device, **kwargs)
    return VideoReader(source, **kwargs)

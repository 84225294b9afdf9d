"""GPU or CPU, decided from NVDEC's decoder caps before any decoder is made.

Note [measured caps]
    ``GetDecoderCaps`` on an H200 (driver 580.159, PyNvVideoCodec 2.2.4; ../shared/gpu/README.md):
    H.264 4:2:0 8-bit from 48x16 to 4096x4096; HEVC 4:2:0 8/10-bit from 144x144 to 8192x8192;
    VP9 4:2:0 8-bit from 128x128 (to 8192x8192); no AV1 decoder on Hopper, nor on A100 (GA100).
    Outside these limits ``cuvidDecodePicture`` returned error 1 and no frame (a 161x121 VP9, a
    128x128 HEVC), so such files must go to the CPU before a decoder is made. ``MEASURED_CAPS``
    is that table; a live ``GetDecoderCaps`` answer, when there is one, wins over it.

Every reason names the codec and the limit (``AV1: no NVDEC support on this GPU``,
``HEVC: 128x128 is below the NVDEC minimum 144x144``): it is what a user reads in the log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from pyvidfast.io.nvdec.library import NvdecUnavailableError, nvdec_module
from pyvidfast.io.stream_format import StreamFormat

__all__ = [
    "MEASURED_CAPS",
    "NO_AV1_CAPABILITIES",
    "CodecLimits",
    "Decision",
    "engine_count",
    "engines_for_name",
    "gpu_decision",
    "query_caps",
]

log = logging.getLogger("pyvidfast.io.nvdec")

# The codecs the reader and the checker send to NVDEC (the others have NVDEC decoders but are
# not part of the measured set: CPU).
GPU_CODECS = frozenset({"H264", "HEVC", "VP9", "AV1"})
# NVDEC generations without an AV1 decoder, by CUDA compute capability: GA100 and GH100.
NO_AV1_CAPABILITIES = frozenset({(8, 0), (9, 0)})
GPU_MATRICES = ("bt601", "bt709", "bt2020")  # what pyvidfast.transform converts
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


@dataclass(frozen=True)
class CodecLimits:
    """What NVDEC decodes of one codec: bit depths, 4:2:0 only, and the coded size range."""

    bit_depths: tuple[int, ...]
    min_size: tuple[int, int]  # (width, height)
    max_size: tuple[int, int]


# Note [measured caps]. AV1 has no entry: on the measured GPUs there is no decoder at all.
MEASURED_CAPS = {
    "H264": CodecLimits((8,), (48, 16), (4096, 4096)),
    "HEVC": CodecLimits((8, 10), (144, 144), (8192, 8192)),
    "VP9": CodecLimits((8,), (128, 128), (8192, 8192)),
}
# AV1 on the GPUs that have it (Ampere GA10x, Ada): NVIDIA's NVDEC support matrix, not measured.
AV1_LIMITS = CodecLimits((8, 10), (128, 128), (8192, 8192))


# ``GetDecoderCaps``' answer as a dict: field name (``num_decoder_engines``, ``width_max``, ...)
# -> value (PyNvVideoCodec is untyped)
DecoderCaps = dict[str, Any]


class Decision(NamedTuple):
    """``(ok, reason)``: may NVDEC decode this stream here; the reason says why not."""

    ok: bool
    reason: str


def _limits_from_caps(caps: DecoderCaps, depth: int) -> CodecLimits | None:
    """``GetDecoderCaps``' answer as ``CodecLimits`` (None when it reports no decoder)."""
    engines = int(caps.get("num_decoder_engines", 0) or 0)
    width_max = int(caps.get("width_max", 0) or 0)
    if engines <= 0 or width_max <= 0 or not caps.get("is_supported", True):
        return None
    return CodecLimits(
        (depth,),
        (int(caps.get("width_min", 0) or 0), int(caps.get("height_min", 0) or 0)),
        (width_max, int(caps.get("height_max", 0) or 0)),
    )


def _format_reason(fmt: StreamFormat, nv: str, for_pixels: bool) -> str:
    """Why the stream's format (not its size) rules NVDEC out; "" when it does not."""
    # The colour kernels take NV12/P016 (4:2:0); NVDEC itself also decodes HEVC 4:4:4.
    hevc_444 = nv == "HEVC" and fmt.chroma == "444"
    if fmt.chroma not in ("420", "?") and (for_pixels or not hevc_444):
        return f"{nv} {fmt.pix_fmt}: chroma {fmt.chroma} is not NV12/P016 (4:2:0)"
    if for_pixels and fmt.matrix not in GPU_MATRICES:
        return f"{nv}: colour matrix {fmt.matrix} is converted on the CPU"
    return ""


def _size_reason(nv: str, fmt: StreamFormat, limits: CodecLimits) -> str:
    if fmt.bit_depth not in limits.bit_depths:
        depths = "/".join(str(d) for d in limits.bit_depths)
        return f"{nv}: {fmt.bit_depth}-bit is not decoded by NVDEC here ({depths}-bit only)"
    (wmin, hmin), (wmax, hmax) = limits.min_size, limits.max_size
    size = f"{fmt.width}x{fmt.height}"
    if fmt.width and (fmt.width < wmin or fmt.height < hmin):
        return f"{nv}: {size} is below the NVDEC minimum {wmin}x{hmin}"
    if fmt.width > wmax or fmt.height > hmax:
        return f"{nv}: {size} is above the NVDEC maximum {wmax}x{hmax}"
    return ""


def gpu_decision(
    fmt: StreamFormat,
    capability: tuple[int, int] | None = None,
    caps: DecoderCaps | None = None,
    *,
    for_pixels: bool = True,
) -> Decision:
    """Can NVDEC decode this stream on a GPU of compute ``capability``?

    ``caps`` is ``GetDecoderCaps(...)`` for this codec, chroma and bit depth when it could be
    queried (it wins over ``MEASURED_CAPS``). With ``for_pixels`` the colour kernels must also
    take the surface (4:2:0, BT.601/709/2020); the integrity checker only needs the decode.
    """
    nv = fmt.nv_codec
    if nv is None or nv not in GPU_CODECS:
        return Decision(False, f"{fmt.codec}: not decoded on NVDEC here")
    reason = _format_reason(fmt, nv, for_pixels)
    if reason:
        return Decision(False, reason)
    if caps is not None:
        limits = _limits_from_caps(caps, fmt.bit_depth)
        if limits is None:
            return Decision(
                False, f"{nv} {fmt.bit_depth}-bit: GetDecoderCaps reports no NVDEC support"
            )
    elif nv == "AV1":
        if capability is None or capability in NO_AV1_CAPABILITIES:
            return Decision(False, "AV1: no NVDEC support on this GPU")
        limits = AV1_LIMITS
    else:
        limits = MEASURED_CAPS[nv]
    reason = _size_reason(nv, fmt, limits)
    return Decision(not reason, reason)


def engines_for_name(name: str) -> int | None:
    """NVDEC engine count from the GPU's name (``ENGINES_BY_NAME``), None when unknown."""
    tokens = set(re.split(r"[^A-Z0-9]+", name.upper()))
    for key, count in ENGINES_BY_NAME:
        if key in tokens:
            return count
    return None


# (id of the module, GPU, codec, chroma, bit depth) -> caps
_caps_cache: dict[tuple[int, int, str, str, int], DecoderCaps | None] = {}


def query_caps(
    nvc: Any, gpu_id: int, nv_codec: str, chroma: str, bit_depth: int
) -> DecoderCaps | None:
    """``GetDecoderCaps`` as a dict (cached per GPU and format), or None when this
    PyNvVideoCodec cannot answer (then ``MEASURED_CAPS`` decides)."""
    key = (id(nvc), gpu_id, nv_codec, chroma, bit_depth)
    if key not in _caps_cache:
        _caps_cache[key] = _caps_uncached(nvc, gpu_id, nv_codec, chroma, bit_depth)
    return _caps_cache[key]


def _caps_uncached(
    nvc: Any, gpu_id: int, nv_codec: str, chroma: str, bit_depth: int
) -> DecoderCaps | None:
    try:
        codec = getattr(nvc.cudaVideoCodec, nv_codec)
        chroma_enum = getattr(nvc.cudaVideoChromaFormat, f"_{chroma}", None) or getattr(
            nvc.cudaVideoChromaFormat, chroma
        )
        caps = nvc.GetDecoderCaps(
            gpuid=gpu_id, codec=codec, chromaformat=chroma_enum, bitdepth=bit_depth
        )
    except Exception as exc:  # API differences between versions: the measured table decides
        log.debug("GetDecoderCaps(%s, %s, %d) failed: %s", nv_codec, chroma, bit_depth, exc)
        return None
    return dict(caps) if caps is not None else None


def engine_count(device: int = 0) -> int:
    """NVDEC engines of GPU ``device``: GetDecoderCaps, else the name table, else 2."""
    try:
        caps = query_caps(nvdec_module(), device, "H264", "420", 8)
        if caps and int(caps.get("num_decoder_engines", 0) or 0) > 0:
            return int(caps["num_decoder_engines"])
    except NvdecUnavailableError:
        pass
    if torch.cuda.is_available():
        count = engines_for_name(torch.cuda.get_device_name(device))
        if count:
            return count
    return DEFAULT_ENGINES

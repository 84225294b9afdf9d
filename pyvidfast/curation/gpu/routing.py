"""Which files NVDEC takes: the decoder caps of this GPU, asked once per format and process.

A stream goes to NVDEC only when ``gpu_decision`` (io/nvdec.py: codec, chroma, bit depth, AV1 per
GPU generation) says yes and ``GetDecoderCaps`` puts its size within the decoder's limits; the
H200 refused a 161x121 VP9 (minimum 128x128) and a 128x128 HEVC (minimum 144x144) with error 1
and no frame (gpu/README.md). Everything else is checked on the CPU, in the same run.
"""

from __future__ import annotations

from typing import Any

from pyvidfast.io.nvdec import StreamFormat, gpu_decision

__all__ = ["CapsTable", "nvdec_decision"]


def nvdec_decision(
    fmt: StreamFormat, caps: dict | None, capability: tuple[int, int] | None = None
) -> tuple[bool, str]:
    """``(ok, reason)``: can NVDEC decode this stream on this GPU? Both minimums are checked
    (``gpu_decision`` compares the width only)."""
    ok, reason = gpu_decision(fmt, capability, caps, for_pixels=False)
    if ok and caps is not None:
        min_w = int(caps.get("width_min", 0) or 0)
        min_h = int(caps.get("height_min", 0) or 0)
        if fmt.width < min_w or fmt.height < min_h:
            return False, (
                f"{fmt.codec} {fmt.width}x{fmt.height} is below NVDEC's minimum {min_w}x{min_h}"
            )
    return ok, reason


class CapsTable:
    """``GetDecoderCaps`` answers of GPU ``gpu_id`` per (codec, chroma, bit depth), asked once.

    None for a format means the library could not answer; ``gpu_decision`` then uses its table.
    """

    def __init__(self, nvc: Any, gpu_id: int = 0, capability: tuple[int, int] | None = None):
        self.nvc = nvc
        self.gpu_id = gpu_id
        self.capability = capability
        self._known: dict[tuple[str, str, int], dict | None] = {}

    def caps(self, fmt: StreamFormat) -> dict | None:
        if fmt.nv_codec is None:
            return None
        key = (fmt.nv_codec, fmt.chroma, fmt.bit_depth)
        if key not in self._known:
            self._known[key] = self._ask(*key)
        return self._known[key]

    def _ask(self, nv_codec: str, chroma: str, bit_depth: int) -> dict | None:
        nvc = self.nvc
        try:
            codec = getattr(nvc.cudaVideoCodec, nv_codec)
            formats = nvc.cudaVideoChromaFormat
            chroma_enum = getattr(formats, f"_{chroma}", None) or getattr(formats, chroma)
            caps = nvc.GetDecoderCaps(
                gpuid=self.gpu_id, codec=codec, chromaformat=chroma_enum, bitdepth=bit_depth
            )
        except (AttributeError, TypeError, RuntimeError, ValueError):
            return None  # an older PyNvVideoCodec, or a format it has no enum for
        return dict(caps) if caps is not None else None

    def decide(self, fmt: StreamFormat) -> tuple[bool, str]:
        return nvdec_decision(fmt, self.caps(fmt), self.capability)

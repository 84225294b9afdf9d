"""HEVC sequence parameter sets: the picture size they declare.

``picture_size(sps)`` reads one SPS NAL unit (ITU-T H.265 7.3.2.2.1) up to its conformance
window and gives the size of the frames FFmpeg's decoder outputs for it (``ff_hevc_parse_sps``:
the luma samples less the window; FFmpeg ignores the VUI's default display window unless
asked). None where FFmpeg may give another size: a left or top offset, which it may narrow to
keep planes aligned, or a window it rejects (docs/notes.md, Note [header size]).
"""

from __future__ import annotations

from pyvidfast.io.bitstream.bits import BitReader
from pyvidfast.io.bitstream.h264_sps import rbsp

_SPS = 33
_SUB_WIDTH = (1, 2, 2, 1)  # by chroma_format_idc (0 also for separate colour planes)
_SUB_HEIGHT = (1, 2, 1, 1)
_PROFILE_BITS = 2 + 1 + 5 + 32 + 4 + 43 + 1  # general/sub-layer profile fields, no level


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if nal else -1


def _profile_tier_level(r: BitReader, sub_layers: int) -> None:
    r.u(_PROFILE_BITS + 8)  # general profile, general_level_idc
    present = [(r.u(1), r.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        r.u(2 * (8 - sub_layers))  # reserved_zero_2bits
    for profile, level in present:
        if profile:
            r.u(_PROFILE_BITS)
        if level:
            r.u(8)


def picture_size(nal: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of the frames FFmpeg decodes for an SPS NAL unit of the base layer,
    or None (see the module's docstring)."""
    if nal_type(nal) != _SPS or len(nal) < 3 or (nal[0] & 1) or (nal[1] >> 3):
        return None  # not an SPS, or one of another layer (nuh_layer_id > 0)
    r = BitReader(rbsp(nal, 2))
    try:
        r.u(4)  # sps_video_parameter_set_id
        sub_layers = r.u(3)
        r.u(1)
        _profile_tier_level(r, sub_layers)
        r.ue()  # sps_seq_parameter_set_id
        chroma = r.ue()
        if chroma > 3:
            return None
        if chroma == 3 and r.u(1):  # separate_colour_plane_flag
            chroma = 0
        width, height = r.ue(), r.ue()
        window = tuple(r.ue() for _ in range(4)) if r.u(1) else (0, 0, 0, 0)
    except EOFError:
        return None
    left, right, top, bottom = window
    right, bottom = right * _SUB_WIDTH[chroma], bottom * _SUB_HEIGHT[chroma]
    if left or top or not 0 < width - right or not 0 < height - bottom:
        return None
    return width - right, height - bottom


def hvcc_parameter_sets(hvcc: bytes) -> list[bytes]:
    """The SPS NAL units of an ``hvcC`` payload (HEVCDecoderConfigurationRecord)."""
    if len(hvcc) < 23:
        return []
    out, pos = [], 23
    for _ in range(hvcc[22]):
        if pos + 3 > len(hvcc):
            return []
        kind, count = hvcc[pos] & 0x3F, int.from_bytes(hvcc[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            if pos + 2 > len(hvcc):
                return []
            size = int.from_bytes(hvcc[pos : pos + 2], "big")
            if kind == _SPS:
                out.append(bytes(hvcc[pos + 2 : pos + 2 + size]))
            pos += 2 + size
    return out

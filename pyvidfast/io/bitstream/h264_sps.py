"""H.264 sequence parameter sets: the reorder depth and the picture size they declare.

``reorder_declared(sps)`` reads one SPS NAL unit (ITU-T H.264 7.3.2.1.1 and E.1.1) far enough to
find ``bitstream_restriction_flag`` and ``max_num_reorder_frames``. FFmpeg's decoder grows its
reorder buffer by a POC heuristic only when that flag is absent ("Increasing reorder buffer",
``h264_select_output_frame``); with it, the depth found when the file is opened holds for the
whole stream, which ``pyvidfast.io.probe`` relies on (Note [first bad NAL]).

``picture_size(sps)`` is the size of the frames FFmpeg's decoder gives for that SPS: the
macroblocks less the cropping (``ff_h264_decode_seq_parameter_set``); None where FFmpeg may
give another size (a left or top crop, which it may narrow to keep planes aligned; crop values
it rejects), so the caller asks the decoder instead (docs/notes.md, Note [header size]).
"""

from __future__ import annotations

from pyvidfast.io.bitstream.bits import BitReader

_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_EXTENDED_SAR = 255


def rbsp(nal: bytes, header: int = 1) -> bytes:
    """The NAL unit's payload without its ``header`` bytes (HEVC: 2) and emulation prevention
    bytes."""
    return nal[header:].replace(b"\x00\x00\x03", b"\x00\x00")


def _scaling_lists(r: BitReader, count: int) -> None:
    for i in range(count):
        if r.u(1):  # seq_scaling_list_present_flag
            last = nxt = 8
            for _ in range(16 if i < 6 else 64):
                if nxt:
                    nxt = (last + r.se() + 256) % 256
                last = nxt or last


def _hrd(r: BitReader) -> None:
    cpb_count = r.ue() + 1
    r.u(4 + 4)  # bit_rate_scale, cpb_size_scale
    for _ in range(cpb_count):
        r.ue()
        r.ue()
        r.u(1)
    r.u(5 + 5 + 5 + 5)


def _vui_restriction(r: BitReader) -> int | None:
    """``max_num_reorder_frames`` when the VUI has a bitstream restriction, else None."""
    if r.u(1) and r.u(8) == _EXTENDED_SAR:  # aspect_ratio_info_present_flag, aspect_ratio_idc
        r.u(32)
    if r.u(1):  # overscan_info_present_flag
        r.u(1)
    if r.u(1):  # video_signal_type_present_flag
        r.u(3 + 1)
        if r.u(1):  # colour_description_present_flag
            r.u(24)
    if r.u(1):  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    if r.u(1):  # timing_info_present_flag
        r.u(32 + 32 + 1)
    hrd = False
    for _ in range(2):  # nal_hrd_parameters_present_flag, vcl_hrd_parameters_present_flag
        if r.u(1):
            _hrd(r)
            hrd = True
    if hrd:
        r.u(1)  # low_delay_hrd_flag
    r.u(1)  # pic_struct_present_flag
    if not r.u(1):  # bitstream_restriction_flag
        return None
    r.u(1)
    for _ in range(4):  # max_bytes_per_pic_denom .. log2_max_mv_length_vertical
        r.ue()
    return r.ue()  # max_num_reorder_frames


def _size_fields(r: BitReader) -> tuple[int, int, int, int, tuple[int, ...]]:
    """Reads an SPS RBSP up to its VUI flag: ``(chroma_format_idc, mb_width, map_units_high,
    frame_mbs_only_flag, (crop left, right, top, bottom) or ())``."""
    profile = r.u(8)
    r.u(16)  # constraint flags, level_idc
    r.ue()  # seq_parameter_set_id
    chroma = 1
    if profile in _HIGH_PROFILES:
        chroma = r.ue()
        if chroma == 3:
            r.u(1)
        r.ue()
        r.ue()
        r.u(1)
        if r.u(1):  # seq_scaling_matrix_present_flag
            _scaling_lists(r, 12 if chroma == 3 else 8)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.u(1)
    mb_width = r.ue() + 1
    map_units_high = r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    crop = tuple(r.ue() for _ in range(4)) if r.u(1) else ()  # frame_cropping_flag
    return chroma, mb_width, map_units_high, frame_mbs_only, crop


def reorder_declared(nal: bytes) -> int | None:
    """``max_num_reorder_frames`` of an SPS NAL unit that carries a bitstream restriction;
    None when it has none, or when the SPS cannot be read."""
    if not nal or nal[0] & 0x1F != 7:
        return None
    r = BitReader(rbsp(nal))
    try:
        _size_fields(r)
        return _vui_restriction(r) if r.u(1) else None
    except EOFError:
        return None


def picture_size(nal: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of the frames FFmpeg decodes for an SPS NAL unit, or None (see the
    module's docstring)."""
    if not nal or nal[0] & 0x1F != 7:
        return None
    try:
        chroma, mb_width, map_units_high, frame_mbs_only, crop = _size_fields(BitReader(rbsp(nal)))
    except EOFError:
        return None
    width, height = 16 * mb_width, 16 * map_units_high * (2 - frame_mbs_only)
    if not crop:
        return width, height
    left, right, top, bottom = crop
    step_x = 2 if chroma in (1, 2) else 1
    step_y = (2 - frame_mbs_only) * (2 if chroma == 1 else 1)
    if left or top or (left + right) * step_x >= width or (top + bottom) * step_y >= height:
        return None
    return width - right * step_x, height - bottom * step_y


def avcc_parameter_sets(avcc: bytes) -> list[bytes]:
    """The SPS NAL units of an ``avcC`` box payload (AVCDecoderConfigurationRecord)."""
    if len(avcc) < 6:
        return []
    out, pos = [], 6
    for _ in range(avcc[5] & 0x1F):
        if pos + 2 > len(avcc):
            return []
        size = int.from_bytes(avcc[pos : pos + 2], "big")
        out.append(bytes(avcc[pos + 2 : pos + 2 + size]))
        pos += 2 + size
    return out

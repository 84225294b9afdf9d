"""AV1: the size of the first decoded frame, from the sequence header and the first frame header.

A frame is ``max_frame_width_minus_1 + 1`` by ``max_frame_height_minus_1 + 1`` (the sequence
header's sizes) unless its header sets ``frame_size_override_flag`` (AV1 spec 5.5 and 5.9.2);
superres keeps that (upscaled) width, which is what dav1d, FFmpeg's AV1 decoder, outputs.
``av1_frame_size`` reads the headers up to that flag and answers only when it is 0; anything it
does not follow (an override, a shown existing frame, a header it cannot read) gives None.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyvidfast.io.bitstream.av1 import obus
from pyvidfast.io.bitstream.bits import BitReader

__all__ = ["av1_frame_size"]

_SEQUENCE_HEADER, _FRAME_HEADER, _FRAME = 1, 3, 6
_KEY, _SWITCH = 0, 3
_SELECT = 2  # SELECT_SCREEN_CONTENT_TOOLS, SELECT_INTEGER_MV


@dataclass
class _Sequence:
    size: tuple[int, int]
    reduced_still: bool
    frame_id_bits: int  # 0 without frame_id_numbers_present_flag
    screen_content: int  # seq_force_screen_content_tools
    integer_mv: int  # seq_force_integer_mv
    presentation_time_bits: int  # 0 unless a decoder model without equal_picture_interval


def _uvlc(r: BitReader) -> None:
    zeros = 0
    while not r.u(1):
        zeros += 1
        if zeros >= 32:
            return
    r.u(zeros)


def _sequence(payload: bytes) -> _Sequence:
    r = BitReader(payload)
    r.u(3 + 1)  # seq_profile, still_picture
    reduced = bool(r.u(1))
    model, presentation_bits = False, 0
    if reduced:
        r.u(5)  # seq_level_idx[0]
    else:
        equal_interval = False
        if r.u(1):  # timing_info_present_flag
            r.u(64)  # num_units_in_display_tick, time_scale
            equal_interval = bool(r.u(1))
            if equal_interval:
                _uvlc(r)
            model = bool(r.u(1))  # decoder_model_info_present_flag
            if model:
                delay_bits = r.u(5) + 1
                r.u(32 + 5)  # num_units_in_decoding_tick, buffer_removal_time_length_minus_1
                presentation = r.u(5) + 1
                presentation_bits = 0 if equal_interval else presentation
        initial_delay = r.u(1)
        for _ in range(r.u(5) + 1):  # operating points
            r.u(12)
            if r.u(5) > 7:  # seq_level_idx
                r.u(1)
            if model and r.u(1):  # decoder_model_present_for_this_op
                r.u(2 * delay_bits + 1)
            if initial_delay and r.u(1):
                r.u(4)
    width_bits, height_bits = r.u(4) + 1, r.u(4) + 1
    size = (r.u(width_bits) + 1, r.u(height_bits) + 1)
    id_bits = 0
    if not reduced and r.u(1):  # frame_id_numbers_present_flag
        delta = r.u(4) + 2
        id_bits = r.u(3) + 1 + delta
    screen, integer = _SELECT, _SELECT
    r.u(3)  # use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if not reduced:
        r.u(4)  # interintra, masked compound, warped motion, dual filter
        if r.u(1):  # enable_order_hint
            r.u(2)
        if not r.u(1):  # seq_choose_screen_content_tools
            screen = r.u(1)
        if screen > 0 and not r.u(1):  # seq_choose_integer_mv
            integer = r.u(1)
    return _Sequence(size, reduced, id_bits, screen, integer, presentation_bits)


def _size_not_overridden(seq: _Sequence, payload: bytes) -> bool:
    """Reads a frame header up to ``frame_size_override_flag`` (5.9.2): True when it is 0."""
    if seq.reduced_still:
        return True
    r = BitReader(payload)
    if r.u(1):  # show_existing_frame
        return False
    frame_type = r.u(2)
    show = r.u(1)
    if show and seq.presentation_time_bits:
        r.u(seq.presentation_time_bits)
    if not show:
        r.u(1)  # showable_frame
    if not (frame_type == _SWITCH or (frame_type == _KEY and show)):
        r.u(1)  # error_resilient_mode
    r.u(1)  # disable_cdf_update
    screen = r.u(1) if seq.screen_content == _SELECT else seq.screen_content
    if screen and seq.integer_mv == _SELECT:
        r.u(1)  # force_integer_mv
    if seq.frame_id_bits:
        r.u(seq.frame_id_bits)  # current_frame_id
    return frame_type != _SWITCH and not r.u(1)


def av1_frame_size(config_obus: bytes, sample: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of the first frame of ``sample`` (its OBUs), with the sequence header
    from ``config_obus`` (an ``av1C``'s) or from the sample; None where not known (module doc)."""
    seq = None
    try:
        for kind, payload in [*obus(config_obus), *obus(sample)]:
            if kind == _SEQUENCE_HEADER:
                seq = _sequence(bytes(payload))
            elif kind in (_FRAME_HEADER, _FRAME) and seq is not None:
                return seq.size if _size_not_overridden(seq, bytes(payload[:32])) else None
    except (EOFError, IndexError):
        return None
    return None

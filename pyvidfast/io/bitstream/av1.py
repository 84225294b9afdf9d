"""AV1: how many frames a temporal unit shows, from its OBU headers (FFmpeg outputs no picture
for a frame that is decoded but not shown)."""

from __future__ import annotations

from collections.abc import Iterator

from pyvidfast.io.bitstream.bits import BitReader

__all__ = ["av1_shown", "obus"]

_OBU_SEQUENCE_HEADER, _OBU_FRAME_HEADER, _OBU_FRAME = 1, 3, 6


def _leb128(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if pos >= len(data):
            break
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            break
    return value, pos


def _head(payload: bytes | memoryview) -> BitReader:
    """The first bits of an OBU payload; a payload shorter than the 5 bits read gives zeros."""
    return BitReader(bytes(payload[:1]) + b"\0")


def obus(data: bytes | memoryview) -> Iterator[tuple[int, bytes | memoryview]]:
    """``(obu_type, payload)`` of each OBU in ``data`` (low-overhead format, AV1 spec 5.3); a
    payload is a slice of ``data`` (no copy for a memoryview)."""
    pos = 0
    while pos < len(data):
        header = data[pos]
        pos += 2 if header & 4 else 1  # obu_extension_flag
        if header & 2:  # obu_has_size_field
            size, pos = _leb128(data, pos)
        else:
            size = len(data) - pos
        yield (header >> 3) & 0xF, data[pos : pos + size]
        pos += size


def av1_shown(data: bytes | memoryview, reduced_still: bool = False) -> tuple[int, bool]:
    """``(frames shown, reduced_still_picture_header)`` for one AV1 temporal unit (AV1 spec
    5.3-5.9): each frame header OBU with ``show_existing_frame`` or ``show_frame`` shows one.
    ``reduced_still`` comes from the last sequence header seen (packets may repeat it)."""
    shown = 0
    for obu_type, body in obus(data):
        payload = _head(body)
        if obu_type == _OBU_SEQUENCE_HEADER:
            payload.u(4)  # seq_profile, still_picture
            reduced_still = bool(payload.u(1))
        elif obu_type in (_OBU_FRAME_HEADER, _OBU_FRAME):
            if reduced_still or payload.u(1):  # show_existing_frame
                shown += 1
            else:
                payload.u(2)  # frame_type
                shown += payload.u(1)  # show_frame
    return shown, reduced_still

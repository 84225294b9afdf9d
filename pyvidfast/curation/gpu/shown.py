"""How many frames a video packet shows: the frames ffmpeg's decoder outputs for it.

H.264/HEVC packets show one picture each. VP9 and AV1 packets can carry frames that are decoded
but never shown (alternate reference frames), which NVDEC and FFmpeg both decode without output;
a later packet may show one of them (``show_existing_frame``). Counting the shown ones from the
frame headers gives the number of frames a clean decode returns, e.g. 72 for the 80 packets of
``vp9__roadtrip-vp92-10bit.webm``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ShownCounter", "av1_shown", "vp9_shown"]


class _Bits:
    """MSB-first bit reader over ``data``; reads past the end give zeros."""

    def __init__(self, data: bytes, start: int = 0):
        self.data = data
        self.pos = start * 8

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            bit = (self.data[byte] >> (7 - (self.pos & 7))) & 1 if byte < len(self.data) else 0
            value = value << 1 | bit
            self.pos += 1
        return value


def _vp9_frames(data: bytes) -> list[bytes]:
    """The frames of a VP9 packet: a superframe's parts (its index at the end), else itself."""
    if not data:
        return []
    marker = data[-1]
    if marker & 0xE0 == 0xC0:
        count = (marker & 7) + 1
        size_bytes = ((marker >> 3) & 3) + 1
        index_size = 2 + size_bytes * count
        if len(data) >= index_size and data[-index_size] == marker:
            frames, offset = [], 0
            index = data[len(data) - index_size + 1 : -1]
            for i in range(count):
                raw = index[i * size_bytes : (i + 1) * size_bytes]
                size = int.from_bytes(raw, "little")
                frames.append(data[offset : offset + size])
                offset += size
            return frames
    return [data]


def _vp9_frame_shown(frame: bytes) -> bool:
    """``show_existing_frame`` or ``show_frame`` of a VP9 uncompressed header (VP9 spec 6.2)."""
    if not frame:
        return False
    bits = _Bits(frame)
    if bits.read(2) != 2:  # frame_marker
        return False
    profile = bits.read(1) | bits.read(1) << 1
    if profile == 3:
        bits.read(1)  # reserved_zero
    if bits.read(1):  # show_existing_frame
        return True
    bits.read(1)  # frame_type
    return bool(bits.read(1))  # show_frame


def vp9_shown(data: bytes) -> int:
    """Frames shown by one VP9 packet."""
    return sum(_vp9_frame_shown(f) for f in _vp9_frames(data))


def _leb128(data: bytes, pos: int) -> tuple[int, int]:
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


_OBU_SEQUENCE_HEADER, _OBU_FRAME_HEADER, _OBU_FRAME = 1, 3, 6


def av1_shown(data: bytes, reduced_still: bool = False) -> tuple[int, bool]:
    """``(frames shown, reduced_still_picture_header)`` for one AV1 temporal unit (AV1 spec
    5.3-5.9): each frame header OBU with ``show_existing_frame`` or ``show_frame`` shows one.
    ``reduced_still`` comes from the last sequence header seen (packets may repeat it)."""
    shown, pos = 0, 0
    while pos < len(data):
        header = data[pos]
        obu_type = (header >> 3) & 0xF
        extension, has_size = header & 4, header & 2
        pos += 2 if extension else 1
        if has_size:
            size, pos = _leb128(data, pos)
        else:
            size = len(data) - pos
        payload = _Bits(data[pos : pos + size])
        pos += size
        if obu_type == _OBU_SEQUENCE_HEADER:
            payload.read(4)  # seq_profile, still_picture
            reduced_still = bool(payload.read(1))
        elif obu_type in (_OBU_FRAME_HEADER, _OBU_FRAME):
            if reduced_still or payload.read(1):  # show_existing_frame
                shown += 1
            else:
                payload.read(2)  # frame_type
                shown += payload.read(1)  # show_frame
    return shown, reduced_still


@dataclass
class ShownCounter:
    """Counts the frames a stream's packets show; ``codec`` is PyAV's decoder name."""

    codec: str
    shown: int = 0
    packets: int = 0
    _reduced_still: bool = False

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.packets += 1
        if self.codec in ("vp9", "libvpx-vp9"):
            self.shown += vp9_shown(data)
        elif self.codec in ("av1", "libdav1d", "libaom-av1"):
            n, self._reduced_still = av1_shown(data, self._reduced_still)
            self.shown += n
        else:
            self.shown += 1

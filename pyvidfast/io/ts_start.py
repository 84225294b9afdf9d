"""Where an MPEG-TS H.264/HEVC stream's packets begin to stand for frames, by NAL unit types;
whether a TS file ends inside a transport packet (``ends_mid_packet``).

Note [TS cut before an IDR]
    An H.264 TS joined mid-GOP: packets before the first one that opens with an AUD and carries
    SPS, PPS and an IDR slice decode to nothing; every packet from it on is one frame. Only
    when no packet before it carries SPS, PPS or IDR; HEVC is decoded. docs/notes.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from pyvidfast.io.source import open_bytes, source_size

if TYPE_CHECKING:
    import av

__all__ = [
    "TsStart",
    "annexb_nal_types",
    "clean_ts_start",
    "ends_mid_packet",
    "file_ends_mid_packet",
]

_SYNC = 0x47
_PACKET_SIZES = (188, 192, 204)  # plain, M2TS (4-byte time code first), with 16 bytes of FEC

# Annex-B NAL unit type from its first header byte; the access unit delimiter type; the
# parameter sets a decoder needs before the first picture.
_ANNEXB: dict[str, tuple[Callable[[int], int], int, set[int]]] = {
    "h264": (lambda b: b & 0x1F, 9, {7, 8}),
    "hevc": (lambda b: (b >> 1) & 0x3F, 35, {32, 33, 34}),
}
_H264_IDR = 5


def annexb_nal_types(data: bytes, codec: str) -> list[int]:
    """The NAL unit types of an annex-B packet, in order (``codec``: h264 or hevc)."""
    nal_type = _ANNEXB[codec][0]
    types: list[int] = []
    pos = data.find(b"\x00\x00\x01")
    while 0 <= pos < len(data) - 3:
        types.append(nal_type(data[pos + 3]))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return types


def clean_ts_start(packet: av.Packet[Any], codec: str) -> bool:
    """True when an MPEG-TS H.264/HEVC stream's first packet lets packets stand for frames.

    It must be a keyframe that opens with an access unit delimiter and carries the parameter
    sets. Without AUDs FFmpeg's parser splits access units by guesswork, and a stream cut
    mid-GOP (or before its PPS) makes the decoder drop or fail the first frames: the reference
    then counts fewer frames than packets (issue 12), so such streams are decoded unless
    Note [TS cut before an IDR] applies.
    """
    if codec not in _ANNEXB or not packet.is_keyframe:
        return codec not in _ANNEXB
    types = annexb_nal_types(bytes(packet), codec)
    _, aud, parameter_sets = _ANNEXB[codec]
    return bool(types) and types[0] == aud and parameter_sets <= set(types)


class TsStart:
    """Feed an MPEG-TS stream's packets in order; ``counts(packet)`` says whether it is a frame
    (True), a packet before the first IDR that decodes to nothing (False), or that packets
    cannot stand for frames in this stream (None: decode it)."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.first = True
        self.before_idr = False

    def counts(self, packet: av.Packet[Any]) -> bool | None:
        if self.first:
            self.first = False
            if not clean_ts_start(packet, self.codec):
                if self.codec != "h264":
                    return None
                self.before_idr = True
        if not self.before_idr:
            return True
        types = annexb_nal_types(bytes(packet), "h264")
        if types and types[0] == _ANNEXB["h264"][1] and {_H264_IDR, 7, 8} <= set(types):
            self.before_idr = False
            return True
        if {_H264_IDR, 7, 8} & set(types):
            return None  # parameter sets or an IDR without the rest: decode
        return False


def ends_mid_packet(head: bytes, size: int) -> bool:
    """Does a TS file of ``size`` bytes, starting with ``head`` (a kilobyte or more), end inside
    a transport packet, as a download or copy that stopped does? (Note [cut TS tail] in
    io/stream.py.) False when no packet size fits the sync bytes of ``head``."""
    for packet in _PACKET_SIZES:
        for offset in range(min(packet, len(head) - 3 * packet)):
            if all(head[offset + k * packet] == _SYNC for k in range(4)):
                return (size - offset) % packet not in (0, packet - offset)
    return False


def file_ends_mid_packet(source: str | os.PathLike[str] | BinaryIO) -> bool:
    """``ends_mid_packet`` of a path or a seekable binary file (its position is kept)."""
    with open_bytes(source) as f:
        pos = f.tell()
        head = f.read(4096)
        f.seek(pos)
    return ends_mid_packet(head, source_size(source))


def pmt_stream_types(head: bytes) -> list[int] | None:
    """The elementary stream types of the first program map table in ``head`` (188-byte TS
    packets from offset 0), in table order; None when no PAT and PMT section is found whole in
    one packet each (0x1B is H.264, 0x24 HEVC, 0x02 MPEG-2 video, 0x10 MPEG-4 Part 2)."""
    try:
        return _pmt_stream_types(head)
    except IndexError:  # a section cut short
        return None


def _pmt_stream_types(head: bytes) -> list[int] | None:
    pmt_pid = None
    for at in range(0, len(head) - 187, 188):
        packet = head[at : at + 188]
        if packet[0] != _SYNC or not packet[1] & 0x40:  # payload_unit_start_indicator
            continue
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        if pid != 0 and pid != pmt_pid:
            continue
        start = 4
        if packet[3] & 0x20:  # adaptation field
            start += 1 + packet[4]
        if not packet[3] & 0x10 or start >= 187:
            continue
        start += 1 + packet[start]  # pointer_field
        section_length = ((packet[start + 1] & 0x0F) << 8) | packet[start + 2]
        end = start + 3 + section_length - 4  # without the CRC
        if start + 8 > 188 or end > 188:
            return None
        if pid == 0:
            if packet[start] != 0x00:
                return None
            programs = packet[start + 8 : end]
            for k in range(0, len(programs) - 3, 4):
                if (programs[k] << 8) | programs[k + 1]:  # program 0 is the network PID
                    pmt_pid = ((programs[k + 2] & 0x1F) << 8) | programs[k + 3]
                    break
            continue
        if packet[start] != 0x02:
            return None
        info_length = ((packet[start + 10] & 0x0F) << 8) | packet[start + 11]
        pos, types = start + 12 + info_length, []
        while pos + 5 <= end:
            types.append(packet[pos])
            pos += 5 + (((packet[pos + 3] & 0x0F) << 8) | packet[pos + 4])
        return types
    return None

"""MPEG-4 Part 2 frame counting from VOP headers, without decoding (Open-Sora ``--info``).

FFmpeg's MPEG-4 decoder turns a packet into a picture unless the VOP is not coded (an N-VOP:
no picture), the packet packs two VOPs (DivX/Xvid "packed B-frames": the second comes out with
the next packet, and the placeholder after it gives none), or a B-VOP arrives before two
reference VOPs (``ff_h263_decode_frame`` skips B-frames without references). ``VopCounter``
reads the VOL header for ``vop_time_increment``'s width and each packet's VOP header up to
``vop_coded``; when every packet is one coded VOP after a valid start, packets stand for frames
and the caller counts them as for other codecs. Anything else (packed, not coded, a header it
cannot read) returns None and the caller decodes. Syntax: ISO/IEC 14496-2, 6.2.3 and 6.2.5.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyvidfast.io.bitstream.bits import BitReader

_START = b"\x00\x00\x01"
_VOP = 0xB6
_EXTENDED_PAR = 15
_RECTANGULAR = 0
B_VOP = 2


def _start_codes(data: bytes) -> Iterator[tuple[int, int]]:
    """``(code, payload offset)`` of every start code in ``data``."""
    pos = data.find(_START)
    while 0 <= pos <= len(data) - 4:
        yield data[pos + 3], pos + 4
        pos = data.find(_START, pos + 3)


def time_increment_bits(data: bytes) -> int | None:
    """Width of ``vop_time_increment`` from the first video object layer header in ``data``.

    None when there is no VOL, it is not rectangular or its marker bits are wrong (FFmpeg then
    guesses; the caller decodes). FFmpeg: ``av_log2(resolution - 1) + 1``, at least 1.
    """
    for code, at in _start_codes(data):
        if 0x20 <= code <= 0x2F:
            try:
                return _vol_bits(BitReader(data[at : at + 24]))
            except EOFError:
                return None
    return None


def _vol_bits(bits: BitReader) -> int | None:
    bits.u(1 + 8)  # random_accessible_vol, video_object_type_indication
    if bits.u(1):  # is_object_layer_identifier: verid, priority
        bits.u(4 + 3)
    if bits.u(4) == _EXTENDED_PAR:
        bits.u(16)
    if bits.u(1):  # vol_control_parameters
        bits.u(2 + 1)  # chroma_format, low_delay
        if bits.u(1):  # vbv_parameters: 79 bits with five markers
            bits.u(79)
    if bits.u(2) != _RECTANGULAR:  # video_object_layer_shape
        return None
    if not bits.u(1):
        return None
    resolution = bits.u(16)
    if not bits.u(1) or resolution == 0:
        return None
    return max((resolution - 1).bit_length(), 1)


def vop_header(data: bytes, at: int, increment_bits: int) -> tuple[int, bool] | None:
    """``(vop_coding_type, vop_coded)`` of the VOP whose payload starts at ``at``, or None."""
    bits = BitReader(data[at : at + 8 + increment_bits // 8])
    try:
        coding_type = bits.u(2)
        while bits.u(1):  # modulo_time_base
            pass
        if not bits.u(1):
            return None
        bits.u(increment_bits)
        if not bits.u(1):
            return None
        return coding_type, bool(bits.u(1))
    except EOFError:
        return None


class VopReader:
    """Reads the VOP headers of packets in decode order, following VOL headers as they come."""

    def __init__(self, extradata: bytes | None) -> None:
        self.bits = time_increment_bits(extradata) if extradata else None

    def vops(self, data: bytes) -> list[tuple[int, bool] | None]:
        """``(vop_coding_type, vop_coded)`` of each VOP in one packet, None where unreadable."""
        out: list[tuple[int, bool] | None] = []
        for code, at in _start_codes(data):
            if code == _VOP:
                out.append(vop_header(data, at, self.bits) if self.bits else None)
            elif 0x20 <= code <= 0x2F:  # a VOL header (repeated in streams like MPEG-TS)
                self.bits = time_increment_bits(data[at - 4 :])
        return out


class VopCounter:
    """Feeds packets in decode order; ``ok`` turns False once packets cannot stand for frames."""

    def __init__(self, extradata: bytes | None) -> None:
        self.reader = VopReader(extradata)
        self.references = 0
        self.ok = True

    def packet(self, data: bytes) -> None:
        """Check one non-empty packet: exactly one coded VOP, no B-VOP before two references."""
        vops = self.reader.vops(data)
        header = vops[0] if len(vops) == 1 else None
        if header is None or not header[1]:
            self.ok = False
            return
        if header[0] == B_VOP:
            self.ok = self.references >= 2
        else:
            self.references += 1

"""H.264/HEVC NAL units in a packet, and the x264 version an H.264 stream states in them.

``length_size`` says how a stream frames its NAL units (length-prefixed from avcC/hvcC, or Annex B
start codes); ``units`` splits one packet; ``x264_build`` reads the encoder version the way
FFmpeg's H.264 decoder does (Note [x264 build]); ``declared_size`` is the picture size of the
sequence parameter sets in a stream's extradata.

Note [x264 build]
    FFmpeg's H.264 decoder reads "x264 - core N" from the user-data SEI of the access units it
    decodes and, for N < 151, predicts lossless 8x8 intra blocks as those x264 builds encoded
    them. A decoder that seeks past the first access unit never sees the SEI and decodes such a
    stream wrongly after the seek (every peer does: decord, PyAV, torchcodec). The reader reads
    the version from the first packet once on open and gives it to every decoder it opens
    (the decoder's ``x264_build`` option), so frames after a seek are the frames of a pass from
    the start (tests/test_cursor.py, on a clip made by x264 core 142: tests/data/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pyvidfast.io.bitstream import h264_sps, hevc_sps
from pyvidfast.io.bitstream.h264_sps import rbsp

__all__ = ["declared_size", "length_size", "units", "x264_build"]

_SEI = 6  # H.264 nal_unit_type of an SEI
_USER_DATA_UNREGISTERED = 5
# FFmpeg: sscanf(user_data + 16, "x264 - core %d", &build); a blank in a scanf format matches any
# run of white space, none included, and %d skips leading white space and takes a sign.
_X264 = re.compile(rb"x264\s*-\s*core\s*([+-]?\d+)")


def length_size(codec: str, extradata: bytes) -> int | None:
    """Bytes of each NAL size prefix, from avcC/hvcC; None when the stream is Annex B."""
    if extradata[:1] != b"\x01":
        return None
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    return None


def units(data: bytes, size_bytes: int | None) -> Iterator[bytes]:
    """The NAL units of one packet (``size_bytes``: its length prefix, None for Annex B); a
    length that runs past the packet ends the walk."""
    if size_bytes is None:
        for part in re.split(b"\x00\x00\x01", data)[1:]:
            yield part.rstrip(b"\x00")  # the next start code's leading zero byte
        return
    pos = 0
    while pos + size_bytes <= len(data):
        size = int.from_bytes(data[pos : pos + size_bytes], "big")
        pos += size_bytes
        if size == 0 or pos + size > len(data):
            return
        yield data[pos : pos + size]
        pos += size


def declared_size(codec: str, extradata: bytes | None) -> tuple[int, int] | None:
    """The decoded picture size that every SPS in ``extradata`` (avcC, hvcC or Annex B) of an
    H.264 or HEVC stream declares (``h264_sps.picture_size``, ``hevc_sps.picture_size``); None
    when there is none, one is unreadable, or they disagree."""
    if not extradata or codec not in ("h264", "hevc"):
        return None
    module = h264_sps if codec == "h264" else hevc_sps
    if length_size(codec, extradata) is not None:
        if codec == "h264":
            sets = h264_sps.avcc_parameter_sets(extradata)
        else:
            sets = hevc_sps.hvcc_parameter_sets(extradata)
    elif codec == "h264":
        sets = [nal for nal in units(extradata, None) if nal and nal[0] & 0x1F == 7]
    else:
        sets = [nal for nal in units(extradata, None) if hevc_sps.nal_type(nal) == 33]
    sizes = {module.picture_size(nal) for nal in sets}
    return sizes.pop() if len(sizes) == 1 else None


def _sei_messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(payloadType, payload) of each message of an SEI RBSP (H.264 7.3.2.3)."""
    pos = 0
    while pos < len(data) and data[pos:] != b"\x80":  # rbsp_trailing_bits
        fields = []
        for _ in range(2):  # payloadType, payloadSize: 0xFF bytes add 255 each
            value = 0
            while pos < len(data) and data[pos] == 0xFF:
                value, pos = value + 255, pos + 1
            if pos >= len(data):
                return
            fields.append(value + data[pos])
            pos += 1
        kind, size = fields
        yield kind, data[pos : pos + size]
        pos += size


def x264_build(packet: bytes, extradata: bytes) -> int | None:
    """The "x264 - core N" version in ``packet``'s SEI NAL units (or in Annex B extradata), as
    FFmpeg's H.264 decoder would set it on decoding that packet; None when there is none."""
    size_bytes = length_size("h264", extradata)
    found = None
    sources = [(packet, size_bytes)]
    if size_bytes is None and extradata:
        sources.insert(0, (extradata, None))
    for data, framing in sources:
        for nal in units(data, framing):
            if not nal or nal[0] & 0x1F != _SEI:
                continue
            for kind, payload in _sei_messages(rbsp(nal)):
                match = _X264.match(payload[16:]) if kind == _USER_DATA_UNREGISTERED else None
                if match is None:
                    continue
                build = int(match.group(1))
                if build == 1 and payload[16:32] == b"x264 - core 0000":
                    found = 67  # FFmpeg's value for builds that wrote 0000
                elif build > 0:
                    found = build
    return found

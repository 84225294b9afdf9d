"""FLV: the codec of the first video tag, from the file's first bytes.

An FLV file is a 9-byte header ("FLV", version, flags, header size), then tags, each after the
4-byte size of the one before: type (8: audio, 9: video, 18: script data), a 24-bit data size,
timestamps and stream id (11 bytes in all), then the data. A video tag's first data byte holds
the frame type (high four bits) and the codec id (low four bits); Enhanced RTMP's extended
header (the top bit set) names the codec by a FourCC instead and is not read here.
"""

from __future__ import annotations

MAGIC = b"FLV"
_VIDEO = 9
_TAG_HEADER = 11
_EX_HEADER = 0x80
_CODECS = {2: "flv", 4: "vp6f", 5: "vp6a", 7: "h264", 12: "hevc"}


def flv_video_codec(head: bytes) -> str | None:
    """The codec of the first video tag in ``head`` (FFmpeg's decoder name for the common ids:
    ``h264``, ``hevc``, ``flv``, ...; ``"id N"`` for others); None when ``head`` is not FLV, has
    no whole video tag header, or the tag uses Enhanced RTMP's extended header."""
    if head[:3] != MAGIC or len(head) < 9:
        return None
    pos = int.from_bytes(head[5:9], "big") + 4  # the header, then PreviousTagSize0
    while pos + _TAG_HEADER < len(head):
        kind = head[pos] & 0x1F
        size = int.from_bytes(head[pos + 1 : pos + 4], "big")
        if kind == _VIDEO and size:
            first = head[pos + _TAG_HEADER]
            if first & _EX_HEADER:
                return None
            return _CODECS.get(first & 0x0F, f"id {first & 0x0F}")
        pos += _TAG_HEADER + size + 4
    return None

"""The NAL-unit framing check FFmpeg's H.264/HEVC decoders make before decoding a packet.

In a length-prefixed stream (MP4/Matroska: avcC/hvcC) every NAL unit carries its size; FFmpeg's
``ff_h2645_packet_split`` refuses a packet whose sizes do not add up, and the decoder prints
``Error splitting the input into NAL units.`` (after ``Invalid NAL unit size (L > R).`` when a
size runs past the packet). NVDEC's parser sees the Annex B bytes after the filter and may say
nothing, so the checker makes the same check on the demuxed packet. On the real corpus it flags
exactly the files ffmpeg fails for it (mp4__sample_with_invalid_nalu.mp4, decord/corrupted.mp4).
"""

from __future__ import annotations

__all__ = ["split_errors"]

SPLIT_ERROR = "Error splitting the input into NAL units."


def split_errors(data: bytes, size_bytes: int) -> list[str]:
    """The messages FFmpeg's decoder logs for this packet's framing (empty: it splits cleanly)."""
    pos = 0
    while len(data) - pos >= 4:  # FFmpeg's split loop stops with fewer than 4 bytes left
        size = int.from_bytes(data[pos : pos + size_bytes], "big")
        pos += size_bytes
        left = len(data) - pos
        if size > left:
            signed = size - (1 << 32) if size_bytes == 4 and size >= 1 << 31 else size
            return [f"Invalid NAL unit size ({signed} > {left}).", SPLIT_ERROR]
        if size == 0:
            return [SPLIT_ERROR]
        pos += size
    return []

"""VP8/VP9: how many frames a packet shows, from its first bytes (FFmpeg outputs no picture for
hidden alt-ref frames), for ``pyvidfast.io.probe``'s packet counts."""

from __future__ import annotations

from pyvidfast.io.bitstream.bits import BitReader


def _vp9_shown(frame: memoryview) -> int:
    """1 when a VP9 frame is shown (show_frame or show_existing_frame), from its first byte."""
    if not frame:
        return 0
    b = frame[0]
    if b >> 6 != 2:  # frame_marker
        return 0
    profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1)
    bit = 3 if profile < 3 else 2  # profile 3 has one reserved bit
    if (b >> bit) & 1:  # show_existing_frame
        return 1
    return (b >> (bit - 2)) & 1 if bit >= 2 else 0  # skip frame_type, read show_frame


def vp9_shown_frames(data: memoryview) -> int:
    """Shown frames in one VP9 packet, walking its superframe index when it has one.

    libvpx writes hidden alt-ref frames either packed in a superframe with the next shown frame
    or (older WebM files, e.g. vp9__roadtrip-vp92-10bit.webm: 80 packets, 72 frames) as
    packets of their own; FFmpeg outputs no picture for them.
    """
    if not data:
        return 0
    last = data[-1]
    if last & 0xE0 == 0xC0:
        n = (last & 7) + 1
        size_bytes = ((last >> 3) & 3) + 1
        index_size = 2 + size_bytes * n
        if len(data) >= index_size and data[-index_size] == last:
            shown = 0
            offset = 0
            pos = len(data) - index_size + 1
            for _ in range(n):
                size = int.from_bytes(data[pos : pos + size_bytes], "little")
                pos += size_bytes
                shown += _vp9_shown(data[offset : offset + size])
                offset += size
            return shown
    return _vp9_shown(data)


def vp8_shown_frames(data: memoryview) -> int:
    """1 when a VP8 frame is shown (show_frame bit of the frame tag): FFmpeg drops hidden ones."""
    return (data[0] >> 4) & 1 if data else 0


def vp8_keyframe_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """``(width, height)`` of a VP8 key frame (RFC 6386 9.1: the frame tag's key frame bit, the
    start code 9d 01 2a, then 14-bit width and height, each with a 2-bit scale FFmpeg ignores);
    None for anything else."""
    if len(data) < 10 or data[0] & 1 or bytes(data[3:6]) != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


def vp9_keyframe_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """``(width, height)`` from the uncompressed header of a VP9 packet that opens with a key
    frame (VP9 bitstream spec 6.2: frame marker, profile, frame sync code, colour config, frame
    size); None for anything else. FFmpeg gives decoded pictures this size."""
    try:
        r = BitReader(bytes(data[:16]))
        if r.u(2) != 2:  # frame_marker
            return None
        low, high = r.u(1), r.u(1)
        profile = (high << 1) | low
        if profile == 3:
            r.u(1)  # reserved_zero
        if r.u(1) or r.u(1):  # show_existing_frame, frame_type (0: key frame)
            return None
        r.u(2)  # show_frame, error_resilient_mode
        if r.u(24) != 0x498342:  # frame_sync_code
            return None
        if profile >= 2:
            r.u(1)  # ten_or_twelve_bit
        if r.u(3) != 7:  # color_space other than sRGB: color_range, then subsampling
            r.u(1)
            if profile in (1, 3):
                r.u(3)
        elif profile in (1, 3):
            r.u(1)
        return r.u(16) + 1, r.u(16) + 1
    except EOFError:
        return None

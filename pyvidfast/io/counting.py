"""Frame counts without RGB, as Open-Sora's reference counts: from an MP4 sample index, from
demuxed packets, or by decoding (Note [frame count] in io/probe.py says which file gets which)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import av

from pyvidfast.io.bitstream.mpeg4 import VopCounter
from pyvidfast.io.bitstream.vpx import vp8_shown_frames, vp9_shown_frames
from pyvidfast.io.ts_start import TsStart

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = ["MAX_NUM_FRAMES", "PACKET_PER_FRAME", "decode_count", "demux_count", "header_count"]

# Open-Sora's MAX_NUM_FRAMES: the frame cap when the container gives no frame count.
MAX_NUM_FRAMES = 2500

# Codecs whose decoder turns every packet into exactly one frame (no packed B-frames, no
# placeholder packets). VP9 superframes and AV1 temporal units are one packet per shown frame.
PACKET_PER_FRAME = frozenset(
    {
        "h264",
        "hevc",
        "av1",
        "libdav1d",
        "vp8",
        "vp9",
        "libvpx",
        "libvpx-vp9",
        "vvc",
        "mpeg2video",
        "mjpeg",
        "prores",
        "dnxhd",
        "png",
        "h263",
        "flv",  # Sorenson Spark (H.263 in FLV): no B-frames, one picture a packet (tests/test_mix.py)
    }
)

# Formats whose header frame count is a per-sample index (FFmpeg demuxer names).
_INDEXED_FORMATS = frozenset({"mov", "mp4"})


def header_count(container: InputContainer, stream: VideoStream) -> int | None:
    """The frame count from an MP4/MOV sample index, or None where it cannot be trusted."""
    names = set(container.format.name.split(","))
    if not names & _INDEXED_FORMATS or stream.frames <= 0:
        return None
    if stream.codec_context.name not in PACKET_PER_FRAME:
        return None
    if stream.start_time is not None and stream.start_time < 0:
        return None  # leading frames with negative pts: the reference drops them
    entries = stream.index_entries
    if len(entries) != stream.frames:
        return None  # fragmented or partially indexed
    return sum(1 for e in entries if not e.is_discard)


_SHOWN_FRAMES = {"vp9": vp9_shown_frames, "libvpx-vp9": vp9_shown_frames}
_SHOWN_FRAMES.update({"vp8": vp8_shown_frames, "libvpx": vp8_shown_frames})


def demux_count(
    container: InputContainer,
    stream: VideoStream,
    cap: int,
    first: Callable[[bytes], bool] | None = None,
) -> int | None:
    """Packets that become frames (non-empty, not discarded, pts >= 0 or unknown), at most cap.

    For VP8/VP9 a packet counts for the shown frames it carries (hidden alt-ref frames yield no
    picture). None when packets cannot stand for frames (MPEG-TS: see ``pyvidfast/io/ts_start.py``;
    MPEG-4 Part 2: see ``pyvidfast/io/bitstream/mpeg4.py``), or when ``first(packet bytes)`` is false for
    the first non-empty packet.
    """
    shown = _SHOWN_FRAMES.get(stream.codec_context.name)
    ts = TsStart(stream.codec_context.name) if "mpegts" in container.format.name else None
    vops = (
        VopCounter(stream.codec_context.extradata) if stream.codec_context.name == "mpeg4" else None
    )
    count = 0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        if first is not None:
            if not first(bytes(packet)):
                return None
            first = None
        if ts is not None and not (counts := ts.counts(packet)):
            if counts is None:
                return None
            continue  # Note [TS cut before an IDR] in io/ts_start.py
        if vops is not None:
            vops.packet(bytes(packet))
            if not vops.ok:
                return None
        if packet.pts is not None and packet.pts < 0:
            continue
        count += shown(memoryview(packet)) if shown else 1
        if count >= cap:
            return cap
    return count


def decode_count(
    container: InputContainer, stream: VideoStream, cap: int, threads: bool = True
) -> tuple[int, int, int]:
    """``(count, height, width)`` by decoding without RGB conversion, as the reference counts.

    Decoding stops at the first decode error or after ``cap`` frames; leading frames with
    negative pts are dropped. ``(0, 0, 0)`` when no frame decodes.
    """
    if threads:
        stream.codec_context.thread_type = "AUTO"
    # Deblocking only changes pixels, never which frames come out or where decoding fails;
    # skipping it saves about a fifth of an H.264 decode.
    stream.codec_context.options = {"skip_loop_filter": "all"}
    height = width = 0
    total = 0
    leading_negative = 0
    frames = container.decode(stream)
    try:
        while total < cap:
            frame = next(frames, None)
            if frame is None:
                break
            if total == 0:
                height, width = frame.height, frame.width
            if total == leading_negative and frame.pts is not None and frame.pts < 0:
                leading_negative += 1
            total += 1
    except av.FFmpegError:
        pass  # the reference keeps the frames decoded before the first error
    return total - leading_negative, height, width

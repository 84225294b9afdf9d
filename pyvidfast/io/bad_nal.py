"""Open-Sora's frame count for an MP4 whose H.264 breaks at a known sample, without decoding.

Note [first bad NAL]
    An invalid NAL size in sample k makes FFmpeg's H.264 decoder fail on packet k; the reference
    has then output ``k - depth`` frames (depth: the largest ``max_num_reorder_frames`` the SPS
    declare). Used only where that is certain: every SPS declares its reorder depth, nothing
    before k is discarded or before 0, the length is 0 or past the sample, no annex-B packet.
    Else the file is decoded. Proof (1,363 generated cuts, two real files): docs/notes.md.

Note [no timescale]
    With ``mdhd`` missing or its timescale 0, FFmpeg takes the movie's timescale or 1, so the
    edit list marks samples before k discarded (never output) and the index may end early.
    Then packets 0..k are demuxed (positions must be samples 0..k): the first ``k - depth``
    in pts order are output, less discarded and leading negative ones; pts must be distinct
    and in an order depth frames can emit. Proof: tests/test_bad_nal_timescale.py; docs/notes.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvidfast.io.bitstream.h264_sps import reorder_declared
from pyvidfast.io.counting import MAX_NUM_FRAMES
from pyvidfast.io.mp4_trust import HeaderProblem

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream


def count_before_bad_nal(
    container: InputContainer, stream: VideoStream, problem: HeaderProblem
) -> int | None:
    """Frames the reference decodes before ``problem.bad_sample``, or None to decode instead.

    A file cut cleanly before ``problem.end_sample`` (Note [cut short] in io/mp4_trust.py) gives
    that many: the stream ends there and the decoder flushes its reorder buffer.
    """
    k = problem.bad_sample if problem.end_sample is None else problem.end_sample
    cc = stream.codec_context
    if k is None or cc is None or cc.name != "h264" or not problem.parameter_sets:
        return None
    cut_cleanly = problem.end_sample is not None
    depths = [reorder_declared(sps) for sps in problem.parameter_sets]
    declared = [d for d in depths if d is not None]  # all of them wherever a depth is used
    if not cut_cleanly and len(declared) < len(depths):
        return None
    if problem.no_timescale:
        return _count_from_packets(container, stream, problem, max(declared))
    if stream.start_time is None or stream.start_time < 0:
        return None
    entries = stream.index_entries
    if len(entries) != stream.frames or k > len(entries):
        return None
    if any(entries[i].is_discard for i in range(k)):
        return None
    if cut_cleanly:
        return k
    return max(k - max(declared), 0)


def _count_from_packets(
    container: InputContainer, stream: VideoStream, problem: HeaderProblem, depth: int
) -> int | None:
    """Note [no timescale]: the frames output before packet k, by the demuxed pts and discard
    flags of packets 0..k, or None where they do not show it."""
    k = problem.bad_sample
    assert k is not None, "count_before_bad_nal returns before this without one"
    if len(problem.leading_offsets) != k + 1 or k >= (stream.frames or MAX_NUM_FRAMES):
        return None  # past the reference's frame cap: decode
    packets: list[tuple[int | None, bool]] = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pos != problem.leading_offsets[len(packets)]:
            return None
        packets.append((packet.pts, packet.is_discard))
        if len(packets) == k + 1:
            break
    if len(packets) != k + 1 or any(pts is None for pts, _ in packets):
        return None
    stamps = [pts for pts, _ in packets if pts is not None]  # all of them, as checked above
    order = _output_order(stamps[:k], depth)
    if order is None:
        return None
    shown = [stamps[i] for i in order if not packets[i][1]]
    leading = next((n for n, pts in enumerate(shown) if pts >= 0), len(shown))
    return len(shown) - leading


def _output_order(pts: list[int], depth: int) -> list[int] | None:
    """Indices of the frames a decoder holding ``depth`` frames outputs, in its output order,
    taking pts order for picture order; None when a frame arrives after a later one left
    (FFmpeg drops such a frame) or two share a pts."""
    if len(set(pts)) != len(pts):
        return None
    waiting: list[int] = []
    out: list[int] = []
    for i in range(len(pts)):
        waiting.append(i)
        if len(waiting) > depth:
            first = min(waiting, key=pts.__getitem__)
            if out and pts[first] < pts[out[-1]]:
                return None
            waiting.remove(first)
            out.append(first)
    return out

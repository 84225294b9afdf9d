"""Open-Sora's frame count for an MP4 whose H.264 breaks at a known sample, without decoding.

Note [first bad NAL]
    An invalid NAL unit size in sample k (``io/mp4_trust.py`` finds the first one by walking NAL
    lengths) makes FFmpeg 8's H.264 decoder fail on packet k, and the reference stops there
    (``opensora/reference.py``). It has then output the frames of packets 0..k-1 less those still
    waiting in its reorder buffer: ``k - depth``, where depth is the decoder's ``has_b_frames``
    after a full open, which is the largest ``max_num_reorder_frames`` the SPS declare (read
    from them, so the file opens without the probe decode, Note [no probe decode] in
    io/probe.py). That holds when the depth cannot change on the way:
    every SPS declares ``bitstream_restriction_flag`` (without it FFmpeg grows the buffer by a
    POC heuristic, ``h264_select_output_frame``; see ``io/h264_sps.py``), and no sample before k
    is discarded by an edit list or presented before 0 (the reference would drop or trim it).
    The failure itself must be certain: a NAL length of 0 or one past the sample (FFmpeg's
    ``get_nalsize`` rejects both), not a tail too short for a length field, and no packet up to
    k that starts 00 00 00 01 (FFmpeg then tries it as annex-B, which may decode). Otherwise
    the file is decoded up to the error, as before. Checked against the reference on the two
    real files of this kind (k = 30 with a length past the sample, k = 28 with a length of 0;
    depth 2) and on 1,363 generated cuts (x264 with 0-3 B-frames, with and without B-pyramid,
    open and closed GOPs of 12 and 250, and x265, which is decoded), one length past the sample
    at every sample, through ``probe_video``: all equal. tests/media_broken.py keeps three such
    classes (mid-stream, second sample, an SPS without VUI) for the parity tests.
"""

from __future__ import annotations

from pyvidfast.io.h264_sps import reorder_declared
from pyvidfast.io.mp4_trust import HeaderProblem


def count_before_bad_nal(stream, problem: HeaderProblem) -> int | None:
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
    if not cut_cleanly and None in depths:
        return None
    if stream.start_time is None or stream.start_time < 0:
        return None
    entries = stream.index_entries
    if len(entries) != stream.frames or k > len(entries):
        return None
    if any(entries[i].is_discard for i in range(k)):
        return None
    if cut_cleanly:
        return k
    return max(k - max(depths), 0)

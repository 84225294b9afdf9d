"""ffmpeg 5.1's "Context scratch buffers could not be allocated" lines for MPEG-4 Part 2.

Note [mpeg4 scratch]
    ffmpeg 5.1 decodes MPEG-4 Part 2 with frame threads (``-threads`` auto, on a machine with more
    than one core). Every packet after the first starts in a thread context updated from the
    previous packet's (``ff_mpeg_update_thread_context``); while no packet has allocated a
    picture yet, that context's linesize is 0 and 5.1 logs, at error level, "Context scratch
    buffers could not be allocated due to unknown size." and decodes on. A packet allocates no
    picture when its VOPs are B-VOPs before any reference (skipped) or not coded (N-VOPs), so a
    stream opening with n such packets (MPEG-4 in MPEG-TS cut mid-GOP) gets n lines, one as each
    following packet starts, and fails the check. FFmpeg 8, which PyAV ships, no longer prints
    it, and the checker decodes with one thread, so the lines are written here. Measured with the
    ffmpeg 5.1 CLI on tests' ``ts_mpeg4_mid_gop.ts`` (two leading B-VOPs): two lines with
    ``-threads 2`` or ``4`` and by default, none with ``-threads 1``.
"""

from __future__ import annotations

import os

from pyvidfast.curation.ffmpeg_log import format_line
from pyvidfast.io.mpeg4 import B_VOP, VopReader

MESSAGE = "Context scratch buffers could not be allocated due to unknown size."


def reference_threads() -> int:
    """The decoder threads ffmpeg 5.1's ``-threads`` auto gives on this machine (cores)."""
    return os.cpu_count() or 1


class ScratchLines:
    """Feed the picked video stream's packets in decode order; each call returns the line
    ffmpeg 5.1 logs as that packet starts, or None (Note [mpeg4 scratch])."""

    def __init__(self, codec: str, extradata: bytes | None, threads: int) -> None:
        self.active = codec == "mpeg4" and threads > 1
        self.reader = VopReader(extradata) if self.active else None
        self.packets = 0

    def packet(self, data: bytes) -> str | None:
        if not self.active:
            return None
        line = format_line("mpeg4", MESSAGE) if self.packets else None
        self.packets += 1
        if _allocates_picture(self.reader.vops(data)):
            self.active = False  # from here on every context has a linesize
        return line


def scratch_lines(video) -> ScratchLines:
    """The ``ScratchLines`` of the picked video stream (None: no video), at this machine's
    reference thread count."""
    cc = video.codec_context if video is not None else None
    if cc is None:
        return ScratchLines("", None, 1)
    return ScratchLines(cc.name, cc.extradata, reference_threads())


def _allocates_picture(vops: list[tuple[int, bool] | None]) -> bool:
    """True unless every VOP is a B-VOP (no reference yet) or not coded; an unreadable header
    counts as a picture, so a stream this cannot read gets no invented line."""
    return any(v is None or (v[1] and v[0] != B_VOP) for v in vops)

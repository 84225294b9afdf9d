"""Two things ffmpeg 5.1's MPEG-4 Part 2 decoder does that FFmpeg 8's (PyAV's) does not.

Note [mpeg4 scratch]
    ffmpeg 5.1 decodes MPEG-4 Part 2 with frame threads; while no packet has allocated a picture
    (leading skipped B-VOPs or not-coded N-VOPs, e.g. MPEG-TS cut mid-GOP), each following packet
    starts in a context with linesize 0 and 5.1 logs "Context scratch buffers could not be
    allocated due to unknown size." at error level, failing the check. FFmpeg 8 does not print
    it and the checker decodes on one thread, so the lines are written here. Details:
    docs/notes.md.

Note [mpeg4 flush pts]
    At EOF after a not-coded VOP (N-VOP), FFmpeg 8 outputs a picture stamped with the N-VOP
    packet's pts (the held reference with B-frames, else a repeat of the last picture); ffmpeg
    5.1 flushes the held picture with the pts of the packet that carried it and repeats nothing.
    ``flushed`` turns FFmpeg 8's flush into 5.1's. Details: docs/notes.md.
"""

from __future__ import annotations

import os

from pyvidfast.curation.ffmpeg_log import format_line
from pyvidfast.io.bitstream.mpeg4 import B_VOP, VopReader

MESSAGE = "Context scratch buffers could not be allocated due to unknown size."


def reference_threads() -> int:
    """The decoder threads ffmpeg 5.1's ``-threads`` auto gives on this machine (cores)."""
    return os.cpu_count() or 1


class Mpeg4Quirks:
    """Feed the picked video stream's packets in decode order (``active`` only for MPEG-4)."""

    def __init__(self, codec: str, extradata: bytes | None, threads: int) -> None:
        self.active = codec == "mpeg4"
        self.reader = VopReader(extradata) if self.active else None
        self.scratch = self.active and threads > 1
        self.packets = 0
        self.reference_pts: int | None = None
        self.ends_not_coded = False

    def packet(self, data: bytes, pts: int | None) -> str | None:
        """The line 5.1 logs as this packet starts (Note [mpeg4 scratch]), or None."""
        vops = self.reader.vops(data)
        line = None
        if self.scratch:
            line = format_line("mpeg4", MESSAGE) if self.packets else None
            self.scratch = not _allocates_picture(vops)
        self.packets += 1
        if any(v is not None and v[1] and v[0] != B_VOP for v in vops):
            self.reference_pts = pts
        self.ends_not_coded = bool(vops) and all(v is not None and not v[1] for v in vops)
        return line

    def flushed(self, frames: list, has_b_frames: bool) -> list:
        """5.1's frames for FFmpeg 8's ``frames`` flushed at EOF (Note [mpeg4 flush pts])."""
        if not (self.active and self.ends_not_coded and frames):
            return frames
        if not has_b_frames:
            return frames[:-1]  # FFmpeg 8's repeat of the last picture
        frames[-1].pts = self.reference_pts
        return frames


def mpeg4_quirks(video) -> Mpeg4Quirks:
    """The ``Mpeg4Quirks`` of the picked video stream (None: no video), at this machine's
    reference thread count."""
    cc = video.codec_context if video is not None else None
    if cc is None:
        return Mpeg4Quirks("", None, 1)
    return Mpeg4Quirks(cc.name, cc.extradata, reference_threads())


def _allocates_picture(vops: list[tuple[int, bool] | None]) -> bool:
    """True unless every VOP is a B-VOP (no reference yet) or not coded; an unreadable header
    counts as a picture, so a stream this cannot read gets no invented line."""
    return any(v is None or (v[1] and v[0] != B_VOP) for v in vops)

"""Generated clips whose MP4/MOV edit list discards packets, for the decord parity tests.

The class of androidx_media/mp4__iibbibb_editlist_videoonly.mp4 (Note [padded count] in
pyvidfast/io/indices.py): ``ffmpeg -ss T -i clip -c copy`` keeps the whole GOP that ``T`` falls in
and writes an edit list starting at ``T``, so the demuxer marks the packets before ``T`` as
discarded. The source is an x264 clip with B-frames whose pixels encode their frame number
(``media.make_clip``), 48 frames at 24 fps, a keyframe every 12 frames.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from media import make_clip

FFMPEG = shutil.which("ffmpeg")

_X264 = "bframes=2:keyint=12:min-keyint=12:scenecut=0"

# name -> (suffix, open GOP, cut at (seconds)): frames the edit list discards
CUTS = {
    "mp4_cut_closed_gop": (".mp4", False, "0.25"),  # 6 frames
    "mov_cut_closed_gop": (".mov", False, "0.3"),  # 8 frames, inside a B-frame group
    "mp4_cut_open_gop": (".mp4", True, "0.55"),  # the second GOP, whose B-frames lead its I
}


def make_cut(folder: Path, name: str) -> Path:
    """Write the clip ``name`` of ``CUTS`` into ``folder``; returns its path."""
    suffix, open_gop, at = CUTS[name]
    source = Path(folder) / f"source_open{int(open_gop)}.mp4"
    if not source.exists():
        options = {"x264-params": f"{_X264}:open-gop={int(open_gop)}"}
        make_clip(source, 48, fps=24, options=options)
    path = Path(folder) / f"{name}{suffix}"
    cmd = [FFMPEG, "-v", "error", "-y", "-ss", at, "-i", str(source), "-c", "copy", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path

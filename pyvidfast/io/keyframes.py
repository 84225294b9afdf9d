"""Where decoding starts: the keyframe before a frame, and a sorted request cut into runs.

One rule for both backends (FFmpeg in ``io/decoder.py``, NVDEC in ``io/nvdec/decode.py``):
a run is decoded from the keyframe before its first frame; the next wanted frame joins the run
unless a keyframe lies after the run's last frame + 1 and at or before it, in which case seeking
there skips decoding the frames between (Note [cursor] in docs/notes.md).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

__all__ = ["keyframe_before", "runs"]


def keyframe_before(keys: Sequence[int], index: int) -> int:
    """The last of the sorted keyframe indices ``keys`` at or before ``index``; 0 (the stream's
    start) before the first keyframe or when there is none."""
    pos = bisect_right(keys, index) - 1
    return int(keys[pos]) if pos >= 0 else 0


def runs(keys: Sequence[int], wanted: Sequence[int]) -> list[list[int]]:
    """``wanted`` (sorted, distinct) cut wherever a seek to a keyframe skips frames."""
    out: list[list[int]] = []
    for i in wanted:
        if out and keyframe_before(keys, i) <= out[-1][-1] + 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out

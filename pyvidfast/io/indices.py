"""Frame indices, checked and de-duplicated in one place for every reader and clip pipeline.

``frame_indices`` validates what a user or a sampler asks for (integers, decord's negative
indices, the range) and sorts the distinct ones, as torchcodec's ``getFramesAtIndices`` does: a
reader decodes ``distinct`` once, in file order, whatever transform follows works on those
frames, and ``FrameIndices.expand`` puts the repeats and the order back at the very end.

Note [padded count]
    decord 0.6.0 counts every packet of the stream, including those the MP4/MOV demuxer marks
    as discarded: the samples of the first GOP before an edit list's start, which FFmpeg's
    decoder never outputs (``ffmpeg -ss T -i in.mp4 -c copy`` cuts; pre-roll pictures such as
    mp4__iibbibb_editlist_videoonly.mp4's). Its ``len()`` is the pictures that decode plus the
    discarded packets. Read in order from frame 0, frame ``i`` is the ``i``-th picture and each
    index past the last picture gives a copy of it (decord's end-of-file fallback). Its
    timestamps are those of all packets, the discarded ones first (before 0), so they run ahead
    of the pictures returned. pyvidfast follows the in-order reading, known on open from the
    packet flags: ``num_pictures`` pictures, and indices from ``padded_from`` to ``len() - 1``
    give the last one. After a seek decord contradicts itself on these files: it identifies the
    picture it decoded by a pts table that includes the discarded packets, so frame ``i`` comes
    ``d`` pictures early on a closed-GOP cut (``d`` discarded) and varies by index on an open
    GOP; on the iibbibb file, whose keyframe indices are decode-order counts, one picture late.
    CogVideoX's SFTDataset reads one range from a fresh reader, in order unless the range
    starts at or past decord's second keyframe index: there its frames differ from ours.
    tests/test_decord_parity.py runs decord on each case (that one a strict xfail). Files
    without discarded packets are unaffected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pyvidfast.io.errors import FrameIndexError

__all__ = ["FrameIndices", "frame_indices"]


@dataclass(frozen=True)
class FrameIndices:
    """What to decode (``distinct``: sorted, no repeats) and how to expand it to the request.

    ``order[k]`` is the position in ``distinct`` of the ``k``-th requested frame; None when the
    request was already sorted and distinct (nothing to expand).
    """

    distinct: list[int]
    order: torch.Tensor | None
    scalar: bool = False  # the request was a single int (for callers that return one frame)

    def __len__(self) -> int:
        return len(self.distinct) if self.order is None else int(self.order.numel())

    def expand(self, frames: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """``frames`` (one entry per ``distinct`` index along ``dim``) in the requested order."""
        if self.order is None:
            return frames
        return frames.index_select(dim, self.order.to(frames.device))


def frame_indices(
    indices: int | Sequence[int] | np.ndarray | torch.Tensor,
    num_frames: int,
    path: object = "",
    num_pictures: int | None = None,
) -> FrameIndices:
    """Check ``indices`` against a stream of ``num_frames`` frames and plan their decode.

    Negative indices count from the end (as decord). Indices from ``num_pictures`` (when given)
    to ``num_frames - 1`` are repeats of picture ``num_pictures - 1`` (Note [padded count]).
    Raises ``TypeError`` for non-integers and ``FrameIndexError`` (an ``IndexError``) naming
    ``path`` for an index out of range.
    """
    if isinstance(indices, torch.Tensor):
        indices = indices.detach().cpu().numpy()
    idx = np.asarray(indices)
    scalar = idx.ndim == 0
    idx = idx.reshape(-1)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"{path}: frame indices must be integers, got {idx.dtype}")
    idx = idx.astype(np.int64)
    idx = np.where(idx < 0, idx + num_frames, idx)
    bad = idx[(idx < 0) | (idx >= num_frames)]
    if bad.size:
        raise FrameIndexError(
            path, f"frame index {int(bad[0])} out of range for {num_frames} frames"
        )
    if num_pictures is not None and 0 < num_pictures < num_frames:
        idx = np.minimum(idx, num_pictures - 1)
    distinct, order = np.unique(idx, return_inverse=True)
    if distinct.size == idx.size and (idx.size < 2 or bool(np.all(idx[1:] > idx[:-1]))):
        return FrameIndices(distinct.tolist(), None, scalar)
    return FrameIndices(distinct.tolist(), torch.from_numpy(order.reshape(-1)), scalar)

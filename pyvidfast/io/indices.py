"""Frame indices, checked and de-duplicated in one place for every reader and clip pipeline.

``frame_indices`` validates what a user or a sampler asks for (integers, decord's negative
indices, the range) and sorts the distinct ones, as torchcodec's ``getFramesAtIndices`` does: a
reader decodes ``distinct`` once, in file order, whatever transform follows works on those
frames, and ``FrameIndices.expand`` puts the repeats and the order back at the very end.

Note [padded count]
    decord 0.6.0 counts an MP4 edit list's discarded packets too: ``len()`` is the pictures that
    decode plus those packets, and read in order, indices past the last picture repeat it.
    pyvidfast follows that in-order reading (``num_pictures``, ``padded_from``); decord's frames
    after a seek on such files contradict it and are not followed. docs/notes.md has the cases;
    tests/test_decord_parity.py runs decord on each.
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

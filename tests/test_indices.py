"""``pyvidfast.io.indices.frame_indices`` with a count padded as decord's (Note [padded count])."""

from __future__ import annotations

import pytest
import torch

from pyvidfast.io.errors import FrameIndexError
from pyvidfast.io.indices import frame_indices
from pyvidfast.io.nvdec.numbering import plan_indices


def test_frame_indices_past_the_pictures_repeat_the_last():
    # 7 pictures, 10 frames: indices 7, 8, 9 (and -3, -2, -1) give picture 6
    plan = frame_indices([9, 0, 6, -2, 7], 10, "x.mp4", 7)
    assert plan.distinct == [0, 6]
    assert plan.expand(torch.tensor([100, 106])).tolist() == [106, 100, 106, 106, 106]
    assert frame_indices([9, 8], 10, num_pictures=7).distinct == [6]
    assert frame_indices([3, 9], 10, num_pictures=10).order is None  # nothing padded
    assert frame_indices([3, 9], 10).distinct == [3, 9]
    with pytest.raises(FrameIndexError, match="out of range for 10"):
        frame_indices([10], 10, "x.mp4", 7)  # the range is still len()'s


def test_nvdec_plans_padded_indices_the_same_way():
    distinct, rows = plan_indices([9, 0, 6, 8], 10, "x.mp4", padded_from=7)
    assert distinct == [0, 6] and rows == [1, 0, 1, 1]

"""The suite's one pixel-agreement rule (../shared/spec/gpu.md, issue 12): two renderings of the
same 8-bit frames agree when at least 99.9% of values lie within 2 levels. Frames normalised the
CogVideoX way (``(x - 127.5) / 127.5``) are compared on the same 0..255 scale."""

from __future__ import annotations

import numpy as np
import torch

LEVELS = 2
MIN_FRACTION = 0.999


def _levels(x, normalised: bool) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    return x * 127.5 + 127.5 if normalised else x


def fraction_within(a, b, levels: float = LEVELS, *, normalised: bool = False) -> float:
    """Fraction of values of ``a`` and ``b`` (uint8 frames, or normalised frames with
    ``normalised=True``; numpy or torch, any device) within ``levels`` of each other."""
    a, b = _levels(a, normalised), _levels(b, normalised)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((np.abs(a - b) <= levels + 1e-4).mean())


def pixels_agree(a, b, *, normalised: bool = False, min_fraction: float = MIN_FRACTION) -> bool:
    return fraction_within(a, b, normalised=normalised) >= min_fraction

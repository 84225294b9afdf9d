"""The CogVideoX rectangle rule and crop offsets (pure functions, no tensors).

Matches ``resize_for_rectangle_crop`` in CogVideoX SAT ``data_video.py``: resize so that the side the
aspect ratio dictates matches the target exactly, then crop the other side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

CROP_MODES = ("center", "random")


def positive_size(size: Any, name: str = "size") -> tuple[int, int]:
    try:
        th, tw = size
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (height, width), got {name}={size!r}") from None
    for v in (th, tw):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must hold two ints, got {name}={size!r}")
    if th <= 0 or tw <= 0:
        raise ValueError(f"{name} must be positive, got {name}={size!r}")
    return int(th), int(tw)


def rectangle_resize_size(height: int, width: int, size: tuple[int, int]) -> tuple[int, int]:
    """Size ``(new_h, new_w)`` the CogVideoX rule resizes a ``height x width`` frame to.

    If ``width / height > Wt / Ht`` (float comparison, as the reference) the height becomes ``Ht``
    and the width ``floor(width * Ht / height)``; otherwise (equal ratios included) the width becomes
    ``Wt`` and the height ``floor(height * Wt / width)``. Both results are >= the target, so the
    crop always fits: the products are exact in float64 and a non-integer quotient is at least
    1/width away from an integer.

    >>> rectangle_resize_size(1080, 1920, (480, 720))
    (480, 853)
    """
    th, tw = positive_size(size)
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size must be positive, got height={height}, width={width}")
    if width / height > tw / th:
        return th, int(width * th / height)
    return int(height * tw / width), tw


def crop_offsets(
    height: int,
    width: int,
    size: tuple[int, int],
    crop: str | tuple[int, int] = "center",
    generator: torch.Generator | np.random.Generator | None = None,
) -> tuple[int, int]:
    """``(top, left)`` of the ``size`` crop inside a ``height x width`` (resized) frame.

    ``crop="center"``: ``((height - Ht) // 2, (width - Wt) // 2)`` as the reference.
    ``crop="random"``: ``top`` then ``left`` drawn uniformly in ``[0, delta]`` inclusive, from
    ``generator`` (a ``torch.Generator`` or ``numpy.random.Generator``) or, when it is None, from
    numpy's global state as the reference's ``np.random.randint`` does.
    ``crop=(top, left)``: checked to lie inside the frame.
    """
    th, tw = positive_size(size)
    dh, dw = height - th, width - tw
    if dh < 0 or dw < 0:
        raise ValueError(
            f"size={size!r} is larger than the resized frame {height}x{width} (height x width)"
        )
    if isinstance(crop, str):
        if crop == "center":
            return dh // 2, dw // 2
        if crop == "random":
            if generator is None:
                return int(np.random.randint(0, dh + 1)), int(np.random.randint(0, dw + 1))
            if isinstance(generator, torch.Generator):
                top = torch.randint(0, dh + 1, (1,), generator=generator).item()
                left = torch.randint(0, dw + 1, (1,), generator=generator).item()
                return int(top), int(left)
            if isinstance(generator, np.random.Generator):
                return int(generator.integers(0, dh + 1)), int(generator.integers(0, dw + 1))
            raise TypeError(
                "generator must be a torch.Generator, numpy.random.Generator or None, "
                f"got generator={generator!r}"
            )
        raise ValueError(f"crop must be 'center', 'random' or (top, left), got crop={crop!r}")
    try:
        top, left = crop
    except (TypeError, ValueError):
        raise TypeError(
            f"crop must be 'center', 'random' or (top, left), got crop={crop!r}"
        ) from None
    for v in (top, left):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"crop (top, left) must be ints, got crop={crop!r}")
    if not (0 <= top <= dh and 0 <= left <= dw):
        raise ValueError(
            f"crop={crop!r} puts the {th}x{tw} window outside the resized {height}x{width} frame "
            f"(top must be in [0, {dh}], left in [0, {dw}])"
        )
    return int(top), int(left)


# resized (height, width) -> crop (top, left), drawn once per size in one call
Drawn = dict[tuple[int, int], tuple[int, int]]


def resized_crop(
    height: int,
    width: int,
    size: tuple[int, int],
    resize_hw: Any,
    crop: Any,
    generator: Any,
    drawn: Drawn,
) -> tuple[int, int, int, int]:
    """``(resize_h, resize_w, top, left)`` of a ``height x width`` frame: the rectangle rule (or
    ``resize_hw``) and ``crop_offsets``. ``drawn`` remembers the offsets per resized size across
    the frames of one call, so a random crop is drawn once per size, in order of first appearance,
    and frames of one clip share it."""
    if resize_hw is None:
        rh, rw = rectangle_resize_size(height, width, size)
    else:
        rh, rw = positive_size(resize_hw, "resize_hw")
    if (rh, rw) not in drawn:
        drawn[(rh, rw)] = crop_offsets(rh, rw, size, crop, generator)
    top, left = drawn[(rh, rw)]
    return rh, rw, top, left

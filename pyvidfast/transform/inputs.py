"""Input rules of the RGB resize ops: uint8 frames as a tensor, their layout, the thread count."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["INPUT_LAYOUTS", "as_thwc", "as_uint8_frames", "check_threads"]

INPUT_LAYOUTS = ("THWC", "TCHW")


def _layout_of(frames: torch.Tensor, input_layout: str | None) -> str:
    if input_layout is None:
        # Channels-last wins when both dims are 3 ([T, 3, W, 3] is ambiguous): decoders give THWC.
        if frames.shape[3] == 3:
            return "THWC"
        if frames.shape[1] == 3:
            return "TCHW"
        raise ValueError(
            "frames must have 3 channels in dim 3 ([T, H, W, 3]) or dim 1 ([T, 3, H, W]), "
            f"got frames.shape={tuple(frames.shape)}"
        )
    if input_layout not in INPUT_LAYOUTS:
        raise ValueError(f"input_layout must be 'THWC', 'TCHW' or None, got {input_layout!r}")
    channel_dim = 3 if input_layout == "THWC" else 1
    if frames.shape[channel_dim] != 3:
        raise ValueError(
            f"frames must have 3 channels in dim {channel_dim} for input_layout={input_layout!r}, "
            f"got frames.shape={tuple(frames.shape)}"
        )
    return input_layout


def as_uint8_frames(frames: Any, input_layout: str | None) -> tuple[torch.Tensor, str]:
    """A 4-D uint8 tensor (zero-copy from numpy) and its layout, "THWC" or "TCHW"."""
    if isinstance(frames, np.ndarray):
        if frames.dtype != np.uint8:
            raise TypeError(f"frames must be uint8, got frames.dtype={frames.dtype}")
        if any(st < 0 for st in frames.strides):  # torch cannot view negative strides
            frames = np.ascontiguousarray(frames)
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise TypeError(
            f"frames must be a torch.Tensor or numpy.ndarray, got {type(frames).__name__}"
        )
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8, got frames.dtype={frames.dtype}")
    if frames.dim() != 4:
        raise ValueError(
            f"frames must be 4-D [T, H, W, 3] or [T, 3, H, W], got frames.shape={tuple(frames.shape)}"
        )
    return frames, _layout_of(frames, input_layout)


def as_thwc(frames: Any, input_layout: str | None) -> torch.Tensor:
    """``as_uint8_frames`` as a [T, H, W, 3] view (no copy)."""
    x, layout = as_uint8_frames(frames, input_layout)
    return x if layout == "THWC" else x.permute(0, 2, 3, 1)


def check_threads(num_threads: Any) -> int:
    if num_threads is None:
        return max(1, torch.get_num_threads())
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise TypeError(f"num_threads must be an int or None, got num_threads={num_threads!r}")
    if num_threads <= 0:
        raise ValueError(f"num_threads must be positive, got num_threads={num_threads}")
    return int(num_threads)

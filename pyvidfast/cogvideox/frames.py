"""From chosen frame indices to the sample tensor, decoding and resizing each distinct frame once."""

from __future__ import annotations

import torch

from pyvidfast.io.reader import VideoReader
from pyvidfast.transform import check_output_spec, resize_crop_normalize


def check_options(out_dtype: torch.dtype | str, layout: str) -> torch.dtype:
    """Validate the extra keyword options the datasets take; returns the torch dtype."""
    return check_output_spec(out_dtype, layout, allow_uint8=False, allow_names=True)


def sample_tensor(
    reader: VideoReader,
    indices: list[int],
    size: tuple[int, int],
    out_dtype: torch.dtype = torch.float32,
    layout: str = "TCHW",
) -> torch.Tensor:
    """Frames ``indices`` of ``reader`` -> resize_for_rectangle_crop(center) -> (x-127.5)/127.5.

    Equal to resizing ``reader.get_batch(indices)`` frame by frame (the resize is per frame), but
    a frame that repeats (last-frame padding) is decoded and resized once.
    """
    distinct = sorted(set(indices))
    frames = reader.get_batch(distinct)  # uint8 [N, H, W, 3]
    out = resize_crop_normalize(frames, size, crop="center", out_dtype=out_dtype, layout=layout)
    if distinct == indices:
        return out
    where = {i: k for k, i in enumerate(distinct)}
    gather = torch.tensor([where[i] for i in indices])
    return out.index_select(0 if layout == "TCHW" else 1, gather)

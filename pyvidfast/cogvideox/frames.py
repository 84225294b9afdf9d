"""From chosen frame indices to the sample tensor, decoding and resizing each distinct frame once."""

from __future__ import annotations

import torch

from pyvidfast.io.indices import frame_indices
from pyvidfast.io.reader import VideoReader
from pyvidfast.transform import resize_crop_normalize

_DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
_LAYOUTS = ("TCHW", "CTHW")


def check_options(out_dtype: torch.dtype | str, layout: str) -> torch.dtype:
    """Validate the extra keyword options the datasets take; returns the torch dtype."""
    if isinstance(out_dtype, str):
        if out_dtype not in _DTYPES:
            raise ValueError(f"out_dtype must be one of {sorted(_DTYPES)}, got {out_dtype!r}")
        out_dtype = _DTYPES[out_dtype]
    if out_dtype not in _DTYPES.values():
        raise ValueError(
            f"out_dtype must be torch.float32, torch.bfloat16 or torch.float16, got {out_dtype}"
        )
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'TCHW' or 'CTHW', got layout={layout!r}")
    return out_dtype


def sample_tensor(
    reader: VideoReader,
    indices: list[int],
    size: tuple[int, int],
    out_dtype: torch.dtype = torch.float32,
    layout: str = "TCHW",
) -> torch.Tensor:
    """Frames ``indices`` of ``reader`` -> resize_for_rectangle_crop(center) -> (x-127.5)/127.5.

    Equal to resizing ``reader.get_batch(indices)`` frame by frame (the resize is per frame), but
    the indices are checked and de-duplicated once (``pyvidfast.io.indices.frame_indices``): a
    frame that repeats (last-frame padding) is decoded and resized once, and the repeats are put
    back on the output.
    """
    request = frame_indices(indices, len(reader), reader.path)
    frames = reader.get_frames(request)  # uint8 [distinct, H, W, 3]
    out = resize_crop_normalize(frames, size, crop="center", out_dtype=out_dtype, layout=layout)
    return request.expand(out, 0 if layout == "TCHW" else 1)

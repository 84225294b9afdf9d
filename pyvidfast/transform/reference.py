"""Plain-torch resize -> crop -> normalise: the test oracle and the fallback without ``_C``.

It is the CogVideoX SAT chain written out: torchvision ``resize(..., BICUBIC)`` on a uint8 tensor
(antialias=True) is float32 ``F.interpolate(mode="bicubic", align_corners=False, antialias=True)``,
``clamp(0, 255)``, ``round`` (half to even) and a cast back to uint8, with the input returned
unchanged when the size does not change; then the crop; then ``(x - 127.5) / 127.5`` in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_uint8(frames: torch.Tensor, resize_hw: tuple[int, int]) -> torch.Tensor:
    """torchvision's uint8 antialiased bicubic resize of ``[T, 3, H, W]`` uint8 frames."""
    if tuple(frames.shape[-2:]) == tuple(resize_hw):
        return frames  # torchvision returns the input unchanged for an equal size
    out = F.interpolate(
        frames.float(), size=tuple(resize_hw), mode="bicubic", align_corners=False, antialias=True
    )
    return out.clamp_(0, 255).round_().to(torch.uint8)


def normalize(frames_u8: torch.Tensor, out_dtype: torch.dtype) -> torch.Tensor:
    """``(x - 127.5) / 127.5`` computed in float32 then cast (uint8 passes through)."""
    if out_dtype == torch.uint8:
        return frames_u8
    return ((frames_u8.float() - 127.5) / 127.5).to(out_dtype)


def resize_crop_normalize_reference(
    frames_tchw: torch.Tensor,
    resize_hw: tuple[int, int],
    top: int,
    left: int,
    size: tuple[int, int],
    out_dtype: torch.dtype,
    layout: str,
) -> torch.Tensor:
    """Reference for already-validated arguments: uint8 ``[T, 3, H, W]`` in, contiguous out."""
    th, tw = size
    resized = resize_uint8(frames_tchw, resize_hw)
    cropped = resized[..., top : top + th, left : left + tw]
    out = normalize(cropped, out_dtype)
    if layout == "CTHW":
        out = out.permute(1, 0, 2, 3)
    out = out.contiguous()
    if out.data_ptr() == frames_tchw.data_ptr():
        out = out.clone()  # never hand back the caller's buffer (uint8, equal size, no crop)
    return out

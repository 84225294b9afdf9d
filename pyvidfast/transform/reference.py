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


# ff_yuv2rgb_coeffs rows {crv, cbu, cgu, cgv} (FFmpeg libswscale/yuv2rgb.c).
_SWS_COEFFS = {
    "bt601": (104597, 132201, 25675, 53279),
    "bt709": (117489, 138438, 13975, 34925),
    "bt2020": (110013, 140363, 12277, 42626),
}


def _round_to_int16(f: int) -> int:
    r = (f + (1 << 15)) >> 16
    return -0x8000 if r < -0x7FFF else min(r, 0x7FFF)


def _trunc_div(a: int, b: int) -> int:
    """C's integer division (toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def yuv_coeffs(matrix: str, full_range: bool) -> tuple[int, int, int, int, int, int]:
    """swscale's (y, vr, ub, ug, vg, y_offset) pmulhw operands (ff_yuv2rgb_c_init_tables with
    default contrast/saturation/brightness); see Note [matching swscale's yuv2rgb]."""
    crv, cbu, cgu, cgv = _SWS_COEFFS[matrix]
    cgu, cgv = -cgu, -cgv
    cy, oy = 1 << 16, 0
    if not full_range:
        cy, oy = cy * 255 // 219, 16 << 16
    else:
        crv, cbu, cgu, cgv = (_trunc_div(v * 224, 255) for v in (crv, cbu, cgu, cgv))
    return (
        _round_to_int16(cy * 8192),
        _round_to_int16(crv * 8192),
        _round_to_int16(cbu * 8192),
        _round_to_int16(cgu * 8192),
        _round_to_int16(cgv * 8192),
        _round_to_int16(oy * 8),
    )


def yuv_to_rgb_reference(
    luma: torch.Tensor, chroma: torch.Tensor, matrix: str, full_range: bool
) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` of one NV12 (uint8) or P016 (16-bit, value in the high bits) frame.

    Written out in int32 torch ops: nearest chroma (each sample serves its 2x2 pixels), samples
    as ``v << 3`` (8-bit) or ``v >> 5`` (16-bit), pmulhw products ``(a * b) >> 16``, clamp.
    """
    ky, kvr, kub, kug, kvg, koff = yuv_coeffs(matrix, full_range)
    h, w = int(luma.shape[0]), int(luma.shape[1])
    if luma.dtype == torch.uint8:
        y3 = luma.to(torch.int32) << 3
        c3 = chroma.to(torch.int32) << 3
    else:
        y3 = (luma.view(torch.int16).to(torch.int32) & 0xFFFF) >> 5
        c3 = (chroma.view(torch.int16).to(torch.int32) & 0xFFFF) >> 5
    c3 = c3.repeat_interleave(2, 0).repeat_interleave(2, 1)[:h, :w]
    u = c3[..., 0] - (128 << 3)
    v = c3[..., 1] - (128 << 3)
    y = ((y3 - koff) * ky) >> 16
    r = y + ((v * kvr) >> 16)
    g = y + ((u * kug) >> 16) + ((v * kvg) >> 16)
    b = y + ((u * kub) >> 16)
    return torch.stack([r, g, b], -1).clamp_(0, 255).to(torch.uint8)

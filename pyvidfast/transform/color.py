"""NV12 / P016 frames (what NVDEC and FFmpeg decode 4:2:0 video to) -> RGB, or straight to the
CogVideoX tensor: colour conversion, antialiased bicubic resize, crop, normalise in one op.

The colour arithmetic is FFmpeg swscale's (what PyAV's ``frame.to_ndarray(format="rgb24")``
computes for 8-bit 4:2:0 video; see Note [matching swscale's yuv2rgb] in
``csrc/color/yuv_to_rgb.h``); the resize is ``resize_crop_normalize``'s. On CUDA tensors one fused
kernel does everything for the whole batch on the current stream, without host synchronisation;
on CPU tensors the frames are converted to RGB and resized by the CPU kernels (same per-pixel
code). Without the native extension a plain-torch reference runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from pyvidfast import _extension
from pyvidfast.transform.fused import yuv_resize_crop_normalize_fused
from pyvidfast.transform.geometry import Drawn, positive_size, resized_crop
from pyvidfast.transform.reference import (
    resize_crop_normalize_reference,
    yuv_to_rgb_reference,
)
from pyvidfast.transform.resize import resize_crop_normalize
from pyvidfast.transform.spec import (
    MATRICES,
    check_full_range,
    check_matrix,
    check_output_spec,
)

__all__ = ["MATRICES", "yuv_resize_crop_normalize", "yuv_to_rgb"]

_T = TypeVar("_T")

_SAMPLE_DTYPES = (torch.uint8, torch.uint16, torch.int16)


def _as_list(value: Any, name: str) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a list of torch.Tensor (one per frame), got {type(value).__name__}"
        )
    items = list(value)
    for i, t in enumerate(items):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(t).__name__}")
    return items


def _per_frame(value: Any, n: int, name: str, check: Callable[[Any, str], _T]) -> list[_T]:
    """``value`` for every frame: one value for all, or a list of ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one entry per frame ({n}), got {len(value)}")
        return [check(v, f"{name}[{i}]") for i, v in enumerate(value)]
    v = check(value, name)
    return [v] * n


def _check_planes(luma: Any, chroma: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Validated planes: luma[i] [H, W], chroma[i] [ceil(H/2), ceil(W/2), 2], one dtype/device."""
    ys = _as_list(luma, "luma")
    cs = _as_list(chroma, "chroma")
    if len(ys) != len(cs):
        raise ValueError(
            f"luma and chroma must have the same length, got {len(ys)} and {len(cs)} frames"
        )
    for i, (y, c) in enumerate(zip(ys, cs)):
        if y.dtype not in _SAMPLE_DTYPES:
            raise TypeError(
                f"luma[{i}] must be uint8 (NV12) or uint16/int16 (P016), got dtype={y.dtype}"
            )
        if c.dtype != y.dtype:
            raise TypeError(
                f"chroma[{i}] must have luma's dtype {y.dtype}, got chroma[{i}].dtype={c.dtype}"
            )
        if y.dim() != 2 or y.shape[0] == 0 or y.shape[1] == 0:
            raise ValueError(f"luma[{i}] must be a non-empty [H, W] plane, got {tuple(y.shape)}")
        h, w = int(y.shape[0]), int(y.shape[1])
        want = ((h + 1) // 2, (w + 1) // 2, 2)
        if tuple(c.shape) != want:
            raise ValueError(
                f"chroma[{i}] must be [ceil(H/2), ceil(W/2), 2] = {list(want)} for luma[{i}] of "
                f"shape {[h, w]}, got {list(c.shape)}"
            )
        if y.device != ys[0].device or c.device != ys[0].device:
            raise ValueError(
                f"all planes must be on one device, got luma[0] on {ys[0].device}, luma[{i}] on "
                f"{y.device}, chroma[{i}] on {c.device}"
            )
        if (y.dtype == torch.uint8) != (ys[0].dtype == torch.uint8):
            raise TypeError(
                f"all frames must have the same bit depth, got luma[0].dtype={ys[0].dtype} "
                f"and luma[{i}].dtype={y.dtype}"
            )
    return ys, cs


def _native_available() -> bool:
    return _extension.has_native() and hasattr(_extension.native(), "yuv_to_rgb")


def _rgb_of(
    y: torch.Tensor,
    c: torch.Tensor,
    matrix: str,
    full_range: bool,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 [H, W, 3] of one frame on the planes' device (native when built), written into
    ``out`` (channels contiguous) when given."""
    h, w = int(y.shape[0]), int(y.shape[1])
    if not _native_available():
        if y.is_cuda:
            _extension.require_cuda()
        rgb = yuv_to_rgb_reference(y, c, matrix, full_range)
        return rgb if out is None else out.copy_(rgb)
    if out is None:
        out = torch.empty((h, w, 3), dtype=torch.uint8, device=y.device)
    args = dict(
        luma_ptr=y.data_ptr(),
        luma_strides=tuple(int(s) for s in y.stride()),
        chroma_ptr=c.data_ptr(),
        chroma_strides=tuple(int(s) for s in c.stride()),
        size_hw=(h, w),
        sixteen_bit=y.dtype != torch.uint8,
        matrix=matrix,
        full_range=full_range,
        dst_ptr=out.data_ptr(),
        dst_strides=(int(out.stride(0)), int(out.stride(1))),
    )
    if y.is_cuda:
        mod = _extension.require_cuda()
        with torch.cuda.device(y.device):
            stream = torch.cuda.current_stream(y.device).cuda_stream
            mod.yuv_to_rgb_cuda(**args, device=y.device.index, stream=int(stream))
    else:
        _extension.native().yuv_to_rgb(**args, num_threads=max(1, torch.get_num_threads()))
    return out


def yuv_to_rgb(
    luma: Sequence[torch.Tensor],
    chroma: Sequence[torch.Tensor],
    *,
    matrix: str | Sequence[str] = "bt709",
    full_range: bool | Sequence[bool] = False,
) -> torch.Tensor:
    """uint8 RGB ``[N, H, W, 3]`` of N same-size 4:2:0 frames given as planes.

    Args:
        luma: per frame a ``[H, W]`` plane, uint8 (NV12) or uint16/int16 (P016: the sample in the
            high bits, e.g. 10-bit P010), any strides (a row pitch > W is fine).
        chroma: per frame the ``[ceil(H/2), ceil(W/2), 2]`` interleaved U, V plane, same dtype.
        matrix: "bt601", "bt709" or "bt2020" (one for all frames or a list).
        full_range: False for limited (studio, 16-235) range, True for full range (``yuvj*``).

    Each chroma sample serves its 2x2 luma pixels and the arithmetic is swscale's fixed point:
    PyAV's ``to_ndarray(format="rgb24")`` of 8-bit frames, bit for bit. On CUDA the kernels run
    on the current stream without host synchronisation.
    """
    ys, cs = _check_planes(luma, chroma)
    n = len(ys)
    matrices = _per_frame(matrix, n, "matrix", check_matrix)
    ranges = _per_frame(full_range, n, "full_range", check_full_range)
    if n == 0:
        return torch.empty((0, 0, 0, 3), dtype=torch.uint8)
    h, w = ys[0].shape
    for i, y in enumerate(ys):
        if tuple(y.shape) != (h, w):
            raise ValueError(
                f"yuv_to_rgb needs same-size frames, got luma[0] {[int(h), int(w)]} and "
                f"luma[{i}] {list(y.shape)} (use yuv_resize_crop_normalize for mixed sizes)"
            )
    out = torch.empty((n, int(h), int(w), 3), dtype=torch.uint8, device=ys[0].device)
    for i in range(n):
        _rgb_of(ys[i], cs[i], matrices[i], ranges[i], out=out[i])
    return out


def yuv_resize_crop_normalize(
    luma: torch.Tensor | Sequence[torch.Tensor],
    chroma: torch.Tensor | Sequence[torch.Tensor],
    size: tuple[int, int],
    *,
    matrix: str | Sequence[str] = "bt709",
    full_range: bool | Sequence[bool] = False,
    crop: str | tuple[int, int] = "center",
    out_dtype: torch.dtype = torch.bfloat16,
    layout: str = "TCHW",
    generator: torch.Generator | np.random.Generator | None = None,
    resize_hw: tuple[int, int] | None = None,
) -> torch.Tensor:
    """4:2:0 planes -> RGB -> CogVideoX resize -> crop -> normalise, for N frames at once.

    Args:
        luma, chroma, matrix, full_range: as ``yuv_to_rgb``, except that frames may differ in
            size (and matrix/range, given as per-frame lists). A ``[N, H, W]`` luma tensor with a
            ``[N, ceil(H/2), ceil(W/2), 2]`` chroma tensor is a batch of N frames (on CUDA its host
            cost does not grow with N); list items may also be such batches, and ``matrix`` /
            ``full_range`` lists then hold one entry per item.
        size: ``(Ht, Wt)`` of every output frame. Each frame is resized by the CogVideoX
            rectangle rule for its own size (or to ``resize_hw``) and cropped.
        crop: "center", "random" or ``(top, left)``. A random crop is drawn once per distinct
            resized size, in order of first appearance, so frames of one clip share it.
        out_dtype, layout, generator: as ``resize_crop_normalize``.

    Returns:
        ``[N, 3, Ht, Wt]`` (TCHW) or ``[3, N, Ht, Wt]`` (CTHW) on the planes' device. Equal to
        ``resize_crop_normalize(yuv_to_rgb(...), ...)`` per frame. On CUDA it is one fused kernel
        launch per 64 frames, asynchronous on the current stream, with plans cached per
        geometry (``pyvidfast.transform.fused``).
    """
    batched = isinstance(luma, torch.Tensor)
    if _first_plane(luma).is_cuda:
        return yuv_resize_crop_normalize_fused(
            luma,
            chroma,
            size,
            matrix=matrix,
            full_range=full_range,
            crop=crop,
            out_dtype=out_dtype,
            layout=layout,
            generator=generator,
            resize_hw=resize_hw,
        )
    if batched and isinstance(chroma, torch.Tensor):
        luma, chroma = list(luma), list(chroma)
    ys, cs = _check_planes(luma, chroma)
    return _yuv_resize_cpu(
        ys, cs, size, matrix, full_range, crop, out_dtype, layout, generator, resize_hw
    )


def _first_plane(luma: Any) -> torch.Tensor:
    """The first plane of ``luma`` (a CPU stand-in when there is none), to pick the device."""
    first = luma if isinstance(luma, torch.Tensor) else None
    if first is None and isinstance(luma, Sequence) and len(luma) > 0:
        first = luma[0]
    return first if isinstance(first, torch.Tensor) else torch.empty(0)


def _yuv_resize_cpu(
    ys: list[torch.Tensor],
    cs: list[torch.Tensor],
    size: Any,
    matrix: Any,
    full_range: Any,
    crop: Any,
    out_dtype: Any,
    layout: Any,
    generator: Any,
    resize_hw: Any,
) -> torch.Tensor:
    """Per frame: RGB by the shared colour code, then the CPU resize kernel into its slot."""
    n = len(ys)
    th, tw = positive_size(size)
    matrices = _per_frame(matrix, n, "matrix", check_matrix)
    ranges = _per_frame(full_range, n, "full_range", check_full_range)
    out_dtype = check_output_spec(out_dtype, layout)
    device = ys[0].device if n else torch.device("cpu")
    out = torch.empty(
        (n, 3, th, tw) if layout == "TCHW" else (3, n, th, tw), dtype=out_dtype, device=device
    )
    out_tchw = out if layout == "TCHW" else out.permute(1, 0, 2, 3)
    drawn: Drawn = {}
    for i, (y, c) in enumerate(zip(ys, cs)):
        h, w = int(y.shape[0]), int(y.shape[1])
        rh, rw, top, left = resized_crop(h, w, (th, tw), resize_hw, crop, generator, drawn)
        rgb = _rgb_of(y, c, matrices[i], ranges[i])[None]
        if _native_available():
            out_tchw[i] = resize_crop_normalize(
                rgb, (th, tw), (top, left), out_dtype, resize_hw=(rh, rw)
            )[0]
        else:
            out_tchw[i] = resize_crop_normalize_reference(
                rgb.permute(0, 3, 1, 2), (rh, rw), top, left, (th, tw), out_dtype, "TCHW"
            )[0]
    return out

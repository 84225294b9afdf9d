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

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pyvidfast import _extension
from pyvidfast.transform.geometry import _positive_size, crop_offsets, rectangle_resize_size
from pyvidfast.transform.reference import (
    resize_crop_normalize_reference,
    yuv_to_rgb_reference,
)

__all__ = ["yuv_resize_crop_normalize", "yuv_to_rgb"]

MATRICES = ("bt601", "bt709", "bt2020")
_SAMPLE_DTYPES = (torch.uint8, torch.uint16, torch.int16)
_OUT_DTYPES = {
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
    torch.uint8: "uint8",
}


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


def _per_frame(value: Any, n: int, name: str, check) -> list:
    """``value`` for every frame: one value for all, or a list of ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one entry per frame ({n}), got {len(value)}")
        return [check(v, f"{name}[{i}]") for i, v in enumerate(value)]
    v = check(value, name)
    return [v] * n


def _check_matrix(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, got {name}={v!r}")
    if v not in MATRICES:
        raise ValueError(f"{name} must be one of {MATRICES}, got {name}={v!r}")
    return v


def _check_bool(v: Any, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {name}={v!r}")
    return bool(v)


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


def _fma() -> bool:
    from pyvidfast.transform import _fma_mode  # the CPU op's choice, so CUDA equals CPU

    return _fma_mode()


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
    matrices = _per_frame(matrix, n, "matrix", _check_matrix)
    ranges = _per_frame(full_range, n, "full_range", _check_bool)
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


def _geometry(
    h: int, w: int, size: tuple[int, int], resize_hw: Any, crop: Any, generator: Any, cache: dict
) -> tuple[int, int, int, int]:
    """(resize_h, resize_w, top, left) of one frame; a random crop is drawn once per geometry."""
    if resize_hw is None:
        rh, rw = rectangle_resize_size(h, w, size)
    else:
        rh, rw = _positive_size(resize_hw, "resize_hw")
    key = (rh, rw)
    if key not in cache:
        cache[key] = crop_offsets(rh, rw, size, crop, generator)
    top, left = cache[key]
    return rh, rw, top, left


def yuv_resize_crop_normalize(
    luma: Sequence[torch.Tensor],
    chroma: Sequence[torch.Tensor],
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
            size (and matrix/range, given as per-frame lists).
        size: ``(Ht, Wt)`` of every output frame. Each frame is resized by the CogVideoX
            rectangle rule for its own size (or to ``resize_hw``) and cropped.
        crop: "center", "random" or ``(top, left)``. A random crop is drawn once per distinct
            resized size, in order of first appearance, so frames of one clip share it.
        out_dtype, layout, generator: as ``resize_crop_normalize``.

    Returns:
        ``[N, 3, Ht, Wt]`` (TCHW) or ``[3, N, Ht, Wt]`` (CTHW) on the planes' device. Equal to
        ``resize_crop_normalize(yuv_to_rgb(...), ...)`` per frame. On CUDA it is one fused kernel
        launch for the whole batch, asynchronous on the current stream (the small per-batch table
        of weights goes up by a non-blocking copy from pinned memory).
    """
    ys, cs = _check_planes(luma, chroma)
    fused = bool(ys) and ys[0].is_cuda
    return _yuv_resize(
        ys, cs, size, matrix, full_range, crop, out_dtype, layout, generator, resize_hw, fused
    )


def _yuv_resize(
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
    fused: bool,
) -> torch.Tensor:
    """yuv_resize_crop_normalize on validated planes; ``fused`` runs the fused kernel (on CUDA,
    or its CPU emulation for CPU tensors: the tests' way to check the kernel without a GPU)."""
    n = len(ys)
    th, tw = _positive_size(size)
    matrices = _per_frame(matrix, n, "matrix", _check_matrix)
    ranges = _per_frame(full_range, n, "full_range", _check_bool)
    if not isinstance(out_dtype, torch.dtype):
        raise TypeError(f"out_dtype must be a torch.dtype, got out_dtype={out_dtype!r}")
    if out_dtype not in _OUT_DTYPES:
        raise ValueError(
            "out_dtype must be torch.float32, torch.bfloat16, torch.float16 or torch.uint8, "
            f"got out_dtype={out_dtype}"
        )
    if layout not in ("TCHW", "CTHW"):
        raise ValueError(f"layout must be 'TCHW' or 'CTHW', got layout={layout!r}")
    device = ys[0].device if n else torch.device("cpu")
    shape = (n, 3, th, tw) if layout == "TCHW" else (3, n, th, tw)
    out = torch.empty(shape, dtype=out_dtype, device=device)
    if n == 0:
        return out
    out_tchw = out if layout == "TCHW" else out.permute(1, 0, 2, 3)
    cache: dict = {}
    geoms = [
        _geometry(int(y.shape[0]), int(y.shape[1]), (th, tw), resize_hw, crop, generator, cache)
        for y in ys
    ]

    if fused:
        mod = _extension.require_cuda() if device.type == "cuda" else _extension.native()
        kind = "nv12" if ys[0].dtype == torch.uint8 else "p016"
        frames = [
            (
                y.data_ptr(),
                c.data_ptr(),
                int(y.stride(0)),
                int(y.stride(1)),
                0,
                int(c.stride(0)),
                int(c.stride(1)),
                int(c.stride(2)),
                int(y.shape[0]),
                int(y.shape[1]),
                int(fr),
                *g,
            )
            for y, c, fr, g in zip(ys, cs, ranges, geoms)
        ]
        _launch_fused(mod, kind, frames, matrices, (th, tw), out_tchw, out_dtype, device)
        return out

    # CPU: per frame, RGB by the shared colour code, then the CPU resize kernel into its slot.
    from pyvidfast.transform import resize_crop_normalize

    for i, (y, c) in enumerate(zip(ys, cs)):
        rgb = _rgb_of(y, c, matrices[i], ranges[i])[None]
        rh, rw, top, left = geoms[i]
        if _native_available():
            out_tchw[i] = resize_crop_normalize(
                rgb, (th, tw), (top, left), out_dtype, resize_hw=(rh, rw)
            )[0]
        else:
            out_tchw[i] = resize_crop_normalize_reference(
                rgb.permute(0, 3, 1, 2), (rh, rw), top, left, (th, tw), out_dtype, "TCHW"
            )[0]
    return out


def _launch_fused(
    mod,
    kind: str,
    frames: list[tuple],
    matrices: list[str],
    crop_hw: tuple[int, int],
    out_tchw: torch.Tensor,
    out_dtype: torch.dtype,
    device: torch.device,
) -> None:
    """Plan on the host, copy the table up without blocking, launch on the current stream (or,
    for CPU tensors, run the kernel's CPU emulation over the host table)."""
    fma = _fma()
    table, nframes, grid_x, grid_y, smem = mod.fused_resize_plan(
        kind=kind, frames=frames, matrices=matrices, crop_hw=crop_hw, fma=fma
    )
    if device.type == "cpu":
        host = torch.frombuffer(bytearray(table), dtype=torch.uint8)
        mod.fused_resize_emulate(
            kind=kind,
            table_ptr=host.data_ptr(),
            frames=nframes,
            grid_x=grid_x,
            grid_y=grid_y,
            dst_strides=tuple(int(s) for s in out_tchw.stride()),
            dst_ptr=out_tchw.data_ptr(),
            out_dtype=_OUT_DTYPES[out_dtype],
            fma=fma,
            num_threads=max(1, torch.get_num_threads()),
        )
        return
    with torch.cuda.device(device):
        # Pinned + non_blocking: the copy is stream-ordered and the caching host allocator keeps
        # the pinned block alive until it completes, so the host never waits.
        host = torch.frombuffer(bytearray(table), dtype=torch.uint8).pin_memory()
        dev_table = host.to(device, non_blocking=True)
        stream = torch.cuda.current_stream(device).cuda_stream
        mod.fused_resize_cuda(
            kind=kind,
            table_ptr=dev_table.data_ptr(),
            frames=nframes,
            grid_x=grid_x,
            grid_y=grid_y,
            smem_bytes=smem,
            crop_hw=crop_hw,
            dst_ptr=out_tchw.data_ptr(),
            dst_strides=tuple(int(s) for s in out_tchw.stride()),
            out_dtype=_OUT_DTYPES[out_dtype],
            fma=fma,
            device=device.index,
            stream=int(stream),
        )


def resize_crop_normalize_fused(
    frames: torch.Tensor,
    size: tuple[int, int],
    crop: str | tuple[int, int] = "center",
    out_dtype: torch.dtype = torch.float32,
    layout: str = "TCHW",
    generator: torch.Generator | np.random.Generator | None = None,
    *,
    input_layout: str | None = None,
    resize_hw: tuple[int, int] | None = None,
) -> torch.Tensor:
    """``resize_crop_normalize`` of uint8 ``[T, H, W, 3]`` or ``[T, 3, H, W]`` frames (any
    strides; the layout detected as ``resize_crop_normalize`` does) by the fused
    one-launch kernel (Note [fused resize kernel]) instead of the three-launch one. Same result.

    CUDA tensors run the kernel on the current stream (asynchronous); CPU tensors run its CPU
    emulation (the same per-block steps one after another: slow, for testing the kernel).
    """
    from pyvidfast.transform import _as_uint8_frames

    x, in_layout = _as_uint8_frames(frames, input_layout)
    frames = x if in_layout == "THWC" else x.permute(0, 2, 3, 1)  # a view, no copy
    mod = _extension.require_cuda() if frames.is_cuda else _extension.native()
    th, tw = _positive_size(size)
    if out_dtype not in _OUT_DTYPES:
        raise ValueError(f"unsupported out_dtype={out_dtype}")
    if layout not in ("TCHW", "CTHW"):
        raise ValueError(f"layout must be 'TCHW' or 'CTHW', got layout={layout!r}")
    t, h, w = (int(v) for v in frames.shape[:3])
    if h == 0 or w == 0:
        raise ValueError(f"frames must have a positive height and width, got {tuple(x.shape)}")
    rh, rw, top, left = _geometry(h, w, (th, tw), resize_hw, crop, generator, {})
    shape = (t, 3, th, tw) if layout == "TCHW" else (3, t, th, tw)
    out = torch.empty(shape, dtype=out_dtype, device=frames.device)
    if t == 0:
        return out
    out_tchw = out if layout == "TCHW" else out.permute(1, 0, 2, 3)
    st = [int(s) for s in frames.stride()]
    base = frames.data_ptr()
    fr = [
        (base + i * st[0], 0, st[1], st[2], st[3], 0, 0, 0, h, w, 0, rh, rw, top, left)
        for i in range(t)
    ]
    _launch_fused(mod, "rgb", fr, ["bt709"] * t, (th, tw), out_tchw, out_dtype, frames.device)
    return out

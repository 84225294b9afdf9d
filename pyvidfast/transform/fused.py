"""The fused resize kernel's host side (Note [fused resize kernel] in
``csrc/transform/cuda/fused_resize_cuda.cu``): NV12 / P016 planes or uint8 RGB -> resize -> crop
-> normalise in one launch per batch.

A call's host cost does not grow with the batch where the frames come as batches: each geometry's
plan (weights, tap windows, tile ranges) is built once by the native module and cached on the
device (``plan_for``), and the frames go to C++ as one record array per call, one row per run of
same-size frames (an ``[N, H, W]`` luma plane is one row), where they are validated and handed to
the kernel as launch parameters. Nothing synchronises with the host. CPU tensors run the kernel's
CPU emulation (the same per-block steps one after another: slow, the tests' way to check the
kernel without a GPU).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch

from pyvidfast import _extension
from pyvidfast.transform.geometry import Drawn, positive_size, resized_crop
from pyvidfast.transform.inputs import as_thwc
from pyvidfast.transform.native import fma_mode
from pyvidfast.transform.spec import (
    MATRIX_CODES,
    OUT_DTYPE_NAMES,
    check_full_range,
    check_matrix,
    check_output_spec,
)

__all__ = [
    "Geometry",
    "plan_for",
    "resize_crop_normalize_fused",
    "yuv_resize_crop_normalize_fused",
]

_PLAN_CACHE_SIZE = 256
# (device, geometry, fma) -> (plan on the device, its summary from pyvidfast._C)
_plans: dict[tuple[torch.device, Geometry, bool], tuple[torch.Tensor, Any]] = {}


@dataclass(frozen=True)
class Geometry:
    """Where one source size goes: resized to ``resize_h x resize_w``, then the ``crop_h x
    crop_w`` window at ``(top, left)``. The key of a cached plan."""

    src_h: int
    src_w: int
    resize_h: int
    resize_w: int
    top: int
    left: int
    crop_h: int
    crop_w: int


def plan_for(geometry: Geometry, fma: bool, device: torch.device) -> tuple[torch.Tensor, Any]:
    """The plan of ``geometry`` on ``device`` (uploaded once, without blocking) and its summary
    (``src_h``, ``src_w``, ``max_cols``, ``x_union``, ``y_union``)."""
    key = (device, geometry, fma)
    hit = _plans.get(key)
    if hit is not None:
        return hit
    mod = _extension.native()
    info = mod.fused_plan(*astuple(geometry), fma=fma)
    data = np.frombuffer(info.data, dtype=np.uint8)
    host = torch.empty(len(data), dtype=torch.uint8)  # 64-byte aligned, unlike a bytes object
    host.numpy()[:] = data
    if device.type == "cuda":
        # Pinned + non_blocking: stream-ordered, and the caching host allocator keeps the pinned
        # block alive until the copy completes. Evicted plans are freed to the caching allocator,
        # which hands them out again only after this stream's queued kernels (stream order).
        plan = host.pin_memory().to(device, non_blocking=True)
    else:
        plan = host
    if len(_plans) >= _PLAN_CACHE_SIZE:
        _plans.clear()
    _plans[key] = (plan, info)
    return plan, info


# The fields of one frame-group record (FrameGroup in csrc/transform/fused_resize.h), all int64.
GROUP_FIELDS = (
    "luma", "chroma", "plan", "count",
    "luma_sn", "luma_sh", "luma_sw", "luma_sc",
    "chroma_sn", "chroma_sh", "chroma_sw", "chroma_sc",
    "height", "width", "chroma_h", "chroma_w", "chroma_c",
    "matrix", "full_range",
    "plan_src_h", "plan_src_w", "plan_max_cols", "plan_x_union", "plan_y_union",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _native_fused() -> ModuleType:
    """The native module, once checked to name the same record fields in the same order."""
    mod = _extension.native()
    native_fields = tuple(mod.fused_group_fields())
    if native_fields != GROUP_FIELDS:
        raise RuntimeError(f"pyvidfast._C's frame-group fields {native_fields} != {GROUP_FIELDS}")
    return mod


def _group_row(
    luma: torch.Tensor,
    chroma: torch.Tensor | None,
    plan: tuple[torch.Tensor, Any],
    matrix: str,
    full_range: bool,
) -> tuple[int, ...]:
    """One record, in GROUP_FIELDS order: ``luma`` is [H, W] or [N, H, W] (or [N, H, W, 3] RGB),
    ``chroma`` [h, w, 2], [N, h, w, 2] or None (RGB)."""
    buf, info = plan
    ls, shape = luma.stride(), luma.shape
    cs: tuple[int, ...] | None
    cshape: tuple[int, ...] | None
    if len(shape) == 2:  # one frame [H, W] with chroma [h, w, 2]
        assert chroma is not None  # _as_groups pairs a 2-D luma with a 3-D chroma
        (h, w), n, ls = shape, 1, (0, *ls, 0)
        cs, cshape = (0, *chroma.stride()), chroma.shape
    else:
        n, h, w = shape[:3]
        ls = ls if len(ls) == 4 else (*ls, 0)
        cs, cshape = (chroma.stride(), chroma.shape[1:]) if chroma is not None else (None, None)
    c_ptr = 0 if chroma is None else chroma.data_ptr()
    c_strides, c_shape = cs or (0, 0, 0, 0), cshape or (0, 0, 0)
    return (
        luma.data_ptr(), c_ptr, buf.data_ptr(), n,
        *ls,
        *c_strides, h, w, *c_shape,
        MATRIX_CODES[matrix], int(full_range),
        info.src_h, info.src_w, info.max_cols, info.x_union, info.y_union,
    )  # fmt: skip


def _run(
    kind: str,
    rows: list[tuple[int, ...]],
    crop_hw: tuple[int, int],
    out_tchw: torch.Tensor,
    out_dtype: torch.dtype,
    fma: bool,
) -> None:
    """Validate the records in C++ and launch on the current stream (or emulate on the CPU)."""
    mod = _native_fused()
    records = np.array(rows, dtype=np.int64)
    dst = (out_tchw.data_ptr(), out_tchw.stride(), OUT_DTYPE_NAMES[out_dtype], fma)
    if out_tchw.is_cuda:
        stream = torch.cuda.current_stream(out_tchw.device).cuda_stream
        mod.fused_resize_cuda(kind, records, crop_hw, *dst, out_tchw.device.index, stream)
    else:
        mod.fused_resize_emulate(kind, records, crop_hw, *dst, max(1, torch.get_num_threads()))


def _output(
    n: int, size: tuple[int, int], out_dtype: torch.dtype, layout: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The new output and its [t, c, y, x] view."""
    th, tw = size
    out = torch.empty(
        (n, 3, th, tw) if layout == "TCHW" else (3, n, th, tw), dtype=out_dtype, device=device
    )
    return out, (out if layout == "TCHW" else out.permute(1, 0, 2, 3))


def _as_groups(luma: Any, chroma: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Luma and chroma items: a pair of tensors is one [N, H, W] / [N, h, w, 2] batch, lists
    hold single frames ([H, W] / [h, w, 2]) or batches."""
    if isinstance(luma, torch.Tensor) and isinstance(chroma, torch.Tensor):
        luma, chroma = [luma], [chroma]
    if isinstance(luma, torch.Tensor) or not isinstance(luma, Sequence):
        raise TypeError(f"luma must be a tensor or a list of tensors, got {type(luma).__name__}")
    if isinstance(chroma, torch.Tensor) or not isinstance(chroma, Sequence):
        raise TypeError(f"chroma must be a list like luma, got {type(chroma).__name__}")
    if len(luma) != len(chroma):
        raise ValueError(
            f"luma and chroma must have the same length, got {len(luma)} and {len(chroma)}"
        )
    for i, (y, c) in enumerate(zip(luma, chroma)):
        if not isinstance(y, torch.Tensor) or not isinstance(c, torch.Tensor):
            raise TypeError(f"luma[{i}] and chroma[{i}] must be torch.Tensor")
        ny, nc = y.dim(), c.dim()
        if not ((ny == 2 and nc == 3) or (ny == 3 and nc == 4 and c.shape[0] == y.shape[0])):
            raise ValueError(
                f"luma[{i}] must be [H, W] or [N, H, W] and chroma[{i}] [h, w, 2] or [N, h, w, 2] "
                f"with the same N, got {tuple(y.shape)} and {tuple(c.shape)}"
            )
    return list(luma), list(chroma)


def _kind_of(ys: list[torch.Tensor], cs: list[torch.Tensor]) -> str:
    dtype, device = ys[0].dtype, ys[0].device
    if dtype not in (torch.uint8, torch.uint16, torch.int16):
        raise TypeError(f"luma must be uint8 (NV12) or uint16/int16 (P016), got dtype={dtype}")
    for i, (y, c) in enumerate(zip(ys, cs)):
        if y.dtype != dtype or c.dtype != dtype:
            raise TypeError(
                f"all planes must have one dtype, got {dtype}, luma[{i}] {y.dtype} and "
                f"chroma[{i}] {c.dtype}"
            )
        if y.device != device or c.device != device:
            raise ValueError(f"all planes must be on one device, got {device} and {y.device}")
    return "nv12" if dtype == torch.uint8 else "p016"


def _each(value: Any, n: int, name: str) -> list[Any]:
    """``value`` for each of ``n`` groups: one value for all, or a list of ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one entry per group ({n}), got {len(value)}")
        return list(value)
    return [value] * n


def yuv_resize_crop_normalize_fused(
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
    """``yuv_resize_crop_normalize`` by the fused kernel, one launch per 64 frames.

    ``luma`` / ``chroma``: one ``[N, H, W]`` / ``[N, ceil(H/2), ceil(W/2), 2]`` batch, or lists
    whose items are single frames (2-D / 3-D) or such batches; ``matrix`` and ``full_range`` are
    one value or one per item. The host cost grows with the number of items, not of frames, so a
    decoder that fills one batch tensor pays the same for 1 or 1000 frames. CUDA tensors: the
    kernel on the current stream, asynchronous; CPU tensors: its CPU emulation (for testing).
    """
    ys, cs = _as_groups(luma, chroma)
    th, tw = positive_size(size)
    out_dtype = check_output_spec(out_dtype, layout)
    matrices = [check_matrix(m, "matrix") for m in _each(matrix, len(ys), "matrix")]
    ranges = [check_full_range(r, "full_range") for r in _each(full_range, len(ys), "full_range")]
    n = sum(1 if y.dim() == 2 else int(y.shape[0]) for y in ys)
    device = ys[0].device if ys else torch.device("cpu")
    out, out_tchw = _output(n, (th, tw), out_dtype, layout, device)
    if n == 0:
        return out
    kind = _kind_of(ys, cs)
    fma = fma_mode()  # the CPU op's choice, so CUDA equals CPU
    drawn: Drawn = {}
    plans: dict[tuple[int, int], tuple[torch.Tensor, Any]] = {}  # (h, w) -> plan, for this call
    rows: list[tuple[int, ...]] = []
    for y, c, m, fr in zip(ys, cs, matrices, ranges):
        h, w = y.shape[-2:]
        if y.dim() == 3 and y.shape[0] == 0:
            continue
        plan = plans.get((h, w))
        if plan is None:
            where = resized_crop(h, w, (th, tw), resize_hw, crop, generator, drawn)
            plan = plans[(h, w)] = plan_for(Geometry(h, w, *where, th, tw), fma, device)
        rows.append(_group_row(y, c, plan, m, fr))
    _run(kind, rows, (th, tw), out_tchw, out_dtype, fma)
    return out


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
    strides; the layout detected as ``resize_crop_normalize`` does) by the fused kernel. Same
    result. CUDA tensors: the kernel on the current stream (asynchronous); CPU tensors: its CPU
    emulation (slow, for testing the kernel)."""
    x = as_thwc(frames, input_layout)
    th, tw = positive_size(size)
    out_dtype = check_output_spec(out_dtype, layout)
    t, h, w = (int(v) for v in x.shape[:3])
    if h == 0 or w == 0:
        raise ValueError(f"frames must have a positive height and width, got {tuple(x.shape)}")
    out, out_tchw = _output(t, (th, tw), out_dtype, layout, x.device)
    if t == 0:
        return out
    fma = fma_mode()  # the CPU op's choice, so CUDA equals CPU
    where = resized_crop(h, w, (th, tw), resize_hw, crop, generator, {})
    plan = plan_for(Geometry(h, w, *where, th, tw), fma, x.device)
    _run("rgb", [_group_row(x, None, plan, "bt709", False)], (th, tw), out_tchw, out_dtype, fma)
    return out

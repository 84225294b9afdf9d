"""The native RGB resize op (CPU kernels, or the three-launch CUDA kernel) and the FMA choice
every native kernel follows."""

from __future__ import annotations

import functools
import platform

import torch

from pyvidfast import _extension
from pyvidfast.transform.spec import OUT_DTYPE_NAMES

__all__ = ["fma_mode", "native_available", "resize_crop_normalize_native"]


@functools.lru_cache(maxsize=1)
def fma_mode() -> bool:
    """Whether the native kernels fuse multiply-adds, to equal torch's CPU kernels bit for bit.

    torch's AVX2/AVX512 CPU kernels are compiled with FMA contraction, its DEFAULT kernels are not
    (see Note [FMA mode] in csrc/transform/resize_weights.h); follow the one this process runs. On
    other architectures the plain variant is used.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    capability = torch.backends.cpu.get_cpu_capability().upper()
    return capability.startswith(("AVX2", "AVX512")) and _extension.native().cpu_has_fma()


def native_available() -> bool:
    return _extension.has_native() and hasattr(_extension.native(), "resize_crop_normalize")


def resize_crop_normalize_native(
    x_thwc: torch.Tensor,
    resize_hw: tuple[int, int],
    crop_tl: tuple[int, int],
    size: tuple[int, int],
    out_dtype: torch.dtype,
    layout: str,
    threads: int,
) -> torch.Tensor:
    """The native op on checked arguments: CPU kernels on all ``threads``, or on CUDA tensors the
    three-launch kernel on the current stream (asynchronous)."""
    mod = _extension.require_cuda() if x_thwc.is_cuda else _extension.native()
    t, h, w = (int(s) for s in x_thwc.shape[:3])
    th, tw = size
    shape = (t, 3, th, tw) if layout == "TCHW" else (3, t, th, tw)
    out = torch.empty(shape, dtype=out_dtype, device=x_thwc.device)
    if t == 0:
        return out
    out_tchw = out if layout == "TCHW" else out.permute(1, 0, 2, 3)  # indexed [t, c, y, x]
    common = dict(
        src_ptr=x_thwc.data_ptr(),
        src_sizes=(t, h, w),
        src_strides=tuple(int(s) for s in x_thwc.stride()),
        resize_hw=resize_hw,
        crop_tl=crop_tl,
        crop_hw=size,
        dst_ptr=out_tchw.data_ptr(),
        dst_strides=tuple(int(s) for s in out_tchw.stride()),
        out_dtype=OUT_DTYPE_NAMES[out_dtype],
        fma=fma_mode(),
    )
    if not x_thwc.is_cuda:
        mod.resize_crop_normalize(**common, num_threads=threads)
        return out
    nbytes = mod.resize_crop_normalize_workspace_bytes(
        src_sizes=(t, h, w), resize_hw=resize_hw, crop_tl=crop_tl, crop_hw=size
    )
    with torch.cuda.device(x_thwc.device):
        workspace = torch.empty(nbytes, dtype=torch.uint8, device=x_thwc.device)
        stream = torch.cuda.current_stream(x_thwc.device).cuda_stream
        mod.resize_crop_normalize_cuda(
            **common,
            device=x_thwc.device.index,
            stream=int(stream),
            workspace_ptr=workspace.data_ptr(),
            workspace_bytes=nbytes,
        )
    return out

"""Resize -> crop -> normalise for video frames, the CogVideoX way, on CPU or CUDA.

``resize_crop_normalize`` applies the CogVideoX rectangle rule (``rectangle_resize_size``),
torchvision's uint8 antialiased bicubic resize, the crop (``crop_offsets``) and
``(x - 127.5) / 127.5``, computing only the pixels that survive the crop. It runs in the native
extension (all cores, GIL released; or a CUDA kernel on the current stream) and falls back to the
plain-torch reference in ``pyvidfast.transform.reference`` when the extension is missing.
"""

from __future__ import annotations

import functools
import platform
from typing import Any

import numpy as np
import torch

from pyvidfast import _extension
from pyvidfast.transform.color import yuv_resize_crop_normalize, yuv_to_rgb
from pyvidfast.transform.geometry import _positive_size, crop_offsets, rectangle_resize_size
from pyvidfast.transform.reference import resize_crop_normalize_reference

__all__ = [
    "crop_offsets",
    "rectangle_resize_size",
    "resize_crop_normalize",
    "yuv_resize_crop_normalize",
    "yuv_to_rgb",
]

_OUT_DTYPES = {
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
    torch.uint8: "uint8",
}
_LAYOUTS = ("TCHW", "CTHW")
_INPUT_LAYOUTS = ("THWC", "TCHW")
_BACKENDS = ("auto", "native", "reference", "fused")


def _as_uint8_frames(frames: Any, input_layout: str | None) -> tuple[torch.Tensor, str]:
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
    if input_layout is None:
        # Channels-last wins when both dims are 3 ([T, 3, W, 3] is ambiguous): decoders give THWC.
        if frames.shape[3] == 3:
            input_layout = "THWC"
        elif frames.shape[1] == 3:
            input_layout = "TCHW"
        else:
            raise ValueError(
                "frames must have 3 channels in dim 3 ([T, H, W, 3]) or dim 1 ([T, 3, H, W]), "
                f"got frames.shape={tuple(frames.shape)}"
            )
    elif input_layout not in _INPUT_LAYOUTS:
        raise ValueError(f"input_layout must be 'THWC', 'TCHW' or None, got {input_layout!r}")
    channel_dim = 3 if input_layout == "THWC" else 1
    if frames.shape[channel_dim] != 3:
        raise ValueError(
            f"frames must have 3 channels in dim {channel_dim} for input_layout={input_layout!r}, "
            f"got frames.shape={tuple(frames.shape)}"
        )
    return frames, input_layout


def _check_threads(num_threads: Any) -> int:
    if num_threads is None:
        return max(1, torch.get_num_threads())
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise TypeError(f"num_threads must be an int or None, got num_threads={num_threads!r}")
    if num_threads <= 0:
        raise ValueError(f"num_threads must be positive, got num_threads={num_threads}")
    return int(num_threads)


@functools.lru_cache(maxsize=1)
def _fma_mode() -> bool:
    """Whether the native kernels fuse multiply-adds, to equal torch's CPU kernels bit for bit.

    torch's AVX2/AVX512 CPU kernels are compiled with FMA contraction, its DEFAULT kernels are not
    (see Note [FMA mode] in csrc/transform/resize_weights.h); follow the one this process runs. On
    other architectures the plain variant is used.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    capability = torch.backends.cpu.get_cpu_capability().upper()
    return capability.startswith(("AVX2", "AVX512")) and _extension.native().cpu_has_fma()


def _native_available() -> bool:
    return _extension.has_native() and hasattr(_extension.native(), "resize_crop_normalize")


def resize_crop_normalize(
    frames: torch.Tensor | np.ndarray,
    size: tuple[int, int],
    crop: str | tuple[int, int] = "center",
    out_dtype: torch.dtype = torch.float32,
    layout: str = "TCHW",
    generator: torch.Generator | np.random.Generator | None = None,
    num_threads: int | None = None,
    *,
    input_layout: str | None = None,
    resize_hw: tuple[int, int] | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Resize uint8 frames by the CogVideoX rectangle rule, crop to ``size``, normalise.

    Args:
        frames: uint8 ``[T, H, W, 3]`` (channels-last, what decoders give) or ``[T, 3, H, W]``;
            a torch tensor (CPU or CUDA, any strides) or a numpy array. The layout is the one
            whose dim holds 3; when both dim 1 and dim 3 are 3 it is taken as ``[T, H, W, 3]``
            unless ``input_layout`` ("THWC" or "TCHW") says otherwise.
        size: ``(Ht, Wt)`` of the output frames.
        crop: "center", "random" (``top``, ``left`` uniform in ``[0, delta]`` from
            ``generator``) or an explicit ``(top, left)`` inside the resized frame.
        out_dtype: torch.float32, torch.bfloat16 or torch.float16 give ``(x - 127.5) / 127.5``
            computed in float32 and rounded to nearest even as ``Tensor.to`` does; torch.uint8
            gives the resized pixels.
        layout: "TCHW" (``[T, 3, Ht, Wt]``, what CogVideoX datasets return) or "CTHW"
            (``[3, T, Ht, Wt]``, what the 3D VAE takes).
        generator: ``torch.Generator`` or ``numpy.random.Generator`` for ``crop="random"``.
        num_threads: CPU threads (default ``torch.get_num_threads()``); ignored on CUDA.
        input_layout: overrides the layout detection of ``frames``.
        resize_hw: resize to exactly this ``(H, W)`` instead of the rectangle rule (then crop
            ``size`` out of it as ``crop`` says).
        backend: "auto" (native when built, else the torch reference), "native", "reference"
            or "fused" (the one-launch kernel of ``yuv_resize_crop_normalize``, for RGB input;
            on CPU tensors its CPU emulation, which is slow and meant for testing).

    Returns:
        A new contiguous tensor on the input's device. On CUDA the kernel runs asynchronously on
        the current torch stream (no host synchronisation).

    The resize is torchvision's ``resize(..., BICUBIC, antialias=True)`` on uint8: float32 PIL-style
    separable filter (a = -0.5), horizontal pass first, clamp to [0, 255], round half to even;
    an equal size passes the input through. Only the pixels that survive the crop are computed.
    """
    x, in_layout = _as_uint8_frames(frames, input_layout)
    th, tw = _positive_size(size)
    if not isinstance(out_dtype, torch.dtype):
        raise TypeError(f"out_dtype must be a torch.dtype, got out_dtype={out_dtype!r}")
    if out_dtype not in _OUT_DTYPES:
        raise ValueError(
            "out_dtype must be torch.float32, torch.bfloat16, torch.float16 or torch.uint8, "
            f"got out_dtype={out_dtype}"
        )
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'TCHW' or 'CTHW', got layout={layout!r}")
    if backend not in _BACKENDS:
        raise ValueError(
            f"backend must be 'auto', 'native', 'reference' or 'fused', got {backend!r}"
        )
    threads = _check_threads(num_threads)

    x_thwc = x if in_layout == "THWC" else x.permute(0, 2, 3, 1)  # a view, no copy
    t, h, w = (int(s) for s in x_thwc.shape[:3])
    if h == 0 or w == 0:
        raise ValueError(f"frames must have a positive height and width, got {tuple(x.shape)}")
    if resize_hw is None:
        rh, rw = rectangle_resize_size(h, w, (th, tw))
    else:
        rh, rw = _positive_size(resize_hw, "resize_hw")
    top, left = crop_offsets(rh, rw, (th, tw), crop, generator)

    if backend == "fused":
        from pyvidfast.transform.color import resize_crop_normalize_fused

        return resize_crop_normalize_fused(
            x_thwc, (th, tw), (top, left), out_dtype, layout, resize_hw=(rh, rw)
        )
    use_native = backend == "native" or (backend == "auto" and _native_available())
    if not use_native:
        x_tchw = x_thwc.permute(0, 3, 1, 2)
        return resize_crop_normalize_reference(
            x_tchw, (rh, rw), top, left, (th, tw), out_dtype, layout
        )

    mod = _extension.require_cuda() if x.is_cuda else _extension.native()
    shape = (t, 3, th, tw) if layout == "TCHW" else (3, t, th, tw)
    out = torch.empty(shape, dtype=out_dtype, device=x.device)
    if t == 0:
        return out
    out_tchw = out if layout == "TCHW" else out.permute(1, 0, 2, 3)  # indexed [t, c, y, x]
    common = dict(
        src_ptr=x_thwc.data_ptr(),
        src_sizes=(t, h, w),
        src_strides=tuple(int(s) for s in x_thwc.stride()),
        resize_hw=(rh, rw),
        crop_tl=(top, left),
        crop_hw=(th, tw),
        dst_ptr=out_tchw.data_ptr(),
        dst_strides=tuple(int(s) for s in out_tchw.stride()),
        out_dtype=_OUT_DTYPES[out_dtype],
        fma=_fma_mode(),
    )
    if x.is_cuda:
        nbytes = mod.resize_crop_normalize_workspace_bytes(
            src_sizes=(t, h, w), resize_hw=(rh, rw), crop_tl=(top, left), crop_hw=(th, tw)
        )
        with torch.cuda.device(x.device):
            workspace = torch.empty(nbytes, dtype=torch.uint8, device=x.device)
            stream = torch.cuda.current_stream(x.device).cuda_stream
            mod.resize_crop_normalize_cuda(
                **common,
                device=x.device.index,
                stream=int(stream),
                workspace_ptr=workspace.data_ptr(),
                workspace_bytes=nbytes,
            )
    else:
        mod.resize_crop_normalize(**common, num_threads=threads)
    return out

"""``resize_crop_normalize``: the RGB op, routed to the native kernel, the fused kernel or the
reference (see the package docstring)."""

from __future__ import annotations

import numpy as np
import torch

from pyvidfast.transform.fused import resize_crop_normalize_fused
from pyvidfast.transform.geometry import positive_size, resized_crop
from pyvidfast.transform.inputs import as_thwc, check_threads
from pyvidfast.transform.native import native_available, resize_crop_normalize_native
from pyvidfast.transform.reference import resize_crop_normalize_reference
from pyvidfast.transform.spec import check_output_spec

__all__ = ["resize_crop_normalize"]

_BACKENDS = ("auto", "native", "reference", "fused")


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
        frames: uint8 ``[T, H, W, 3]`` (what decoders give) or ``[T, 3, H, W]``, a torch tensor
            (CPU or CUDA, any strides) or numpy array; the dim that holds 3 is the channel dim
            (dim 3 when both are), unless ``input_layout`` ("THWC" or "TCHW") says otherwise.
        size: ``(Ht, Wt)`` of the output frames.
        crop: "center", "random" (``top``, ``left`` uniform in ``[0, delta]`` from
            ``generator``) or an explicit ``(top, left)`` inside the resized frame.
        out_dtype: float32, bfloat16 or float16 give ``(x - 127.5) / 127.5`` computed in float32
            and rounded to nearest even as ``Tensor.to`` does; uint8 gives the resized pixels.
        layout: "TCHW" (``[T, 3, Ht, Wt]``, what CogVideoX datasets return) or "CTHW"
            (``[3, T, Ht, Wt]``, what the 3D VAE takes).
        generator: ``torch.Generator`` or ``numpy.random.Generator`` for ``crop="random"``.
        num_threads: CPU threads (default ``torch.get_num_threads()``); ignored on CUDA.
        resize_hw: resize to this ``(H, W)`` instead of the rectangle rule, then crop.
        backend: "auto" (native when built, else the torch reference), "native", "reference"
            or "fused" (the one-launch kernel of ``yuv_resize_crop_normalize``; on CPU tensors
            its CPU emulation, which is slow and meant for testing).

    Returns a new contiguous tensor on the input's device; on CUDA computed asynchronously on
    the current torch stream (no host synchronisation). The resize is described above.
    """
    x = as_thwc(frames, input_layout)
    th, tw = positive_size(size)
    out_dtype = check_output_spec(out_dtype, layout)
    if backend not in _BACKENDS:
        raise ValueError(
            f"backend must be 'auto', 'native', 'reference' or 'fused', got {backend!r}"
        )
    threads = check_threads(num_threads)
    t, h, w = (int(s) for s in x.shape[:3])
    if h == 0 or w == 0:
        raise ValueError(f"frames must have a positive height and width, got {tuple(x.shape)}")
    rh, rw, top, left = resized_crop(h, w, (th, tw), resize_hw, crop, generator, {})
    if backend == "fused":
        return resize_crop_normalize_fused(
            x, (th, tw), (top, left), out_dtype, layout, resize_hw=(rh, rw)
        )
    if backend == "reference" or (backend == "auto" and not native_available()):
        return resize_crop_normalize_reference(
            x.permute(0, 3, 1, 2), (rh, rw), top, left, (th, tw), out_dtype, layout
        )
    return resize_crop_normalize_native(
        x, (rh, rw), (top, left), (th, tw), out_dtype, layout, threads
    )

"""Resize -> crop -> normalise for video frames, the CogVideoX way, on CPU or CUDA.

``resize_crop_normalize`` applies the CogVideoX rectangle rule (``rectangle_resize_size``),
torchvision's uint8 antialiased bicubic resize, the crop (``crop_offsets``) and
``(x - 127.5) / 127.5``, computing only the pixels that survive the crop. The resize is torchvision's ``resize(...,
BICUBIC, antialias=True)`` on uint8: float32 PIL-style separable filter (a = -0.5), horizontal pass
first, clamp to [0, 255], round half to even; an equal size passes the input through. It runs in the native
extension (all cores, GIL released; or a CUDA kernel on the current stream) and falls back to the
plain-torch reference in ``pyvidfast.transform.reference`` when the extension is missing.
"""

from pyvidfast.transform.color import yuv_resize_crop_normalize, yuv_to_rgb
from pyvidfast.transform.geometry import crop_offsets, rectangle_resize_size
from pyvidfast.transform.resize import resize_crop_normalize
from pyvidfast.transform.spec import check_output_spec

__all__ = [
    "check_output_spec",
    "crop_offsets",
    "rectangle_resize_size",
    "resize_crop_normalize",
    "yuv_resize_crop_normalize",
    "yuv_to_rgb",
]

"""CogVideoX SAT's ``SFTDataset.__getitem__`` as written in ``data_video.py``: the baseline.

decord 0.6.0 ``VideoReader`` + ``get_batch`` over the whole index range, last-frame padding, then
torchvision's uint8 antialiased bicubic resize (``pyvidfast.transform.reference.resize_uint8``,
torchvision's video modules no longer import), the centre crop and ``(x - 127.5) / 127.5``.
``pyvidfast bench`` and ``benchmarks/bench_cogvideox.py`` time it against ``SFTDataset``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pyvidfast.transform.reference import resize_uint8

__all__ = ["decord_available", "reference_item"]


def decord_available() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def _pad_last_frame(tensor: torch.Tensor, num_frames: int) -> torch.Tensor:
    if len(tensor) < num_frames:
        last = tensor[-1].unsqueeze(0).expand(num_frames - len(tensor), *tensor.shape[1:])
        return torch.cat([tensor, last], dim=0)
    return tensor[:num_frames]


def _resize_for_rectangle_crop(arr: torch.Tensor, image_size: Sequence[int]) -> torch.Tensor:
    if arr.shape[3] / arr.shape[2] > image_size[1] / image_size[0]:
        size = (image_size[0], int(arr.shape[3] * image_size[0] / arr.shape[2]))
    else:
        size = (int(arr.shape[2] * image_size[1] / arr.shape[3]), image_size[1])
    arr = resize_uint8(arr, size)
    h, w = arr.shape[2], arr.shape[3]
    top, left = (h - image_size[0]) // 2, (w - image_size[1]) // 2
    return arr[:, :, top : top + image_size[0], left : left + image_size[1]]


def reference_item(
    path: str,
    video_size: Sequence[int],
    fps: float,
    max_num_frames: int,
    skip_frms_num: float = 3,
) -> dict:
    """``{"mp4": [M, 3, H, W] float32, "num_frames": n}`` exactly as the reference computes it."""
    import decord

    # The reference sets the torch bridge for the whole process; a scope keeps it to this call.
    with decord.bridge.use_torch():
        vr = decord.VideoReader(uri=path, height=-1, width=-1)
        actual_fps = vr.get_avg_fps()
        ori_vlen = len(vr)
        if ori_vlen / actual_fps * fps > max_num_frames:
            num_frames = max_num_frames
            start = int(skip_frms_num)
            end = int(start + num_frames / fps * actual_fps)
            end_safty = min(end, int(ori_vlen))
            indices = np.arange(start, end, (end - start) // num_frames).astype(int)
            temp_frms = vr.get_batch(np.arange(start, end_safty))
            tensor_frms = temp_frms[torch.tensor((indices - start).tolist())]
        elif ori_vlen > max_num_frames:
            num_frames = max_num_frames
            start = int(skip_frms_num)
            end = int(ori_vlen - skip_frms_num)
            indices = np.arange(start, end, max((end - start) // num_frames, 1)).astype(int)
            temp_frms = vr.get_batch(np.arange(start, end))
            tensor_frms = temp_frms[torch.tensor((indices - start).tolist())]
        else:
            start = int(skip_frms_num)
            end = int(ori_vlen - skip_frms_num)
            n = end - start
            num_frames = n - 3 if n % 4 == 0 else n - n % 4 + 1
            tensor_frms = vr.get_batch(np.arange(start, start + num_frames))
    tensor_frms = _pad_last_frame(tensor_frms, max_num_frames).permute(0, 3, 1, 2)
    tensor_frms = _resize_for_rectangle_crop(tensor_frms, video_size)
    return {"mp4": (tensor_frms - 127.5) / 127.5, "num_frames": num_frames}

"""NVDEC surfaces as torch views: one pitched NV12/P016 buffer -> ``(luma [H, W], chroma [H/2, W/2, 2])``.

A decoder's output buffer is only valid until its next ``Decode`` call (measured: frames are
unlocked then), so callers consume or copy the views before feeding the next packet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.dlpack import from_dlpack

__all__ = [
    "frame_planes",
    "held_views",
    "interleaved_chroma",
    "rotate_planes",
    "split_packed",
    "split_planes",
]


def _plain(t: torch.Tensor) -> torch.Tensor:
    """Drop a channel dim of 1 (``[H, W, 1]`` planes) or a batch dim of 1 (``[1, H, W]``)."""
    if t.dim() == 3 and t.shape[-1] == 1:
        return t[..., 0]
    if t.dim() == 3 and t.shape[0] == 1:
        return t[0]
    return t


def interleaved_chroma(plane: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A UV plane as ``[ceil(H/2), ceil(W/2), 2]`` (a view, pitch kept), from ``[h, w, 2]``,
    ``[h, 2w]`` or ``[h, 2w, 1]``."""
    ch, cw = (height + 1) // 2, (width + 1) // 2
    if plane.dim() == 3 and plane.shape[-1] == 2:
        if plane.shape[0] < ch or plane.shape[1] < cw:
            raise ValueError(f"chroma plane {tuple(plane.shape)} is smaller than {ch}x{cw}x2")
        return plane[:ch, :cw]
    plane = _plain(plane)
    if plane.dim() != 2 or plane.shape[0] < ch or plane.shape[1] < 2 * cw:
        raise ValueError(
            f"chroma plane {tuple(plane.shape)} cannot hold {ch} rows of {cw} UV pairs"
        )
    s0, s1 = plane.stride()
    return plane.as_strided((ch, cw, 2), (s0, 2 * s1, s1), plane.storage_offset())


def split_planes(
    luma: torch.Tensor, chroma: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two plane tensors (``__cuda_array_interface__`` views) -> ``([H, W], [H/2, W/2, 2])``."""
    y = _plain(luma)
    if y.dim() != 2 or y.shape[0] < height or y.shape[1] < width:
        raise ValueError(f"luma plane {tuple(luma.shape)} is smaller than {height}x{width}")
    return y[:height, :width], interleaved_chroma(chroma, height, width)


def split_packed(
    surface: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One NV12/P016 surface ``[rows, >=W]`` (luma rows, then the UV rows, same pitch) ->
    ``([H, W], [H/2, W/2, 2])`` views. The luma plane may be taller than ``H`` (coded height,
    e.g. 1088 for 1080): it is ``2/3`` of the rows."""
    s = _plain(surface)
    if s.dim() != 2:
        raise ValueError(f"an NV12/P016 surface must be 2-D, got {tuple(surface.shape)}")
    rows = int(s.shape[0])
    luma_rows = (2 * rows) // 3 if (2 * rows) % 3 == 0 else height
    ch = (height + 1) // 2
    if luma_rows < height or rows - luma_rows < ch or s.shape[1] < width:
        raise ValueError(
            f"surface {tuple(surface.shape)} cannot hold a {height}x{width} NV12/P016 frame"
        )
    return s[:height, :width], interleaved_chroma(s[luma_rows:], height, width)


def frame_planes(
    frame: Any, height: int, width: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-copy ``(luma, chroma)`` torch views of one decoded NATIVE frame (NV12 or P016).

    ``torch.from_dlpack(frame)`` is preferred: PyNvVideoCodec's ``__dlpack__(stream)`` makes the
    consumer's current stream wait for the decoder's copy-out. Frames also expose one
    ``__cuda_array_interface__`` view per plane through ``cuda()``; those are the fallback.
    """
    try:
        return split_packed(from_dlpack(frame), height, width)
    except (RuntimeError, TypeError, ValueError, BufferError) as exc:
        dlpack_error = exc
    planes = list(frame.cuda()) if callable(getattr(frame, "cuda", None)) else []
    if len(planes) != 2:
        raise ValueError(
            f"cannot view this frame as NV12/P016: DLPack failed ({dlpack_error}) and cuda() "
            f"gave {len(planes)} planes"
        )
    with torch.cuda.device(device):
        # These views carry no producer stream to wait on: wait for the device (fallback only).
        torch.cuda.synchronize(device)
        luma = torch.as_tensor(planes[0], device=device)
        chroma = torch.as_tensor(planes[1], device=device)
    return split_planes(luma, chroma, height, width)


@contextmanager
def held_views(device: torch.device) -> Iterator[None]:
    """While the decoder is held: its device is current, and on exit the host waits for the
    work queued on the current stream (the kernels reading the decoder's buffers), because the
    decoder may overwrite them once it is given back. Nothing to wait for on the CPU."""
    if device.type != "cuda":
        yield
        return
    with torch.cuda.device(device):
        yield
        done = torch.cuda.Event()
        done.record(torch.cuda.current_stream(device))
        done.synchronize()


def rotate_planes(
    lumas: list[torch.Tensor], chromas: list[torch.Tensor], rotation: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Owned ``(luma [H, W], chroma [H/2, W/2, 2])`` planes turned clockwise by ``rotation``.

    Turning the planes before the colour conversion and the fused resize gives the frames the
    CPU path turns upright (``pyvidfast.io.orientation.rotate_frames``), with the resize and
    crop computed in the upright geometry exactly as there (rotating the resized output would
    move an odd centre-crop offset by one pixel)."""
    if rotation == 0:
        return lumas, chromas
    k = -(rotation // 90)  # rot90 turns counter-clockwise for positive k
    turn = [torch.rot90(t, k=k, dims=(0, 1)).contiguous() for t in lumas]
    return turn, [torch.rot90(t, k=k, dims=(0, 1)).contiguous() for t in chromas]

"""One entry for both backends: ``open_video(source, device=...)`` and the ``Video`` protocol.

``device="cpu"`` gives the FFmpeg ``VideoReader``; a CUDA device gives ``NvdecVideoReader``,
which keeps the CPU reader's frame numbers and falls back to it file by file (as torchcodec's
``VideoDecoder(source, device=...)`` picks a device interface behind one class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from pyvidfast.io.reader import Indices, Source, VideoReader

if TYPE_CHECKING:
    from pyvidfast.io.nvdec.pool import DecoderPool

__all__ = ["Video", "open_video"]


@runtime_checkable
class Video(Protocol):
    """What the datasets use of a reader; ``VideoReader`` and ``NvdecVideoReader`` satisfy it."""

    path: str

    def __len__(self) -> int: ...

    @property
    def num_decodable(self) -> int: ...

    def get_avg_fps(self) -> float: ...

    def get_batch(self, indices: Indices) -> torch.Tensor: ...

    def get_batch_resized(
        self,
        indices: Indices,
        size: tuple[int, int],
        *,
        out_dtype: torch.dtype = ...,
        layout: str = ...,
        crop: str | tuple[int, int] = ...,
        generator: torch.Generator | None = ...,
    ) -> torch.Tensor: ...

    @property
    def frame_shape(self) -> tuple[int, int, int]: ...

    @property
    def rotation(self) -> int: ...

    def close(self) -> None: ...


def open_video(
    source: Source,
    device: str | torch.device = "cpu",
    *,
    num_threads: int = 0,
    pool: DecoderPool | None = None,
) -> Video:
    """A reader of ``source`` decoding on ``device``.

    Args:
        source: a path, the file's bytes or a binary file object.
        device: "cpu" (FFmpeg) or a CUDA device (NVDEC, CPU fallback per file).
        num_threads: FFmpeg decoder threads (0: FFmpeg chooses).
        pool: NVDEC decoders (``pyvidfast.io.nvdec.DecoderPool``; default: the device's pool).
            Given with ``device="cpu"``, the NVDEC reader runs over it on the CPU (the stand-in).
    """
    if torch.device(device).type == "cuda" or pool is not None:
        from pyvidfast.io.nvdec import NvdecVideoReader

        return NvdecVideoReader(source, device, num_threads=num_threads, pool=pool)
    if torch.device(device).type != "cpu":
        raise ValueError(f"open_video decodes on 'cpu' or 'cuda', got device={device!r}")
    return VideoReader(source, num_threads=num_threads)

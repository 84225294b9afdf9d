"""CogVideoX batches made on the GPU, several batches in flight: ``GpuBatchLoader``.

``GpuBatchLoader`` yields what ``DataLoader(SFTDataset(..., device="cuda"), batch_size=B)``
yields -- ``mp4`` ``[B, T, C, H, W]`` (bf16 by default), ``txt``, ``num_frames``, ``fps`` -- from
the same clip pipeline (``pyvidfast.cogvideox.clips``: the dataset's indices, NVDEC decode, the
fused YUV resize), and keeps ``prefetch`` batches decoding ahead of the consumer, which a plain
DataLoader with ``num_workers=0`` cannot (it asks for one batch at a time). Use it when the
training step is short enough for decode to show; ``SFTDataset(device="cuda")`` through a
DataLoader is the drop-in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import torch

from pyvidfast.cogvideox.clips import ClipRequest, ClipRunner, ClipSpec, sft_rule
from pyvidfast.cogvideox.frames import check_options
from pyvidfast.cogvideox.sft import scan_sft_folder
from pyvidfast.io.errors import VideoReadError
from pyvidfast.sampling import SamplingError

__all__ = ["GpuBatchLoader"]


class GpuBatchLoader:
    """Batches ``{"mp4": [B, T, C, H, W], "txt": [...], "num_frames": [B], "fps": [B]}`` made
    on ``device`` by ``num_threads`` decode threads, ``prefetch`` batches ahead.

    Args:
        requests: the items (``SFTDataset.requests()``, or ``GpuBatchLoader.from_sft_folder``).
        batch_size: items per batch.
        size: ``(H, W)`` of the output frames.
        fps: the value of the ``fps`` field (the dataset's ``fps``).
        out_dtype: torch.bfloat16 (default), torch.float16 or torch.float32.
        layout: "TCHW" per item (``[B, T, C, H, W]``) or "CTHW" (``[B, C, T, H, W]``, the VAE's).
        num_threads: decode threads (default: the decoder pool's size, one per NVDEC engine).
        prefetch: batches decoded ahead of the consumer.
        shuffle, seed: visit the items in a ``torch.randperm(generator=seed + epoch)`` order.
        drop_last: drop a last, smaller batch.
        on_error: "raise" (as a DataLoader over the dataset) or "skip" (log and take the next
            item; the batch stays full while items remain).
        pool: NVDEC decoders (default: the device's pool; ``standin_pool()`` on the CPU).

    Memory: at most ``(prefetch + 1) * batch_size`` clips are alive (in flight or waiting).
    """

    def __init__(
        self,
        requests: Sequence[ClipRequest],
        batch_size: int,
        size: tuple[int, int],
        fps: float,
        *,
        out_dtype: torch.dtype | str = torch.bfloat16,
        layout: str = "TCHW",
        device: str | torch.device = "cuda",
        num_threads: int | None = None,
        prefetch: int = 2,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        on_error: str = "raise",
        pool: Any = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {prefetch}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.requests = list(requests)
        self.batch_size = int(batch_size)
        self.size = (int(size[0]), int(size[1]))
        self.fps = fps
        self.out_dtype = check_options(out_dtype, layout)
        self.layout = layout
        self.device = torch.device(device)
        self.num_threads = num_threads
        self.prefetch = int(prefetch)
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.on_error = on_error
        self._pool = pool
        self._epoch = 0
        self.skipped: list[tuple[str, str]] = []

    @classmethod
    def from_sft_folder(
        cls,
        data_dir: str,
        video_size: Sequence[int],
        fps: float,
        max_num_frames: int,
        skip_frms_num: float = 3,
        batch_size: int = 1,
        **kwargs: Any,
    ) -> GpuBatchLoader:
        """SFTDataset's arguments (its listing and captions via ``scan_sft_folder``)."""
        paths, captions = scan_sft_folder(data_dir)
        rule = sft_rule(fps, max_num_frames, skip_frms_num)
        requests = [ClipRequest(p, c, rule) for p, c in zip(paths, captions)]
        size = (int(video_size[0]), int(video_size[1]))
        return cls(requests, batch_size, size, fps, **kwargs)

    @classmethod
    def from_sft_dataset(cls, dataset, batch_size: int, **kwargs: Any) -> GpuBatchLoader:
        """Over an ``SFTDataset``'s items, with its size, fps, dtype and layout."""
        kwargs.setdefault("out_dtype", dataset.out_dtype)
        kwargs.setdefault("layout", dataset.layout)
        kwargs.setdefault("pool", dataset.decoder_pool)
        return cls(dataset.requests(), batch_size, dataset.video_size, dataset.fps, **kwargs)

    def __len__(self) -> int:
        n = len(self.requests)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(len(self.requests)))
        g = torch.Generator().manual_seed(self.seed + self._epoch)
        return torch.randperm(len(self.requests), generator=g).tolist()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        spec = ClipSpec(self.size, self.out_dtype, self.layout)
        runner = ClipRunner(spec, self.device, pool=self._pool, threads=self.num_threads)
        order = self._order()
        self._epoch += 1
        ahead = (self.prefetch + 1) * self.batch_size
        pending: deque[tuple[int, Future]] = deque()
        position = 0

        def top_up() -> None:
            nonlocal position
            while position < len(order) and len(pending) < ahead:
                i = order[position]
                pending.append((i, runner.submit(self.requests[i])))
                position += 1

        try:
            top_up()
            batch: list[tuple[int, torch.Tensor, int]] = []
            while pending:
                i, future = pending.popleft()
                try:
                    frames, num = future.result()
                except (VideoReadError, SamplingError) as exc:
                    if self.on_error == "raise":
                        raise
                    self.skipped.append((str(self.requests[i].source), str(exc)))
                    top_up()
                    continue
                batch.append((i, frames, num))
                top_up()
                if len(batch) == self.batch_size:
                    yield self._collate(batch)
                    batch = []
            if batch and not self.drop_last:
                yield self._collate(batch)
        finally:
            for _, future in pending:
                future.cancel()
            runner.close()

    def _collate(self, batch: list[tuple[int, torch.Tensor, int]]) -> dict[str, Any]:
        """Default-collate layout on the consumer's current stream (clips are finished)."""
        clips = [frames for _, frames, _ in batch]
        mp4 = torch.stack(clips)
        if self.device.type == "cuda":
            current = torch.cuda.current_stream(self.device)
            for clip in clips:
                # Allocated on a decode thread's stream, read here: keep the block from being
                # reused by that stream until this stream's stack has run.
                clip.record_stream(current)
        return {
            "mp4": mp4,
            "txt": [self.requests[i].caption for i, _, _ in batch],
            "num_frames": torch.tensor([n for _, _, n in batch], dtype=torch.int64),
            "fps": torch.tensor([self.fps] * len(batch)),
        }

"""CogVideoX batches made on the GPU: NVDEC decode + the fused YUV resize, in threads.

Unverified on a GPU: written and CPU-tested without NVDEC hardware (see benchmarks/gpu_nvdec_steps.sh).

``GpuBatchLoader`` yields what ``DataLoader(SFTDataset(...), batch_size=B)`` yields — ``mp4``
``[B, T, C, H, W]`` (bf16 by default), ``txt``, ``num_frames``, ``fps`` — but ``mp4`` is made on
the GPU and stays there: each clip is decoded by NVDEC (``NvdecVideoReader``, decoders pooled and
reconfigured across files) and turned into the sample by ``yuv_resize_crop_normalize`` straight
from the decoder's surfaces. The frame indices are the CPU dataset's (``pyvidfast.sampling``),
computed from the same ``len()`` and ``get_avg_fps()``, so a GPU batch holds the CPU dataset's
frames, equal within the colour-conversion tolerance.

Why threads: CUDA does not survive ``fork`` (DataLoader workers fail with "initialization
error"), and the heavy work here is on NVDEC and in CUDA kernels, not in Python. Each decode
thread runs its kernels on its own CUDA stream and hands over a finished clip; the batch is
stacked on the consumer's current stream. ``prefetch`` batches are decoded ahead.

``cuda_sample`` is the hook the datasets use for ``device="cuda"`` (one item at a time).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from pyvidfast.cogvideox.frames import check_options
from pyvidfast.cogvideox.sft import scan_sft_folder
from pyvidfast.io.errors import FrameIndexError, VideoReadError, VideoTooShortError
from pyvidfast.io.nvdec import DecoderPool, NvdecVideoReader, decoder_pool
from pyvidfast.io.reader import Source
from pyvidfast.sampling import SamplingError, sft_indices

__all__ = ["ClipRequest", "GpuBatchLoader", "cuda_sample", "sft_requests"]

IndexRule = Callable[[int, float], tuple[list[int], int]]


@dataclass(frozen=True)
class ClipRequest:
    """One item: where the video is, its caption, and how to choose its frames."""

    source: Source
    caption: str
    rule: IndexRule  # (frame_count, avg_fps) -> (indices, num_frames)


def sft_rule(fps: float, max_num_frames: int, skip_frms_num: float) -> IndexRule:
    """SFTDataset's index rule (``sft_indices``) with a too-short clip as ``SamplingError``."""

    def rule(frame_count: int, avg_fps: float) -> tuple[list[int], int]:
        return sft_indices(frame_count, avg_fps, fps, max_num_frames, skip_frms_num)

    return rule


def sft_requests(dataset) -> list[ClipRequest]:
    """The items of an ``SFTDataset`` (its file listing and captions, its index rule)."""
    rule = sft_rule(dataset.fps, dataset.max_num_frames, dataset.skip_frms_num)
    return [ClipRequest(p, c, rule) for p, c in zip(dataset.video_paths, dataset.captions)]


def cuda_sample(
    source: Source,
    rule: IndexRule,
    size: tuple[int, int],
    *,
    out_dtype: torch.dtype = torch.bfloat16,
    layout: str = "TCHW",
    device: str | torch.device = "cuda",
    pool: DecoderPool | None = None,
    name: str | None = None,
) -> tuple[torch.Tensor, int]:
    """One sample on the GPU: ``(frames [T, 3, H, W] (or CTHW), num_frames)``.

    The hook for ``SFTDataset``/``VideoDataset`` with ``device="cuda"``: ``rule`` gives the frame
    indices from ``len()`` and ``get_avg_fps()`` exactly as the CPU item does. Runs its kernels on
    the current CUDA stream. Raises ``VideoTooShortError`` when the rule cannot sample the clip.
    """
    with NvdecVideoReader(source, device, pool=pool) as reader:
        if name is not None:
            reader.path = name
        for _ in range(2):
            length = len(reader)
            try:
                indices, num = rule(length, reader.get_avg_fps())
            except SamplingError as exc:
                raise VideoTooShortError(reader.path, str(exc)) from None
            try:
                frames = reader.get_batch_resized(indices, size, out_dtype=out_dtype, layout=layout)
            except FrameIndexError:
                # As SFTDataset: a file that decodes fewer frames than its index promised shrinks
                # the CPU reader's length; choose the indices again for the true length.
                if len(reader) < length:
                    continue
                raise
            if len(reader) == length:  # the CPU fallback may have found fewer frames
                return frames, num
        name, now = reader.path, len(reader)
    raise FrameIndexError(name, f"frame count changed while decoding (now {now})")


class GpuBatchLoader:
    """Batches ``{"mp4": [B, T, C, H, W], "txt": [...], "num_frames": [B], "fps": [B]}`` made
    on ``device`` by ``num_threads`` decode threads, ``prefetch`` batches ahead.

    Args:
        requests: the items (``sft_requests(dataset)``, or ``GpuBatchLoader.from_sft_folder``).
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
        pool: DecoderPool | None = None,
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
        return cls(sft_requests(dataset), batch_size, dataset.video_size, dataset.fps, **kwargs)

    def __len__(self) -> int:
        n = len(self.requests)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(len(self.requests)))
        g = torch.Generator().manual_seed(self.seed + self._epoch)
        return torch.randperm(len(self.requests), generator=g).tolist()

    def _pool_for(self) -> DecoderPool:
        if self._pool is None:
            index = self.device.index if self.device.index is not None else 0
            self._pool = decoder_pool(index)
        return self._pool

    def _load(self, i: int, streams: dict[int, torch.cuda.Stream]) -> tuple[torch.Tensor, int]:
        """One clip on this thread's stream, finished before it is handed over."""
        tid = threading.get_ident()
        stream = streams.get(tid)
        if stream is None:
            stream = streams[tid] = torch.cuda.Stream(self.device)
        req = self.requests[i]
        with torch.cuda.stream(stream):
            frames, num = cuda_sample(
                req.source,
                req.rule,
                self.size,
                out_dtype=self.out_dtype,
                layout=self.layout,
                device=self.device,
                pool=self._pool,
            )
            done = torch.cuda.Event()
            done.record(stream)
        done.synchronize()
        return frames, num

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pool = self._pool_for()
        order = self._order()
        self._epoch += 1
        threads = self.num_threads or pool.size
        streams: dict[int, torch.cuda.Stream] = {}
        ahead = (self.prefetch + 1) * self.batch_size
        pending: deque[tuple[int, Future]] = deque()
        position = 0
        with ThreadPoolExecutor(threads, thread_name_prefix="pyvidfast-nvdec") as ex:

            def top_up() -> None:
                nonlocal position
                while position < len(order) and len(pending) < ahead:
                    i = order[position]
                    pending.append((i, ex.submit(self._load, i, streams)))
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

    def _collate(self, batch: list[tuple[int, torch.Tensor, int]]) -> dict[str, Any]:
        """Default-collate layout on the consumer's current stream (clips are finished)."""
        clips = [frames for _, frames, _ in batch]
        mp4 = torch.stack(clips)
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

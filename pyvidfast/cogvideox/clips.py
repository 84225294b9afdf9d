"""One clip pipeline for every dataset and device: indices -> decode -> transform.

``load_clip`` is the only place that turns a file into a sample: the dataset's index rule gives
the frames from ``len()`` and ``get_avg_fps()``, the reader (``pyvidfast.io.open_video``: FFmpeg
on the CPU, NVDEC on a GPU) decodes and resizes them (``get_batch_resized``), and a file that
turns out to decode fewer frames than its index promised has its indices chosen again, once.

``ClipRunner`` runs many clips at once on a GPU: one thread per NVDEC engine, each with its own
CUDA stream, so a batch is decoded concurrently across the engines. Threads, not DataLoader
workers: CUDA does not survive ``fork`` (workers fail with "initialization error"), and the
work is on NVDEC and in CUDA kernels, not in Python.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from pyvidfast.io.errors import FrameIndexError, VideoTooShortError
from pyvidfast.io.reader import Source
from pyvidfast.io.video import Video, open_video
from pyvidfast.sampling import SamplingError, sft_indices

__all__ = ["ClipRequest", "ClipRunner", "ClipSpec", "IndexRule", "load_clip", "sft_rule"]

# (frame_count, avg_fps) -> (indices, num_frames); raises SamplingError when it cannot sample.
IndexRule = Callable[[int, float], tuple[list[int], int]]


@dataclass(frozen=True)
class ClipSpec:
    """How a clip becomes a tensor: ``[T, C, H, W]`` (or CTHW) at ``size`` in ``[-1, 1]``."""

    size: tuple[int, int]
    out_dtype: torch.dtype = torch.float32
    layout: str = "TCHW"


@dataclass(frozen=True)
class ClipRequest:
    """One item: where the video is, its caption, and how to choose its frames."""

    source: Source
    caption: str
    rule: IndexRule
    name: str | None = None  # what errors call it (default: the source's name)


def sft_rule(fps: float, max_num_frames: int, skip_frms_num: float) -> IndexRule:
    """SFTDataset's index rule (``sft_indices``)."""

    def rule(frame_count: int, avg_fps: float) -> tuple[list[int], int]:
        return sft_indices(frame_count, avg_fps, fps, max_num_frames, skip_frms_num)

    return rule


def load_clip(reader: Video, rule: IndexRule, spec: ClipSpec) -> tuple[torch.Tensor, int]:
    """``(frames, num_frames)`` of one open reader; ``VideoTooShortError`` when the rule cannot
    sample it. Runs its kernels on the current CUDA stream."""
    for _ in range(2):
        length = len(reader)
        try:
            indices, num = rule(length, reader.get_avg_fps())
        except SamplingError as exc:
            raise VideoTooShortError(reader.path, str(exc)) from None
        try:
            frames = reader.get_batch_resized(
                indices, spec.size, out_dtype=spec.out_dtype, layout=spec.layout, crop="center"
            )
        except FrameIndexError:
            # len(reader) comes from the container; a file that decodes fewer frames shrinks
            # it while decoding, and the indices are chosen again for the true length.
            if len(reader) < length:
                continue
            raise
        if len(reader) == length:
            return frames, num
    raise FrameIndexError(reader.path, f"frame count changed while decoding (now {len(reader)})")


def open_and_load(
    request: ClipRequest,
    spec: ClipSpec,
    device: torch.device,
    *,
    pool: Any = None,
    num_threads: int = 0,
    after: Callable[[Video], None] | None = None,
) -> tuple[torch.Tensor, int]:
    """``load_clip`` on ``open_video(request.source, device)``; ``after(reader)`` runs before
    the reader is closed (the datasets' one-time notes)."""
    with open_video(request.source, device, num_threads=num_threads, pool=pool) as reader:
        if request.name is not None:
            reader.path = request.name
        out = load_clip(reader, request.rule, spec)
        if after is not None:
            after(reader)
        return out


class ClipRunner:
    """Clips decoded concurrently on ``device``: ``run(requests)`` -> one result per request, in
    order, each a ``(frames, num_frames)`` or the exception that request raised.

    ``threads`` defaults to the decoder pool's size (one per NVDEC engine). Every thread has
    its own CUDA stream; a clip is finished on it before it is handed over, so the results can
    be used on any stream. ``fallbacks`` lists the clips NVDEC left to the CPU, with why.
    """

    def __init__(
        self,
        spec: ClipSpec,
        device: str | torch.device,
        *,
        pool: Any = None,
        threads: int | None = None,
        after: Callable[[Video], None] | None = None,
    ):
        self.spec = spec
        self.device = torch.device(device)
        self.pool = pool
        self.threads = threads
        self.after = after
        self._executor: ThreadPoolExecutor | None = None
        self._streams: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.fallbacks: list[tuple[str, str]] = []  # (file, reason) of clips read on the CPU

    def _after(self, reader: Video) -> None:
        if not getattr(reader, "on_gpu", True):  # NVDEC readers say where they decoded
            with self._lock:
                self.fallbacks.append((reader.path, reader.fallback_reason))
        if self.after is not None:
            self.after(reader)

    def _thread_count(self) -> int:
        if self.threads:
            return self.threads
        if self.pool is None and self.device.type == "cuda":
            from pyvidfast.io.nvdec import decoder_pool

            self.pool = decoder_pool(self.device.index or 0)
        return getattr(self.pool, "size", 1)

    def submit(self, request: ClipRequest):
        """A future of one clip (for loaders that keep batches in flight)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self._thread_count(), thread_name_prefix="pyvidfast-clip"
                )
        return self._executor.submit(self._one, request)

    def run(self, requests: Sequence[ClipRequest]) -> list[Any]:
        futures = [self.submit(r) for r in requests]
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:  # returned, not raised: the caller decides per item
                results.append(exc)
        return results

    def _one(self, request: ClipRequest) -> tuple[torch.Tensor, int]:
        if self.device.type != "cuda":
            return open_and_load(request, self.spec, self.device, pool=self.pool, after=self._after)
        tid = threading.get_ident()
        stream = self._streams.get(tid)
        if stream is None:
            stream = self._streams[tid] = torch.cuda.Stream(self.device)
        with torch.cuda.stream(stream):
            out = open_and_load(request, self.spec, self.device, pool=self.pool, after=self._after)
            done = torch.cuda.Event()
            done.record(stream)
        done.synchronize()
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

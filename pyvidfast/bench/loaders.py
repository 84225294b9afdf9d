"""The CogVideoX sample path in `pyvidfast bench`: clips/s and MB/s of ``SFTDataset`` through a
``DataLoader`` with 1..N workers, of the GPU loader, and of the reference procedure.

The sample's files are linked into an SFT folder (``videos/NNNNNN.mp4``, captions in ``labels/``
when the source had them) so the dataset sees exactly the sample. A clip the
dataset cannot sample (too short, broken) counts as a failure, as a training job would skip it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from torch.utils.data import DataLoader, Dataset

from pyvidfast.bench.machine import cpu_seconds
from pyvidfast.bench.results import Budget, Measurement, checkpoint, finish

__all__ = ["SampleParams", "gpu_loader", "link_sft_folder", "reference", "sft_dataloader"]


@dataclass(frozen=True)
class SampleParams:
    """CogVideoX SAT's SFT parameters (the 5B model's defaults)."""

    video_size: tuple[int, int] = (480, 720)
    fps: float = 8
    max_num_frames: int = 49
    skip_frms_num: float = 3

    def kwargs(self) -> dict:
        return {
            "video_size": list(self.video_size),
            "fps": self.fps,
            "max_num_frames": self.max_num_frames,
            "skip_frms_num": self.skip_frms_num,
        }


def link_sft_folder(paths: Sequence[str], folder: str) -> list[str]:
    """Symlink ``paths`` as ``folder/videos/NNNNNN.mp4`` (and their captions as ``labels/``);
    returns the linked paths (``SFTDataset`` visits them in ``os.walk`` order)."""
    from pyvidfast.cogvideox.sft import caption_path_for

    videos = os.path.join(folder, "videos")
    labels = os.path.join(folder, "labels")
    os.makedirs(videos, exist_ok=True)
    os.makedirs(labels, exist_ok=True)
    linked = []
    for i, path in enumerate(paths):
        target = os.path.join(videos, f"{i:06d}.mp4")
        os.symlink(os.path.abspath(path), target)
        caption = caption_path_for(path)
        if path.endswith(".mp4") and caption != path and os.path.isfile(caption):
            os.symlink(os.path.abspath(caption), caption_path_for(target))
        linked.append(target)
    return linked


class _Guarded(Dataset):
    """The dataset's item, or ``None`` when the file cannot give one (a typed read error)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        from pyvidfast.io.errors import VideoReadError

        try:
            return self.dataset[index]
        except VideoReadError:
            return None


def _first(batch: list):
    return batch[0]


def _steady(
    outcomes: Generator[tuple[str | None, bool]], budget: Budget, m: Measurement, warm_up: bool
) -> Measurement:
    """Consume ``(path, ok)`` per clip until the budget is spent. With ``warm_up`` (worker
    processes, a GPU) the first clip is not counted and the clock starts when it arrives, as a
    training job amortises the start-up; its latency is ``startup_seconds``."""
    start = t0 = time.perf_counter()
    c0 = cpu_seconds()
    for path, ok in outcomes:
        if warm_up:
            warm_up = False
            t0, c0 = time.perf_counter(), cpu_seconds()
            m.startup_seconds = t0 - start
            continue
        m.files += 1
        m.bytes += os.path.getsize(path) if path else 0
        m.items += ok
        m.failures += not ok
        checkpoint(m, t0, c0)
        if budget.over():
            break
    end = time.perf_counter()
    outcomes.close()  # stops DataLoader workers, so their CPU time is counted
    return finish(m, t0, c0, end)


def sft_dataloader(folder: str, budget: Budget, params: SampleParams, workers: int) -> Measurement:
    """``DataLoader(SFTDataset(folder), batch_size=1, num_workers=workers)`` until the budget."""
    from pyvidfast.cogvideox import SFTDataset

    dataset = SFTDataset(folder, **params.kwargs())
    m = Measurement("sample", "pyvidfast SFTDataset", "clips/s", workers=workers)
    loader = DataLoader(
        _Guarded(dataset), batch_size=1, num_workers=workers, collate_fn=_first, shuffle=False
    )
    outcomes = ((dataset.video_paths[i], item is not None) for i, item in enumerate(loader))
    _steady(outcomes, budget, m, warm_up=workers > 0)
    m.note = f"{m.failures} clip(s) could not be sampled"
    if workers:
        m.note += "; first clip excluded (worker start-up)"
    return m


def _reference_outcomes(paths: list[str], params: SampleParams):
    from pyvidfast.bench.reference import reference_item

    for path in paths:
        try:
            reference_item(path, **params.kwargs())
            yield path, True
        except Exception:  # the reference raises decord/numpy/index errors on short or bad clips
            yield path, False


def reference(folder: str, budget: Budget, params: SampleParams) -> Measurement:
    """CogVideoX's own procedure (decord + torch resize), one clip at a time in this process."""
    from pyvidfast.cogvideox.sft import scan_sft_folder

    paths, _ = scan_sft_folder(folder)
    m = Measurement("sample", "reference (decord + torch)", "clips/s", workers=0)
    _steady(_reference_outcomes(paths, params), budget, m, warm_up=False)
    m.note = f"{m.failures} clip(s) raised"
    return m


def gpu_loader(folder: str, budget: Budget, params: SampleParams) -> Measurement:
    """``GpuBatchLoader`` (NVDEC + fused resize, bf16 on the GPU), batch size 1. It skips clips
    it cannot sample itself, so ``failures`` are its skips and ``bytes`` is not counted."""
    import torch

    from pyvidfast.cogvideox.gpu import GpuBatchLoader

    loader = GpuBatchLoader.from_sft_folder(folder, **params.kwargs(), on_error="skip")
    m = Measurement("sample", "pyvidfast GpuBatchLoader", "clips/s", workers=0)

    def outcomes():
        for batch in loader:
            torch.cuda.synchronize()
            yield None, len(batch["txt"]) == 1

    _steady(outcomes(), budget, m, warm_up=True)
    m.failures = len(loader.skipped)
    m.note = f"{m.failures} clip(s) skipped; first clip excluded (CUDA start-up); MB/s not counted"
    return m

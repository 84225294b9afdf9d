"""The CogVideoX sample path in `pyvidfast bench`: clips/s and MB/s of ``SFTDataset`` through a
``DataLoader`` with 0..N workers, of the GPU loader, and of the reference procedure.

The sample's files are linked into an SFT folder (``videos/NNNNNN.mp4``, captions in ``labels/``
when the source had them) so the dataset sees exactly the sample, in its order. A clip the
dataset cannot sample (too short, broken) counts as a failure, as a training job would skip it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from torch.utils.data import DataLoader, Dataset

from pyvidfast.bench.machine import cpu_seconds
from pyvidfast.bench.results import Budget, Measurement, finish

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
    returns the linked paths in order (``SFTDataset`` keeps ``os.walk`` order, sorted here)."""
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


def sft_dataloader(folder: str, budget: Budget, params: SampleParams, workers: int) -> Measurement:
    """``DataLoader(SFTDataset(folder), batch_size=1, num_workers=workers)`` until the budget."""
    from pyvidfast.cogvideox import SFTDataset

    dataset = SFTDataset(folder, **params.kwargs())
    m = Measurement("sample", "pyvidfast SFTDataset", "clips/s", workers=workers)
    loader = DataLoader(
        _Guarded(dataset), batch_size=1, num_workers=workers, collate_fn=_first, shuffle=False
    )
    t0, c0 = time.perf_counter(), cpu_seconds()
    for i, item in enumerate(loader):
        m.files += 1
        m.bytes += os.path.getsize(dataset.video_paths[i])
        if item is None:
            m.failures += 1
        else:
            m.items += 1
        if budget.over():
            break
    m.note = f"{m.failures} clip(s) could not be sampled"
    return finish(m, t0, c0)


def reference(folder: str, budget: Budget, params: SampleParams) -> Measurement:
    """CogVideoX's own procedure (decord + torch resize), one clip at a time in this process."""
    from pyvidfast.bench.reference import reference_item
    from pyvidfast.cogvideox.sft import scan_sft_folder

    paths, _ = scan_sft_folder(folder)
    m = Measurement("sample", "reference (decord + torch)", "clips/s", workers=0)
    t0, c0 = time.perf_counter(), cpu_seconds()
    for path in paths:
        m.files += 1
        m.bytes += os.path.getsize(path)
        try:
            reference_item(path, **params.kwargs())
            m.items += 1
        except Exception:  # the reference raises decord/numpy/index errors on short or bad clips
            m.failures += 1
        if budget.over():
            break
    m.note = f"{m.failures} clip(s) raised"
    return finish(m, t0, c0)


def gpu_loader(folder: str, budget: Budget, params: SampleParams) -> Measurement:
    """``GpuBatchLoader`` (NVDEC + fused resize, bf16 on the GPU), batch size 1."""
    import torch

    from pyvidfast.cogvideox.gpu import GpuBatchLoader

    loader = GpuBatchLoader.from_sft_folder(folder, **params.kwargs(), on_error="skip")
    m = Measurement("sample", "pyvidfast GpuBatchLoader", "clips/s", workers=0)
    t0, c0 = time.perf_counter(), cpu_seconds()
    for batch in loader:
        torch.cuda.synchronize()
        m.items += len(batch["txt"])
        if budget.over():
            break
    m.failures = len(loader.skipped)
    m.files = m.items + m.failures
    paths = [r.source for r in loader.requests[: m.files]]
    m.bytes = sum(os.path.getsize(p) for p in paths)
    m.note = f"{m.failures} clip(s) skipped"
    return finish(m, t0, c0)

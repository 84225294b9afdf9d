"""How many CogVideoX SFT clips per second does the GPU path make, against the 16-worker CPU
reference and against the NVDEC ceiling, and does its GPU memory stay flat? (issue 7)

GPU path: ``GpuBatchLoader`` (NVDEC decode in threads, fused YUV resize, [B, T, C, H, W] bf16 on
the GPU). Reference: CogVideoX SAT's ``SFTDataset.__getitem__`` procedure (decord 0.6.0 +
torchvision-style resize, ``bench_cogvideox.reference_item``) in a ``DataLoader`` with
``--ref-workers`` worker processes (16 in the issue). Ceiling: the frames NVDEC must decode per
clip (from the keyframe before the first index to the last index) against the per-engine rate in
spec/gpu.md (H.264 771 fps, HEVC 1316 at 1080p) times the GPU's engine count. Memory: allocated
and reserved after 200 items and after ``--items`` items (2,000 by default) must not grow.

Clips: generated 1080p24 H.264 (``--clips`` of ``--seconds`` s, long branch: about 147 frames
decoded per 49-frame sample) in a temp dir. Without a GPU (or without NVDEC) it says so and exits 0.

    python benchmarks/bench_gpu_dataset.py [--clips 24] [--items 2000] [--ref-items 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from bench_cogvideox import make_1080p_clip, reference_item
from common import print_table, write_results

# spec/gpu.md: NVDEC fps per engine at 1080p 4:2:0 (Turing design, 1860 MHz video clock).
ENGINE_FPS = {"h264": 771, "hevc": 1316, "hevc10": 1158, "vp9": 932}
SIZE, FPS, FRAMES, SKIP = (480, 720), 8, 49, 3


def _make(args: tuple[str, float]) -> str:
    path, seconds = args
    make_1080p_clip(Path(path), seconds, 24)
    return path


def make_dataset(root: Path, clips: int, seconds: float) -> Path:
    videos, labels = root / "videos", root / "labels"
    videos.mkdir(parents=True)
    labels.mkdir()
    jobs = [(str(videos / f"clip{i:03d}.mp4"), seconds) for i in range(clips)]
    with ProcessPoolExecutor(min(len(jobs), os.cpu_count() or 1)) as ex:
        list(ex.map(_make, jobs))
    for i in range(clips):
        (labels / f"clip{i:03d}.txt").write_text(f"generated clip {i}\n")
    return videos


class _Reference(torch.utils.data.Dataset):
    def __init__(self, paths: list[str], items: int):
        self.paths, self.items = paths, items

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, i: int) -> dict:
        return reference_item(self.paths[i % len(self.paths)], list(SIZE), FPS, FRAMES, SKIP)


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)  # one core per worker


def reference_rate(paths: list[str], items: int, workers: int) -> float:
    loader = torch.utils.data.DataLoader(
        _Reference(paths, items),
        batch_size=2,
        num_workers=workers,
        prefetch_factor=2,
        worker_init_fn=_one_thread,
    )
    it = iter(loader)
    next(it)  # workers started, first batch out
    t0, n = time.perf_counter(), 0
    for batch in it:
        n += batch["mp4"].shape[0]
    return n / (time.perf_counter() - t0)


def frames_decoded_per_clip(paths: list[str]) -> float:
    """NVDEC decodes from the keyframe before the first index through the last index."""
    from pyvidfast.io.reader import VideoReader
    from pyvidfast.sampling import sft_indices

    counts = []
    for p in paths:
        with VideoReader(p) as r:
            idx, _ = sft_indices(len(r), r.get_avg_fps(), FPS, FRAMES, SKIP)
            keys = [k for k in r.get_key_indices() if k <= min(idx)]
            counts.append(max(idx) + 1 - (max(keys) if keys else 0))
    return statistics.mean(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=7.0)
    parser.add_argument("--items", type=int, default=2000, help="GPU items (memory-growth run)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--ref-items", type=int, default=64)
    parser.add_argument("--ref-workers", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="decode threads (default: pool)")
    args = parser.parse_args()

    from pyvidfast.io.nvdec import engine_count, nvdec_available

    if not torch.cuda.is_available() or not nvdec_available():
        print("bench_gpu_dataset: no CUDA GPU with NVDEC here; nothing to measure", file=sys.stderr)
        return 0
    from pyvidfast.cogvideox.gpu import GpuBatchLoader

    with tempfile.TemporaryDirectory() as tmp:
        videos = make_dataset(Path(tmp), args.clips, args.seconds)
        paths = sorted(str(p) for p in videos.glob("*.mp4"))
        # The forking reference runs first, before this process has a CUDA context.
        try:
            import decord  # noqa: F401

            ref_rate = reference_rate(paths, args.ref_items, args.ref_workers)
        except ImportError:
            print("bench_gpu_dataset: decord missing, no reference rate", file=sys.stderr)
            ref_rate = float("nan")

        loader = GpuBatchLoader.from_sft_folder(
            str(videos),
            SIZE,
            FPS,
            FRAMES,
            SKIP,
            batch_size=args.batch_size,
            num_threads=args.threads,
        )
        loader.requests = (loader.requests * (args.items // len(paths) + 1))[: args.items]
        torch.cuda.reset_peak_memory_stats()
        memory = {}
        n, n_warm, t_warm = 0, 0, time.perf_counter()
        warm = False
        for batch in loader:
            n += batch["mp4"].shape[0]
            del batch
            if not warm and n >= 4 * args.batch_size:  # decoders created, threads running
                torch.cuda.synchronize()
                warm, t_warm, n_warm = True, time.perf_counter(), n
            if (n >= 200 and not memory) or n >= len(loader.requests):
                torch.cuda.synchronize()
                memory[n] = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved())
        torch.cuda.synchronize()
        gpu_rate = (n - n_warm) / (time.perf_counter() - t_warm)
        pool = loader._pool

        engines = engine_count(0)
        per_clip = frames_decoded_per_clip(paths)
        ceiling = engines * ENGINE_FPS["h264"] / per_clip

    (n0, (a0, r0)), (n1, (a1, r1)) = sorted(memory.items())[0], sorted(memory.items())[-1]
    results = {
        "question": "CogVideoX clips/s: GPU path vs 16-worker decord reference vs NVDEC ceiling",
        "config": {
            "size": SIZE,
            "fps": FPS,
            "frames": FRAMES,
            "clips": args.clips,
            "seconds": args.seconds,
            "batch_size": args.batch_size,
            "items": n,
        },
        "gpu_clips_per_s": gpu_rate,
        "reference_clips_per_s": ref_rate,
        "reference_workers": args.ref_workers,
        "speedup_vs_reference": gpu_rate / ref_rate,
        "nvdec_engines": engines,
        "frames_decoded_per_clip": per_clip,
        "nvdec_ceiling_clips_per_s": ceiling,
        "fraction_of_ceiling": gpu_rate / ceiling,
        "decoders": {"created": pool.created, "reconfigured": pool.reconfigured},
        "memory": {
            "items": [n0, n1],
            "allocated": [a0, a1],
            "reserved": [r0, r1],
            "peak_allocated": torch.cuda.max_memory_allocated(),
        },
        "memory_growth_bytes": a1 - a0,
        "targets": {"speedup": 10, "fraction_of_ceiling": 0.6, "memory_growth_bytes": 0},
    }
    out = write_results("bench_gpu_dataset", results)
    print(f"wrote {out}")
    print_table(
        [
            {
                "path": "GPU (NVDEC + fused resize)",
                "clips/s": f"{gpu_rate:.1f}",
                "vs ref": f"{gpu_rate / ref_rate:.1f}x",
                "of ceiling": f"{gpu_rate / ceiling:.0%}",
            },
            {
                "path": f"reference, {args.ref_workers} workers",
                "clips/s": f"{ref_rate:.1f}",
                "vs ref": "1.0x",
                "of ceiling": "",
            },
            {
                "path": f"NVDEC ceiling ({engines} engines)",
                "clips/s": f"{ceiling:.1f}",
                "vs ref": "",
                "of ceiling": "100%",
            },
            {
                "path": f"memory {n0} -> {n1} items",
                "clips/s": f"{a0 >> 20} -> {a1 >> 20} MiB",
                "vs ref": "",
                "of ceiling": "",
            },
        ],
        ["path", "clips/s", "vs ref", "of ceiling"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

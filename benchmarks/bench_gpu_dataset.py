"""How many CogVideoX SFT clips per second does the GPU path make, against our own CPU
SFTDataset and the decord reference (16 DataLoader workers each), against the NVDEC ceiling, and
does its GPU memory stay flat? (issue 11)

GPU path, as a user runs it: ``DataLoader(SFTDataset(..., device="cuda"), batch_size=B,
num_workers=0)``: each batch decoded concurrently across the NVDEC engines (``__getitems__``),
fused YUV resize, bf16 on the GPU; and ``GpuBatchLoader`` (the same clips, ``prefetch`` batches
in flight). Baselines in the same run, before this process touches CUDA: our ``SFTDataset`` on
the CPU and CogVideoX SAT's ``SFTDataset.__getitem__`` procedure (decord 0.6.0,
``bench_cogvideox.reference_item``), each in a DataLoader with ``--workers`` processes. Ceiling:
the frames NVDEC must decode per clip (keyframe before the first index through the last) against
the per-engine rate in spec/gpu.md (H.264 771 fps at 1080p) times the engine count. Memory:
allocated after 200 items and after ``--items`` items must not grow. Fallbacks must be zero.

Clips: generated 1080p24 H.264 with B-frames (x264 veryfast: 3 B-frames, so the first packet's
dts is before its pts and NVDEC's stamps are shifted; the JSON records that shift), ``--clips``
of ``--seconds`` s (long branch: about 147 frames decoded per 49-frame sample). Without a GPU
with NVDEC it says so and exits 0.

    python benchmarks/bench_gpu_dataset.py [--clips 24] [--items 2000] [--workers 16]
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


def loader_rate(dataset, workers: int, batch_size: int = 2) -> float:
    """Clips/s of a DataLoader over ``dataset`` after its first batch (workers started)."""
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
        worker_init_fn=_one_thread if workers else None,
    )
    it = iter(loader)
    next(it)
    t0, n = time.perf_counter(), 0
    for batch in it:
        n += batch["mp4"].shape[0]
    return n / (time.perf_counter() - t0)


def cpu_rates(videos: Path, paths: list[str], items: int, workers: int) -> dict[str, float]:
    """The two CPU baselines (run before this process creates a CUDA context: they fork)."""
    from pyvidfast.cogvideox import SFTDataset

    ours = SFTDataset(videos, SIZE, FPS, FRAMES, SKIP)
    repeated = [i % len(ours) for i in range(items)]
    rates = {"ours_cpu": loader_rate(torch.utils.data.Subset(ours, repeated), workers)}
    try:
        import decord  # noqa: F401

        rates["decord_reference"] = loader_rate(_Reference(paths, items), workers)
    except ImportError:
        print("bench_gpu_dataset: decord missing, no reference rate", file=sys.stderr)
        rates["decord_reference"] = float("nan")
    return rates


def gpu_dataloader_run(videos: Path, items: int, batch_size: int) -> dict:
    """The drop-in: SFTDataset(device="cuda") through DataLoader(num_workers=0); memory at
    200 items and at the end."""
    from pyvidfast.cogvideox import SFTDataset

    ds = SFTDataset(videos, SIZE, FPS, FRAMES, SKIP, out_dtype=torch.bfloat16, device="cuda")
    repeated = torch.utils.data.Subset(ds, [i % len(ds) for i in range(items)])
    loader = torch.utils.data.DataLoader(repeated, batch_size=batch_size, num_workers=0)
    memory, n, n_warm, t_warm = {}, 0, 0, time.perf_counter()
    for batch in loader:
        n += batch["mp4"].shape[0]
        del batch
        if n_warm == 0 and n >= 4 * batch_size:  # decoders created, threads running
            torch.cuda.synchronize()
            t_warm, n_warm = time.perf_counter(), n
        if (n >= 200 and not memory) or n >= items:
            torch.cuda.synchronize()
            memory[n] = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved())
    torch.cuda.synchronize()
    rate = (n - n_warm) / (time.perf_counter() - t_warm)
    return {"rate": rate, "items": n, "memory": memory, "fallbacks": ds.fallbacks}


def gpu_loader_rate(videos: Path, items: int, batch_size: int, threads: int | None) -> float:
    from pyvidfast.cogvideox.gpu import GpuBatchLoader

    loader = GpuBatchLoader.from_sft_folder(
        str(videos), SIZE, FPS, FRAMES, SKIP, batch_size=batch_size, num_threads=threads
    )
    loader.requests = (loader.requests * (items // len(loader.requests) + 1))[:items]
    it = iter(loader)
    next(it)
    torch.cuda.synchronize()
    t0, n = time.perf_counter(), 0
    for batch in it:
        n += batch["mp4"].shape[0]
    torch.cuda.synchronize()
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
    parser.add_argument("--loader-items", type=int, default=400, help="GpuBatchLoader items")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--cpu-items", type=int, default=96, help="items per CPU baseline")
    parser.add_argument("--workers", type=int, default=16, help="DataLoader workers (CPU)")
    parser.add_argument("--threads", type=int, default=None, help="decode threads (default: pool)")
    parser.add_argument(
        "--dry-run", action="store_true", help="CPU: 2 clips, the baselines and the NVDEC stand-in"
    )
    args = parser.parse_args()
    if args.dry_run:
        return dry_run(args)

    from pyvidfast.io.nvdec import engine_count, nvdec_available
    from pyvidfast.io.reader import VideoReader

    if not torch.cuda.is_available() or not nvdec_available():
        print("bench_gpu_dataset: no CUDA GPU with NVDEC here; nothing to measure", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        videos = make_dataset(Path(tmp), args.clips, args.seconds)
        paths = sorted(str(p) for p in videos.glob("*.mp4"))
        with VideoReader(paths[0]) as first:
            shift = first.info.stamp_shift
        cpu = cpu_rates(videos, paths, args.cpu_items, args.workers)  # forks: before CUDA
        torch.cuda.reset_peak_memory_stats()
        run = gpu_dataloader_run(videos, args.items, args.batch_size)
        loader = gpu_loader_rate(videos, args.loader_items, args.batch_size, args.threads)
        engines = engine_count(0)
        ceiling = engines * ENGINE_FPS["h264"] / frames_decoded_per_clip(paths)
    results = summarize(args, run, loader, cpu, ceiling, engines, shift)
    out = write_results("bench_gpu_dataset", results)
    print(f"wrote {out}")
    print_table(table_rows(results), ["path", "clips/s", "vs ours", "vs decord", "of ceiling"])
    return 0


def dry_run(args) -> int:
    """gpu_verify.sh's CPU rehearsal: the same clips, the CPU baselines, and the dataset over
    the measured NVDEC stand-in (io/nvdec/standin.py) instead of a GPU, a few items each."""
    from pyvidfast.cogvideox import SFTDataset
    from pyvidfast.io.nvdec.standin import standin_pool

    with tempfile.TemporaryDirectory() as tmp:
        videos = make_dataset(Path(tmp), 2, args.seconds)
        paths = sorted(str(p) for p in videos.glob("*.mp4"))
        cpu = cpu_rates(videos, paths, 4, 2)
        ds = SFTDataset(videos, SIZE, FPS, FRAMES, SKIP, decoder_pool=standin_pool(1))
        cpu_ds = SFTDataset(videos, SIZE, FPS, FRAMES, SKIP)
        t0 = time.perf_counter()
        items = [ds[i] for i in range(len(ds))]
        rate = len(items) / (time.perf_counter() - t0)
        diff = max(
            (a["mp4"] - b["mp4"]).abs().max().item()
            for a, b in zip(items, map(cpu_ds.__getitem__, range(len(ds))))
        )
    out = write_results(
        "bench_gpu_dataset_dry_run",
        {
            "dry_run": True,
            "cpu": cpu,
            "standin_items_per_s": rate,
            "standin_vs_cpu_max_diff": diff,
            "fallbacks": ds.fallbacks,
            "shapes": [list(i["mp4"].shape) for i in items],
        },
    )
    print(f"wrote {out}")
    return 0


def summarize(args, run: dict, loader: float, cpu: dict, ceiling: float, engines: int, shift):
    (n0, (a0, r0)), (n1, (a1, r1)) = (
        sorted(run["memory"].items())[0],
        sorted(run["memory"].items())[-1],
    )
    rate = run["rate"]
    return {
        "question": "CogVideoX clips/s: GPU path vs our CPU SFTDataset vs decord, vs NVDEC ceiling",
        "config": {
            "size": SIZE,
            "fps": FPS,
            "frames": FRAMES,
            "clips": args.clips,
            "seconds": args.seconds,
            "batch_size": args.batch_size,
            "cpu_workers": args.workers,
            "first_packet_dts_minus_pts": shift,
        },
        "gpu_dataloader_clips_per_s": rate,
        "gpu_batch_loader_clips_per_s": loader,
        "ours_cpu_clips_per_s": cpu["ours_cpu"],
        "decord_reference_clips_per_s": cpu["decord_reference"],
        "speedup_vs_ours_cpu": rate / cpu["ours_cpu"],
        "speedup_vs_decord": rate / cpu["decord_reference"],
        "nvdec_engines": engines,
        "nvdec_ceiling_clips_per_s": ceiling,
        "fraction_of_ceiling": rate / ceiling,
        "fallbacks": run["fallbacks"],
        "memory": {
            "items": [n0, n1],
            "allocated": [a0, a1],
            "reserved": [r0, r1],
            "peak_allocated": torch.cuda.max_memory_allocated(),
        },
        "memory_growth_bytes": a1 - a0,
        "targets": {
            "fraction_of_ceiling": 0.6,
            "speedup_vs_ours_cpu": 3,
            "speedup_vs_decord": 6,
            "fallbacks": 0,
            "memory_growth_bytes": 0,
        },
    }


def table_rows(r: dict) -> list[dict]:
    ours, ref, ceiling = (
        r["ours_cpu_clips_per_s"],
        r["decord_reference_clips_per_s"],
        r["nvdec_ceiling_clips_per_s"],
    )

    def row(name: str, rate: float) -> dict:
        return {
            "path": name,
            "clips/s": f"{rate:.1f}",
            "vs ours": f"{rate / ours:.1f}x",
            "vs decord": f"{rate / ref:.1f}x",
            "of ceiling": f"{rate / ceiling:.0%}",
        }

    workers = r["config"]["cpu_workers"]
    mem = r["memory"]
    return [
        row("GPU: DataLoader(SFTDataset(cuda), workers=0)", r["gpu_dataloader_clips_per_s"]),
        row("GPU: GpuBatchLoader (prefetch)", r["gpu_batch_loader_clips_per_s"]),
        row(f"ours, CPU, {workers} workers", ours),
        row(f"decord reference, {workers} workers", ref),
        row(f"NVDEC ceiling ({r['nvdec_engines']} engines)", ceiling),
        {
            "path": f"memory {mem['items'][0]} -> {mem['items'][1]} items, "
            f"{len(r['fallbacks'])} fallbacks",
            "clips/s": f"{mem['allocated'][0] >> 20} -> {mem['allocated'][1] >> 20} MiB",
        },
    ]


if __name__ == "__main__":
    sys.exit(main())

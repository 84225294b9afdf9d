"""Does host memory stay flat over 10,000 ``SFTDataset`` items?

Small generated H.264 clips (pixels encode the frame number; several lengths and frame rates so
the long, medium and short sampling branches all run) in an SFT folder (``videos/`` +
``labels/``) in a temp dir, read item after item in this process, as a DataLoader worker reads
them. The resident set size (``/proc/self/statm``) is recorded every ``--every`` items. After the
warm-up (the first ``--warmup`` items: allocator pools, FFmpeg and torch caches fill) a
least-squares line through the RSS samples gives the slope; "flat" means the line grows by less
than ``--flat-mib`` over the whole measured range. The baseline is the RSS at the end of warm-up.

    python benchmarks/bench_memory.py [--items 10000] [--every 100] [--clips 40]

Writes benchmarks/results/bench_memory.json (and bench_memory.png when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import RESULTS_DIR, cpu_seconds, print_table, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import make_clip  # noqa: E402  (tests/media.py: the pattern-clip generator)

from pyvidfast.cogvideox import SFTDataset  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
# (frames, fps) per generated clip, cycled: long (> M frames at f), medium and short branches.
CLIP_KINDS = [(96, 24), (72, 30), (40, 25), (12, 12), (120, 60)]


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / (1 << 20)


def make_folder(root: Path, clips: int, size: tuple[int, int]) -> Path:
    (root / "videos").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(clips):
        frames, fps = CLIP_KINDS[i % len(CLIP_KINDS)]
        make_clip(root / "videos" / f"clip{i:03d}.mp4", frames, fps, size=size)
        (root / "labels" / f"clip{i:03d}.txt").write_text(f"clip {i}\n")
    return root


def measure(dataset: SFTDataset, items: int, every: int) -> list[dict]:
    """RSS (MiB) after every ``every`` items, with the wall and CPU time so far."""
    curve = [{"item": 0, "rss_mib": rss_mib(), "wall_s": 0.0}]
    t0, c0 = time.perf_counter(), cpu_seconds()
    n = len(dataset)
    for i in range(1, items + 1):
        item = dataset[(i * 7) % n]  # a stride that visits every clip in turn
        del item
        if i % every == 0:
            curve.append(
                {
                    "item": i,
                    "rss_mib": round(rss_mib(), 2),
                    "wall_s": round(time.perf_counter() - t0, 2),
                    "cpu_s": round(cpu_seconds() - c0, 2),
                }
            )
    return curve


def trend(curve: list[dict], warmup: int) -> dict:
    """Least-squares slope of RSS over the items after ``warmup`` (MiB per 1000 items)."""
    points = [(p["item"], p["rss_mib"]) for p in curve if p["item"] >= warmup]
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, float(y[0]))
    return {
        "warmup_items": warmup,
        "baseline_rss_mib": float(y[0]),
        "final_rss_mib": float(y[-1]),
        "max_rss_mib": float(y.max()),
        "slope_mib_per_1000_items": float(slope * 1000),
        "fitted_growth_mib": float(slope * (x[-1] - x[0])),
        "samples": len(points),
    }


def plot(curve: list[dict], stats: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([p["item"] for p in curve], [p["rss_mib"] for p in curve], lw=1)
    ax.axvline(stats["warmup_items"], color="grey", ls=":", label="end of warm-up")
    ax.set_xlabel("SFTDataset items read")
    ax.set_ylabel("host RSS (MiB)")
    slope = stats["slope_mib_per_1000_items"]
    ax.set_title(f"RSS over SFTDataset items (slope {slope:+.3f} MiB / 1000 items)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--every", type=int, default=100, help="items between RSS samples")
    parser.add_argument("--warmup", type=int, default=1000, help="items before the trend fit")
    parser.add_argument("--clips", type=int, default=40, help="generated clips in the folder")
    parser.add_argument("--flat-mib", type=float, default=8.0, help="max fitted growth for flat")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a worker's)")
    parser.add_argument("--name", default="bench_memory", help="results file name")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp) / "sft", args.clips, size=(160, 120))
        dataset = SFTDataset(folder, [96, 128], fps=8, max_num_frames=13, skip_frms_num=3)
        curve = measure(dataset, args.items, args.every)
    stats = trend(curve, min(args.warmup, args.items // 2))
    stats["flat"] = stats["fitted_growth_mib"] < args.flat_mib
    settings = {
        "items": args.items,
        "clips": args.clips,
        "clip_kinds_frames_fps": CLIP_KINDS,
        "clip_size_wxh": [160, 120],
        "video_size": [96, 128],
        "fps": 8,
        "max_num_frames": 13,
        "skip_frms_num": 3,
        "torch_threads": args.threads,
        "flat_threshold_mib": args.flat_mib,
    }
    out = write_results(args.name, {"settings": settings, "trend": stats, "curve": curve})
    png = plot(curve, stats, RESULTS_DIR / f"{args.name}.png")
    print(f"wrote {out}" + (f" and {png}" if png else ""))
    last = curve[-1]
    rows = [
        {
            "items": args.items,
            "wall_s": last["wall_s"],
            "items_per_s": round(args.items / max(last["wall_s"], 1e-9), 1),
            "rss_start": round(curve[0]["rss_mib"], 1),
            "rss_warm": round(stats["baseline_rss_mib"], 1),
            "rss_end": round(stats["final_rss_mib"], 1),
            "slope_mib_per_1k": round(stats["slope_mib_per_1000_items"], 3),
            "flat": stats["flat"],
        }
    ]
    print_table(rows, list(rows[0]))


if __name__ == "__main__":
    main()

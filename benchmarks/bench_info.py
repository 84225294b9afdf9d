"""How much faster is pyvidfast's `--info` than Open-Sora's full decode, at what memory?

Question: time and peak memory of the info columns for (a) the real test corpus and (b) longer
1080p clips, for Open-Sora's procedure (every frame decoded and converted to RGB,
``pyvidfast.opensora.reference``), pyvidfast's default header path and ``--exact-frames``.
Every mode runs in a fresh process (so peak RSS is its own), one file at a time in-process (same
single core for all, the fair ratio) and, for pyvidfast, also with its worker pool (the default
CLI path). The reference does not keep the frames (that would need the tens of GB Open-Sora
allocates); the RAM Open-Sora's buffer would take is computed and reported instead.

    python benchmarks/bench_info.py            # writes benchmarks/results/bench_info.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from common import REAL_DIR, in_fresh_process, peak_rss_mb, print_table, write_results

CLIP_DIR = Path(tempfile.gettempdir()) / "pyvidfast-bench-info"
MODES = ["reference", "default", "default_pool", "exact", "exact_pool"]


def real_corpus() -> list[str]:
    return sorted(
        str(p)
        for p in REAL_DIR.glob("*/*")
        if p.is_file() and p.suffix.lower() not in (".csv", ".md")
    )


def long_clips(seconds: int) -> list[str]:
    """1080p30 H.264 clips (MP4 and MKV) with moving noise, generated once into a temp dir."""
    import av
    import numpy as np

    CLIP_DIR.mkdir(exist_ok=True)
    out = []
    for ext in ("mp4", "mkv"):
        path = CLIP_DIR / f"long_1080p_{seconds}s.{ext}"
        out.append(str(path))
        if path.exists():
            continue
        # Smooth texture panning across the frame: a bitrate like real footage (a few Mbit/s),
        # B-frames and CABAC (preset veryfast), so decode cost is realistic.
        from PIL import Image

        rng = np.random.default_rng(0)
        small = rng.integers(0, 255, (40, 70, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(small).resize((1920 + 256, 1080 + 128), Image.BICUBIC))
        tmp = path.with_suffix(".tmp." + ext)
        with av.open(str(tmp), "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(30))
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "23"}
            for i in range(seconds * 30):
                dy, dx = (i // 2) % 128, (2 * i) % 256
                frame = av.VideoFrame.from_ndarray(base[dy : dy + 1080, dx : dx + 1920], "rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        tmp.rename(path)
    return out


def run_mode(mode: str, paths: list[str]) -> dict:
    """Inside a fresh process: time one mode over ``paths``."""
    if mode == "reference":
        from pyvidfast.opensora.reference import reference_info

        t0 = time.perf_counter()
        rows = [reference_info(p, rgb=True) for p in paths]
        elapsed = time.perf_counter() - t0
        frames = [r[0] for r in rows]
        buffer = max(
            (max(r[0], 1) * r[1] * r[2] * 3 for r in rows if r[1]), default=0
        )  # Open-Sora's per-file RGB buffer (at least the decoded frames)
        return {
            "seconds": elapsed,
            "frames": frames,
            "opensora_buffer_bytes_max": buffer,
            "peak_rss_mb": peak_rss_mb(),
        }
    from pyvidfast.opensora.info import compute_info
    from pyvidfast.parallel.memory import keep_freed_memory

    keep_freed_memory()  # as the command-line tools do (Note [freed memory])
    exact = mode.startswith("exact")
    pool = mode.endswith("_pool")
    t0 = time.perf_counter()
    rows = compute_info(paths, exact_frames=exact, parallel=pool, progress=False, timeout=600)
    elapsed = time.perf_counter() - t0
    frames = [r["num_frames"] for r in rows]
    return {"seconds": elapsed, "frames": frames, "peak_rss_mb": peak_rss_mb()}


def measure(mode: str, paths: list[str]) -> dict:
    """Run ``mode`` in a fresh child process; its timing, frame counts and peak RSS."""
    return in_fresh_process(__file__, mode, paths)


def warm_cache(paths: list[str]) -> None:
    """Read every file once so all modes read from the page cache."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the 1080p clips")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each pyvidfast mode")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "LIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, listing = args.worker
        print(json.dumps(run_mode(mode, json.loads(Path(listing).read_text()))))
        return 0

    sets = {"real_corpus": real_corpus(), "long_1080p": long_clips(args.seconds)}
    for paths in sets.values():
        warm_cache(paths)
    results: dict = {"sets": {}}
    table = []
    for name, paths in sets.items():
        entry: dict = {"files": len(paths), "bytes": sum(os.path.getsize(p) for p in paths)}
        for mode in MODES:
            runs = [measure(mode, paths) for _ in range(1 if mode == "reference" else args.repeats)]
            best = min(runs, key=lambda r: r["seconds"])
            entry[mode] = {
                "seconds": best["seconds"],
                "all_seconds": [r["seconds"] for r in runs],
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "frames_total": sum(best["frames"]),
            }
            if "opensora_buffer_bytes_max" in best:
                entry[mode]["opensora_buffer_bytes_max"] = best["opensora_buffer_bytes_max"]
            entry[mode]["frames"] = best["frames"]
        ref = entry["reference"]["seconds"]
        for mode in MODES[1:]:
            entry[mode]["speedup_vs_reference"] = ref / entry[mode]["seconds"]
            table.append(
                {
                    "set": name,
                    "mode": mode,
                    "files": len(paths),
                    "seconds": f"{entry[mode]['seconds']:.3f}",
                    "reference_s": f"{ref:.2f}",
                    "speedup": f"{ref / entry[mode]['seconds']:.1f}x",
                    "peak_rss_mb": f"{entry[mode]['peak_rss_mb']:.0f}",
                    "ref_rss_mb": f"{entry['reference']['peak_rss_mb']:.0f}",
                }
            )
        entry["frame_count_mismatches_default"] = [
            (Path(p).name, a, b)
            for p, a, b in zip(paths, entry["default"]["frames"], entry["reference"]["frames"])
            if a != b
        ]
        entry["frame_count_mismatches_exact"] = [
            (Path(p).name, a, b)
            for p, a, b in zip(paths, entry["exact"]["frames"], entry["reference"]["frames"])
            if a != b
        ]
        results["sets"][name] = entry
    results["notes"] = (
        "reference = Open-Sora's procedure (full decode + RGB conversion per frame, in-process, "
        "frames not kept); default/exact = pyvidfast in-process one file at a time; *_pool = "
        "pyvidfast's worker pool (cpu-count workers). speedup = reference seconds / mode seconds. "
        "peak_rss_mb = peak RSS of the mode's process or its largest worker. The reference "
        "does not keep frames; opensora_buffer_bytes_max is the RGB buffer Open-Sora would "
        "allocate for the largest file (decoded frames x H x W x 3)."
    )
    path = write_results("bench_info", results)
    print(f"wrote {path}")
    print_table(
        table,
        ["set", "mode", "files", "seconds", "reference_s", "speedup", "peak_rss_mb", "ref_rss_mb"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

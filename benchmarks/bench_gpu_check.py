"""Is `pyvidfast check --device cuda` at least 3x the all-core ffmpeg check, with the same
verdicts? (issue 8)

Three checkers on the same files, in this order: ``ffmpeg -v error -i P -f null -`` one job per
core (``bench_check.ffmpeg_check``; skipped when there is no ffmpeg command), pyvidfast's CPU
check (one worker per core) and the GPU check (NVDEC, decoders reused across files). Files: the
real clips in ../shared/testdata/real plus ``--generated`` 1080p clips, half H.264 and half HEVC
(``--seconds`` s each, made with PyAV in a temp dir). Reports files/s, the ratios, and every file
whose verdict differs (GPU vs ffmpeg, GPU vs CPU check, and vs FFMPEG_VERDICTS.csv for the real
clips). Without a GPU (or NVDEC) it says so and exits 0.

    python benchmarks/bench_gpu_check.py [--generated 200] [--seconds 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import av
import numpy as np
from bench_check import ffmpeg_check
from common import REAL_DIR, print_table, write_results


def make_clip(args: tuple[str, str, float, int]) -> str:
    """A moving 1080p clip (x264/x265 ultrafast, 24 fps) whose frames differ everywhere."""
    path, codec, seconds, seed = args
    h, w = 1080, 1920
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 60, size=(h, w + 2048, 3), dtype=np.uint8)
    x = np.arange(w)[None, :]
    with av.open(path, "w") as out:
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        if codec == "libx265":
            stream.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
        for i in range(int(seconds * 24)):
            img = noise[:, 16 * i : 16 * i + w].copy()
            img[..., 0] += ((x + 5 * i) % 180).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count(), help="CPU jobs (ffmpeg, CPU check)"
    )
    parser.add_argument("--workers", type=int, default=None, help="GPU check threads")
    args = parser.parse_args()

    from pyvidfast.io.nvdec import engine_count, nvdec_available

    if not nvdec_available():
        print("bench_gpu_check: no CUDA GPU with NVDEC here; nothing to measure", file=sys.stderr)
        return 0
    from pyvidfast.curation.check import check_files

    with open(REAL_DIR / "FFMPEG_VERDICTS.csv") as f:
        reference = {str(REAL_DIR / r["file"]): r["ffmpeg_ok"] == "1" for r in csv.DictReader(f)}
    ffmpeg = shutil.which("ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [
            (
                os.path.join(tmp, f"g{i:04d}.mp4"),
                "libx264" if i % 2 == 0 else "libx265",
                args.seconds,
                i,
            )
            for i in range(args.generated)
        ]
        with ProcessPoolExecutor(args.jobs) as ex:
            generated = list(ex.map(make_clip, jobs))
        sets = {"real": sorted(reference), "generated": generated}
        rows, results = [], {}
        for name, paths in sets.items():
            r: dict = {"files": len(paths)}
            verdicts = {}
            if ffmpeg:
                err_dir = os.path.join(tmp, f"err_{name}")
                os.makedirs(err_dir)
                t0 = time.perf_counter()
                verdicts["ffmpeg"] = ffmpeg_check(paths, args.jobs, err_dir, ffmpeg)
                r["ffmpeg_files_per_s"] = len(paths) / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            cpu = check_files(paths, workers=args.jobs, timeout=300)
            r["cpu_check_files_per_s"] = len(paths) / (time.perf_counter() - t0)
            verdicts["cpu"] = dict(zip(paths, cpu["ok"]))
            t0 = time.perf_counter()
            gpu = check_files(paths, device="cuda", workers=args.workers, timeout=300)
            r["gpu_check_files_per_s"] = len(paths) / (time.perf_counter() - t0)
            verdicts["gpu"] = dict(zip(paths, gpu["ok"]))
            if name == "real":
                verdicts["FFMPEG_VERDICTS.csv"] = {p: reference[p] for p in paths}
            for other in verdicts:
                if other != "gpu":
                    r[f"gpu_disagrees_with_{other}"] = sorted(
                        os.path.relpath(p, REAL_DIR) if name == "real" else os.path.basename(p)
                        for p in paths
                        if bool(verdicts["gpu"][p]) != bool(verdicts[other][p])
                    )
            base = r.get("ffmpeg_files_per_s") or r["cpu_check_files_per_s"]
            r["gpu_speedup_vs_baseline"] = r["gpu_check_files_per_s"] / base
            r["baseline"] = "ffmpeg" if ffmpeg else "pyvidfast cpu check"
            results[name] = r
            rows.append(
                {
                    "files": f"{name} ({len(paths)})",
                    "ffmpeg/s": f"{r.get('ffmpeg_files_per_s', float('nan')):.1f}",
                    "cpu check/s": f"{r['cpu_check_files_per_s']:.1f}",
                    "gpu check/s": f"{r['gpu_check_files_per_s']:.1f}",
                    "gpu vs base": f"{r['gpu_speedup_vs_baseline']:.1f}x",
                    "verdict diffs": sum(
                        len(v) for k, v in r.items() if k.startswith("gpu_disagrees")
                    ),
                }
            )
    out = write_results(
        "bench_gpu_check",
        {
            "question": "files/s: pyvidfast check --device cuda vs all-core ffmpeg -f null and "
            "the CPU check; verdict agreement",
            "config": {
                "jobs": args.jobs,
                "generated": args.generated,
                "seconds": args.seconds,
                "nvdec_engines": engine_count(0),
                "ffmpeg": ffmpeg,
            },
            "target_speedup_vs_ffmpeg": 3,
            **results,
        },
    )
    print(f"wrote {out}")
    print_table(
        rows, ["files", "ffmpeg/s", "cpu check/s", "gpu check/s", "gpu vs base", "verdict diffs"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Is `pyvidfast check` faster than the Open-Sora guide's ffmpeg check, with the same verdicts?

Baseline (ffmpeg_check_parallel.sh): `ffmpeg -v error -i P -f null - 2> P.err` per file, one job
per core (GNU parallel's default), a file is ok when its .err is empty. Candidate: `check_files`
with one worker per core. Same files, same run, alternating repeats; files/s is the median.

    python benchmarks/bench_check.py [--files-from LIST] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import REAL_DIR, cpu_seconds, print_table, write_results

from pyvidfast.bench.measures import ffmpeg_check
from pyvidfast.curation import check_files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files-from",
        help="text file, one video path per line (default: every file of shared/testdata/real)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="jobs (default: cores)")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("bench_check: needs the ffmpeg command (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    if args.files_from:
        paths = [line.strip() for line in open(args.files_from) if line.strip()]
    else:
        paths = sorted(str(p) for p in REAL_DIR.glob("*/*") if p.suffix not in (".csv", ".md"))
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout
    version = version.splitlines()[0]

    times: dict[str, list[float]] = {"ffmpeg": [], "pyvidfast": []}
    cpu: dict[str, list[float]] = {"ffmpeg": [], "pyvidfast": []}
    verdicts: dict[str, dict[str, bool]] = {}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as err_dir:
            t0, c0 = time.perf_counter(), cpu_seconds()
            verdicts["ffmpeg"] = ffmpeg_check(paths, args.jobs, err_dir, ffmpeg)
            times["ffmpeg"].append(time.perf_counter() - t0)
            cpu["ffmpeg"].append(cpu_seconds() - c0)
        t0, c0 = time.perf_counter(), cpu_seconds()
        table = check_files(paths, workers=args.jobs)
        times["pyvidfast"].append(time.perf_counter() - t0)
        cpu["pyvidfast"].append(cpu_seconds() - c0)
        verdicts["pyvidfast"] = dict(zip(table["path"], table["ok"].astype(bool)))

    disagree = [p for p in paths if verdicts["ffmpeg"][p] != verdicts["pyvidfast"][p]]
    rows = []
    for name, ts in times.items():
        median = statistics.median(ts)
        rows.append(
            {
                "method": name,
                "files": len(paths),
                "median_s": round(median, 3),
                "files_per_s": round(len(paths) / median, 2),
                "cpu_s": round(statistics.median(cpu[name]), 2),
                "files_per_cpu_s": round(len(paths) / statistics.median(cpu[name]), 2),
                "failed": sum(not v for v in verdicts[name].values()),
            }
        )
    ratio = rows[0]["median_s"] / rows[1]["median_s"]
    # Pairwise ratios (each repeat ran both back to back) show how much the load moved.
    pair_ratios = [round(a / b, 2) for a, b in zip(times["ffmpeg"], times["pyvidfast"])]
    cpu_ratio = rows[0]["cpu_s"] / rows[1]["cpu_s"]
    results = {
        "question": "files/s of pyvidfast check vs per-file ffmpeg -f null, one job per core",
        "jobs": args.jobs,
        "ffmpeg_cli": version,
        "files": len(paths),
        "repeats": args.repeats,
        "times_s": times,
        "cpu_s": cpu,
        "rows": rows,
        "speedup": round(ratio, 3),
        "speedup_per_repeat": pair_ratios,
        "cpu_speedup": round(cpu_ratio, 3),
        "verdict_disagreements": disagree,
    }
    out = write_results("bench_check", results)
    print(f"results: {out}")
    print(
        f"speedup {ratio:.2f}x wall (per repeat {pair_ratios}), {cpu_ratio:.2f}x CPU time; "
        f"{len(disagree)} verdict disagreement(s): "
        + ", ".join(
            os.path.relpath(p, REAL_DIR) if p.startswith(str(REAL_DIR)) else p for p in disagree
        )
    )
    print_table(
        rows, ["method", "files", "median_s", "files_per_s", "cpu_s", "files_per_cpu_s", "failed"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

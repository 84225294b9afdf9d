"""Is `pyvidfast prepare` >= 5x faster than Open-Sora's four preparation steps run in sequence?

Baseline, one step after another, each reading the previous step's CSV:
  1. datautil --info --remove-empty-caption: Open-Sora's get_info (every frame decoded to RGB;
     pyvidfast.opensora.reference) on a pool of one process per core (pandarallel's default);
  2. filter_large_videos N;
  3. ffmpeg_check_parallel.sh: `ffmpeg -v error -i P -f null - 2> P.err`, one job per core;
  4. ffmpeg_filter_without_errors.
Candidate: `prepare()` (one pass, one worker per core, fresh journal). Both run on the same table
(by default every file of shared/testdata/real behind symlinks, 1 caption in 8 empty) in the same
run; the kept CSVs are compared byte for byte.

    python benchmarks/bench_prepare.py [--repeats 2] [--max-size-mb 50]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from common import REAL_DIR, cpu_seconds, print_table, write_results

from pyvidfast.curation import prepare
from pyvidfast.opensora.datautil import remove_empty_caption
from pyvidfast.opensora.ffmpeg_filter_without_errors import filter_without_errors
from pyvidfast.opensora.filter_large_videos import filter_large_videos
from pyvidfast.opensora.info import INFO_COLUMNS
from pyvidfast.opensora.reference import reference_info


def make_table(folder: Path) -> Path:
    """Symlinks to the real clips (so .err files can be written beside them) and a CSV."""
    sources = sorted(p for p in REAL_DIR.glob("*/*") if p.suffix not in (".csv", ".md"))
    rows = []
    for i, src in enumerate(sources):
        link = folder / "videos" / f"{i:03d}_{src.name}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(src)
        rows.append({"path": str(link), "text": "" if i % 8 == 3 else f"clip {src.stem}"})
    csv = folder / "dataset.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def reference_steps(csv: Path, limit: str, jobs: int, ffmpeg: str) -> Path:
    folder = csv.parent
    data = pd.read_csv(csv)
    with mp.get_context("fork").Pool(jobs) as pool:  # pandarallel: one process per core
        info = pool.map(reference_info, [str(p) for p in data["path"]], chunksize=1)
    for column, values in zip(INFO_COLUMNS, zip(*info)):
        data[column] = values
    step1 = folder / "dataset_info_noempty.csv"
    remove_empty_caption(data).to_csv(step1, index=False)

    step2 = folder / f"dataset_info_noempty_le{limit}MB.csv"
    filter_large_videos(pd.read_csv(step1), float(limit)).to_csv(step2, index=False)

    def check(path: str) -> None:
        with open(f"{path}.err", "w") as err:
            cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]
            subprocess.run(cmd, stderr=err, stdout=subprocess.DEVNULL)

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(check, [str(p) for p in pd.read_csv(step2)["path"]]))

    step4 = folder / f"dataset_info_noempty_le{limit}MB_withouterror.csv"
    filter_without_errors(pd.read_csv(step2)).to_csv(step4, index=False)
    return step4


def one_pass(csv: Path, limit: str, jobs: int, out: Path) -> Path:
    result = prepare(pd.read_csv(csv), float(limit), workers=jobs)
    out.mkdir(exist_ok=True)
    kept = out / f"dataset_info_noempty_le{limit}MB_withouterror.csv"
    result.kept.to_csv(kept, index=False)
    result.rejected.to_csv(out / "rejected.csv", index=False)
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-size-mb", default="50")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("bench_prepare: needs the ffmpeg command (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    times: dict[str, list[float]] = {"four_steps": [], "prepare": []}
    cpu: dict[str, list[float]] = {"four_steps": [], "prepare": []}
    same = []
    differences: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv = make_table(Path(tmp))
        n = len(pd.read_csv(csv))
        for r in range(args.repeats):
            for err in Path(tmp).glob("videos/*.err"):
                err.unlink()
            t0, c0 = time.perf_counter(), cpu_seconds()
            ref = reference_steps(csv, args.max_size_mb, args.jobs, ffmpeg)
            times["four_steps"].append(time.perf_counter() - t0)
            cpu["four_steps"].append(cpu_seconds() - c0)
            t0, c0 = time.perf_counter(), cpu_seconds()
            got = one_pass(csv, args.max_size_mb, args.jobs, Path(tmp) / f"out{r}")
            times["prepare"].append(time.perf_counter() - t0)
            cpu["prepare"].append(cpu_seconds() - c0)
            same.append(ref.read_bytes() == got.read_bytes())
            a, b = pd.read_csv(ref), pd.read_csv(got)
            common_a = a[a["path"].isin(b["path"])].reset_index(drop=True)
            common_b = b[b["path"].isin(a["path"])].reset_index(drop=True)
            differences = {
                "only_in_four_steps": sorted(Path(p).name for p in set(a["path"]) - set(b["path"])),
                "only_in_prepare": sorted(Path(p).name for p in set(b["path"]) - set(a["path"])),
                "common_rows_identical": bool(common_a.equals(common_b)),
            }
            if not same[-1]:
                print("kept CSVs differ:", differences)
    rows = [
        {
            "method": name,
            "rows": n,
            "median_s": round(statistics.median(ts), 3),
            "rows_per_s": round(n / statistics.median(ts), 2),
            "cpu_s": round(statistics.median(cpu[name]), 2),
        }
        for name, ts in times.items()
    ]
    ratio = rows[0]["median_s"] / rows[1]["median_s"]
    pair_ratios = [round(a / b, 2) for a, b in zip(times["four_steps"], times["prepare"])]
    cpu_ratio = rows[0]["cpu_s"] / rows[1]["cpu_s"]
    results = {
        "question": "prepare (one pass) vs the four Open-Sora steps in sequence",
        "jobs": args.jobs,
        "rows": n,
        "max_size_mb": args.max_size_mb,
        "times_s": times,
        "cpu_s": cpu,
        "table": rows,
        "speedup": round(ratio, 3),
        "speedup_per_repeat": pair_ratios,
        "cpu_speedup": round(cpu_ratio, 3),
        "kept_csv_identical": same,
        "kept_csv_differences": differences,
    }
    out = write_results("bench_prepare", results)
    print(f"results: {out}")
    print(f"speedup {ratio:.2f}x wall (per repeat {pair_ratios}), {cpu_ratio:.2f}x CPU time")
    print(f"kept CSV identical to the four steps' in every run: {all(same)}")
    print_table(rows, ["method", "rows", "median_s", "rows_per_s", "cpu_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

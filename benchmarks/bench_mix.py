"""On a scraped-web mix, how much faster are `--info` and `check` than their references, and
which files take the time?

Corpus: tests/media_mix.py (MP4/MOV/MKV/WebM/TS/PS/AVI/FLV/3GP; H.263 to AV1, HEVC 10-bit,
4K/8K fragments, files cut short, annex-B in MP4, no timescale, empty and garbage files),
generated once into a temp dir. In one run:

* ``--info``: Open-Sora's procedure (``pyvidfast.opensora.reference``: full decode with RGB
  conversion, one file at a time) against pyvidfast in-process one file at a time (the fair
  single-core ratio) and with its worker pool, each in a fresh process; every row compared.
* ``check``: ``ffmpeg -v error -i P -f null -`` one job per core (the Open-Sora guide's loop)
  against ``check_files`` with one worker per core, alternating repeats; every verdict compared.
* Per file: where pyvidfast's time goes (``--info``: header reads, FFmpeg's open, counting;
  ``check``: its in-process time next to the CLI's for the same file, one at a time), so the
  slowest class shows at once.

    python benchmarks/bench_mix.py [--repeats 3]     # writes benchmarks/results/bench_mix.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cpu_seconds, in_fresh_process, print_table, write_results

from pyvidfast.bench.measures import ffmpeg_check

TESTS = Path(__file__).resolve().parents[1] / "tests"
CORPUS_DIR = Path(tempfile.gettempdir()) / "pyvidfast-bench-mix"


def corpus(seconds: float | None) -> list[str]:
    sys.path.insert(0, str(TESTS))
    from media_mix import make_mix_corpus

    folder = CORPUS_DIR / (f"{seconds:g}s" if seconds else "default")
    return sorted(str(p) for p in make_mix_corpus(folder, seconds).values())


def _same(a, b) -> bool:
    return a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


def info_worker(mode: str, paths: list[str]) -> dict:
    """In a fresh process: rows and per-file seconds of one ``--info`` mode."""
    if mode == "reference":
        from pyvidfast.opensora.reference import reference_info

        rows, seconds = [], []
        for p in paths:
            t0 = time.perf_counter()
            rows.append(list(reference_info(p, rgb=True)))
            seconds.append(time.perf_counter() - t0)
        return {"rows": rows, "seconds": seconds, "total": sum(seconds)}
    from pyvidfast.opensora.info import INFO_COLUMNS, compute_info, video_info
    from pyvidfast.parallel.memory import keep_freed_memory

    keep_freed_memory()  # as the command-line tools do (Note [freed memory])
    if mode == "pool":
        t0 = time.perf_counter()
        found = compute_info(paths, parallel=True, progress=False, timeout=600)
        total = time.perf_counter() - t0
        return {"rows": [[r[c] for c in INFO_COLUMNS] for r in found], "total": total}
    rows, seconds = [], []
    for p in paths:
        t0 = time.perf_counter()
        r = video_info(p, timeout=600)
        seconds.append(time.perf_counter() - t0)
        rows.append([r[c] for c in INFO_COLUMNS])
    return {"rows": rows, "seconds": seconds, "total": sum(seconds)}


def info_breakdown(path: str) -> dict:
    """Where ``probe_video`` spends its time on ``path``: the method, the MP4 header checks,
    FFmpeg's open (which decodes frames to learn the stream) and the rest (counting)."""
    import av

    from pyvidfast.io.bitstream.boxes import is_iso_bmff
    from pyvidfast.io.mp4_trust import header_distrust
    from pyvidfast.io.probe import _PROBE_OPTIONS, probe_video

    t0 = time.perf_counter()
    probe = probe_video(path)
    total = time.perf_counter() - t0
    header = opened = 0.0
    if os.path.getsize(path) and is_iso_bmff(path):
        t0 = time.perf_counter()
        try:
            header_distrust(path)
        except Exception:
            pass
        header = time.perf_counter() - t0
    if probe.method not in ("moov", "image"):
        t0 = time.perf_counter()
        try:
            av.open(path, metadata_errors="ignore", options=_PROBE_OPTIONS).close()
        except Exception:
            pass
        opened = time.perf_counter() - t0
        if probe.method == "decode" and probe.error is None:
            opened *= 2  # a demux pass that gave up reopens the file to decode (probe.py)
    return {
        "method": probe.method,
        "codec": probe.codec,
        "size": f"{probe.width}x{probe.height}",
        "ms": round(total * 1000, 1),
        "header_ms": round(header * 1000, 1),
        "ffmpeg_open_ms": round(min(opened, total) * 1000, 1),
        "count_ms": round(max(total - header - opened, 0) * 1000, 1),
    }


def check_breakdown(path: str, ffmpeg: str) -> dict:
    """One file at a time: pyvidfast's in-process check (1 thread) and the CLI's wall time."""
    from pyvidfast.curation import check_file

    t0 = time.perf_counter()
    ours = check_file(path)
    mine = time.perf_counter() - t0
    t0 = time.perf_counter()
    command = [ffmpeg, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]
    subprocess.run(command, capture_output=True)
    theirs = time.perf_counter() - t0
    return {
        "ms": round(mine * 1000, 1),
        "ffmpeg_ms": round(theirs * 1000, 1),
        "frames": ours["decoded_frames"],
        "ok": bool(ours["ok"]),
    }


def run_worker(kind: str, paths: list[str]) -> dict:
    if kind == "breakdown":
        ffmpeg = shutil.which("ffmpeg")
        return {p: {"info": info_breakdown(p), "check": check_breakdown(p, ffmpeg)} for p in paths}
    return info_worker(kind, paths)


def in_child(kind: str, paths: list[str]) -> dict:
    return in_fresh_process(__file__, kind, paths)


def measure_check(paths: list[str], repeats: int, jobs: int, ffmpeg: str) -> dict:
    from pyvidfast.curation import check_files

    times: dict[str, list[float]] = {"ffmpeg": [], "pyvidfast": []}
    cpu: dict[str, list[float]] = {"ffmpeg": [], "pyvidfast": []}
    verdicts: dict[str, dict] = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as err_dir:
            t0, c0 = time.perf_counter(), cpu_seconds()
            verdicts["ffmpeg"] = ffmpeg_check(paths, jobs, err_dir, ffmpeg)
            times["ffmpeg"].append(time.perf_counter() - t0)
            cpu["ffmpeg"].append(cpu_seconds() - c0)
        t0, c0 = time.perf_counter(), cpu_seconds()
        table = check_files(paths, workers=jobs, progress=False)
        times["pyvidfast"].append(time.perf_counter() - t0)
        cpu["pyvidfast"].append(cpu_seconds() - c0)
        verdicts["pyvidfast"] = dict(zip(table["path"], table["ok"].astype(bool)))
    median = {k: statistics.median(v) for k, v in times.items()}
    return {
        "jobs": jobs,
        "times_s": times,
        "cpu_s": cpu,
        "speedup": round(median["ffmpeg"] / median["pyvidfast"], 3),
        "speedup_per_repeat": [
            round(a / b, 2) for a, b in zip(times["ffmpeg"], times["pyvidfast"])
        ],
        "cpu_speedup": round(
            statistics.median(cpu["ffmpeg"]) / statistics.median(cpu["pyvidfast"]), 3
        ),
        "verdict_disagreements": [
            p for p in paths if verdicts["ffmpeg"][p] != verdicts["pyvidfast"][p]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each pyvidfast mode")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count(), help="check jobs (default: cores)"
    )
    parser.add_argument("--top", type=int, default=10, help="slowest files to print")
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="length of the clips given by duration (default: the tests' 1-2 s); 4K/8K "
        "fragments keep their few frames",
    )
    parser.add_argument("--out", default="bench_mix", help="results name (default bench_mix)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "LIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, listing = args.worker
        print(json.dumps(run_worker(kind, json.loads(Path(listing).read_text()))))
        return 0
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("bench_mix: needs the ffmpeg command (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    paths = corpus(args.seconds)
    names = [Path(p).name for p in paths]

    reference = in_child("reference", paths)
    ours = min((in_child("single", paths) for _ in range(args.repeats)), key=lambda r: r["total"])
    pool = min((in_child("pool", paths) for _ in range(args.repeats)), key=lambda r: r["total"])
    differ = [
        (n, a, b)
        for n, a, b in zip(names, ours["rows"], reference["rows"])
        if not all(_same(x, y) for x, y in zip(a, b))
    ]
    pool_differ = [
        n
        for n, a, b in zip(names, pool["rows"], ours["rows"])
        if a != b and not all(_same(x, y) for x, y in zip(a, b))
    ]
    check = measure_check(paths, args.repeats, args.jobs, ffmpeg)
    per_file = in_child("breakdown", paths)
    for p, ref_s, our_s in zip(paths, reference["seconds"], ours["seconds"]):
        per_file[p]["info"]["reference_ms"] = round(ref_s * 1000, 1)
        per_file[p]["info"]["single_run_ms"] = round(our_s * 1000, 1)
    results = {
        "question": "--info vs Open-Sora's procedure and check vs ffmpeg -f null on a scraped-web mix",
        "clip_seconds": args.seconds or "1-2 (tests/media_mix.py defaults)",
        "files": len(paths),
        "bytes": sum(os.path.getsize(p) for p in paths),
        "ffmpeg_cli": subprocess.run(
            [ffmpeg, "-version"], capture_output=True, text=True
        ).stdout.splitlines()[0],
        "info": {
            "reference_s": reference["total"],
            "single_s": ours["total"],
            "pool_s": pool["total"],
            "speedup_single": round(reference["total"] / ours["total"], 1),
            "speedup_pool": round(reference["total"] / pool["total"], 1),
            "rows_differing": differ,
            "pool_rows_differing_from_single": pool_differ,
        },
        "check": check,
        "per_file": {Path(p).name: v for p, v in per_file.items()},
        "notes": (
            "info: reference = full decode + RGB per frame, in-process, one file at a time; "
            "single = pyvidfast in-process one file at a time; pool = its worker pool (one per "
            "core). check: ffmpeg one job per core vs check_files one worker per core, median "
            "of the repeats. per_file: one file at a time, after the timed runs; info "
            "ffmpeg_open_ms is FFmpeg's open measured apart (twice for a demux pass that falls "
            "back to decoding), count_ms the rest."
        ),
    }
    out = write_results(args.out, results)
    print(f"wrote {out}")
    print()
    slow_info = sorted(per_file.items(), key=lambda kv: -kv[1]["info"]["ms"])[: args.top]
    print(f"--info: slowest {args.top} files, one at a time")
    print_table(
        [{"file": Path(p).name, **v["info"]} for p, v in slow_info],
        [
            "file",
            "method",
            "codec",
            "size",
            "ms",
            "header_ms",
            "ffmpeg_open_ms",
            "count_ms",
            "reference_ms",
        ],
    )
    print()
    slow_check = sorted(per_file.items(), key=lambda kv: -kv[1]["check"]["ms"])[: args.top]
    print(
        f"check: slowest {args.top} files, one at a time (pyvidfast 1 thread; the CLI its default)"
    )
    print_table(
        [{"file": Path(p).name, "size": v["info"]["size"], **v["check"]} for p, v in slow_check],
        ["file", "size", "ms", "ffmpeg_ms", "frames", "ok"],
    )
    print()
    info = results["info"]
    print_table(
        [
            {
                "task": "--info single",
                "files": len(paths),
                "seconds": f"{info['single_s']:.3f}",
                "baseline_s": f"{info['reference_s']:.2f}",
                "speedup": f"{info['speedup_single']}x",
                "differ": len(differ),
            },
            {
                "task": "--info pool",
                "files": len(paths),
                "seconds": f"{info['pool_s']:.3f}",
                "baseline_s": f"{info['reference_s']:.2f}",
                "speedup": f"{info['speedup_pool']}x",
                "differ": len(pool_differ),
            },
            {
                "task": "check",
                "files": len(paths),
                "seconds": f"{statistics.median(check['times_s']['pyvidfast']):.3f}",
                "baseline_s": f"{statistics.median(check['times_s']['ffmpeg']):.3f}",
                "speedup": f"{check['speedup']}x",
                "differ": len(check["verdict_disagreements"]),
            },
        ],
        ["task", "files", "seconds", "baseline_s", "speedup", "differ"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

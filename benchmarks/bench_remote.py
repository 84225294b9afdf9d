"""What does reading from object storage cost, and does a flaky server change any verdict?

Question 1 (``--info`` over a bucket): bytes fetched per file as a share of its size, requests per
file, and files/s against the same files on local disk, for the real corpus in an S3 bucket
(moto's server on 127.0.0.1) plus generated 20 s 360p clips, each as MP4 moov-first, MP4
moov-last, MKV and MPEG-TS. Both runs are in-process, one file at a time (the same single core).
Bytes and requests are the client's counts (``pyvidfast.io.remote.fetch_stats``: the size
request included); the rows must equal the local ones (``--remote-nal-walk`` off, so the files
with corrupt NAL sizes are listed apart, io/probe.py Note [remote NAL walk]).

Also: the same ``--info`` with the worker pool, and ``pyvidfast prepare`` of the real corpus
from the bucket against the folder (kept and rejected CSVs compared as text).

Question 2 (``check`` through faults): the same files served by tests/fault_server.py, every Nth
GET answered with a 503, a reset, a short body or a stalled body in turn; verdicts compared with
the local run's (a wrong verdict is any ok/error_kind that differs).

    python benchmarks/bench_remote.py     # writes benchmarks/results/bench_remote.json

The servers run in this process, on loopback: the times say what the client costs, not what a
network costs; the bytes and requests are what a network would carry.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REAL_DIR, print_table, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fault_server import FaultServer, MotoS3  # noqa: E402

CLIP_DIR = Path(tempfile.gettempdir()) / "pyvidfast-bench-remote"
FAULTS = ("503", "drop", "truncate", "stall")


def generated_clips(seconds: int) -> list[Path]:
    """One 640x360 H.264 encode of panning texture, remuxed to the four layouts (ffmpeg CLI)."""
    CLIP_DIR.mkdir(exist_ok=True)
    src = CLIP_DIR / f"pan_{seconds}s.mkv"
    if not src.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=640x360:rate=30:duration={seconds}", "-c:v", "libx264",
             "-preset", "veryfast", "-b:v", "2M", str(src)],
            check=True,
        )  # fmt: skip
    outs = {
        "gen_moov_first.mp4": ["-movflags", "faststart"],
        "gen_moov_last.mp4": [],
        "gen.mkv": [],
        "gen.ts": [],
    }
    paths = []
    for name, flags in outs.items():
        out = CLIP_DIR / name
        if not out.exists():
            cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", *flags, str(out)]
            subprocess.run(cmd, check=True)
        paths.append(out)
    return paths


def layout(path: Path) -> str:
    """moov_first / moov_last for MP4/MOV, else the container from the extension."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in ("mp4", "mov", "m4v", "3gp"):
        return ext
    head = path.read_bytes()
    moov, mdat = head.find(b"moov"), head.find(b"mdat")
    if moov < 0:
        return "mp4_no_moov"
    return "moov_first" if mdat < 0 or moov < mdat else "moov_last"


def info_runs(files: dict[str, Path], bucket: str) -> tuple[list[dict], float, float]:
    """Per-file rows (size, bytes, requests, equal), and the local and S3 wall times."""
    from pyvidfast.io.probe import probe_video
    from pyvidfast.io.remote import fetch_stats, record_fetch_stats
    from pyvidfast.opensora.info import compute_info

    record_fetch_stats()
    keys = list(files)
    local_paths = [str(files[k]) for k in keys]
    urls = [f"s3://{bucket}/{k}" for k in keys]
    start = time.perf_counter()
    local = compute_info(local_paths, parallel=False, progress=False)
    local_s = time.perf_counter() - start
    start = time.perf_counter()
    remote = compute_info(urls, parallel=False, progress=False)
    remote_s = time.perf_counter() - start
    rows = []
    for key, url, a, b in zip(keys, urls, local, remote):
        stats = fetch_stats(url)
        size = files[key].stat().st_size
        same = all(str(a[c]) == str(b[c]) for c in ("num_frames", "height", "width", "fps"))
        rows.append(
            {
                "file": key,
                "layout": layout(files[key]),
                "size": size,
                "bytes": stats.bytes,
                "share": stats.bytes / size if size else 0.0,
                "requests": stats.requests,
                "equal": same,
                "bad_nal": probe_video(str(files[key])).method == "bad_nal",
            }
        )
    return rows, local_s, remote_s


def pool_rates(files: dict[str, Path], bucket: str, workers: int) -> dict:
    """files/s of the worker pool (the CLI's default path) on disk and on S3; network-bound work
    gains from more workers than cores."""
    from pyvidfast.opensora.info import compute_info

    rates = {}
    for name, paths, n in (
        ("local", [str(p) for p in files.values()], None),
        ("s3", [f"s3://{bucket}/{k}" for k in files], workers),
    ):
        start = time.perf_counter()
        compute_info(paths, num_workers=n, progress=False)
        rates[f"{name}_pool_files_per_s"] = round(len(paths) / (time.perf_counter() - start), 1)
    rates["s3_pool_workers"] = workers
    return rates


def prepare_runs(files: dict[str, Path], bucket: str, folder: Path) -> dict:
    """``pyvidfast prepare`` of the same table on disk and on S3 (``--remote-nal-walk``): are
    the kept and rejected CSVs the same text once the bucket's prefix reads as the folder's?"""
    import pandas as pd

    from pyvidfast.cli import main as cli

    out: dict = {}
    texts = {}
    for name, root in (("local", f"{REAL_DIR}/"), ("s3", f"s3://{bucket}/")):
        (folder / name).mkdir(parents=True)
        csv = folder / name / "dataset.csv"
        paths = [f"{root}{k}" for k in files]
        pd.DataFrame({"path": paths, "text": [f"clip {i}" for i in range(len(paths))]}).to_csv(
            csv, index=False
        )
        start = time.perf_counter()
        flags = ["--workers", "2", "--no-progress"] + (
            ["--remote-nal-walk"] if root[0] == "s" else []
        )
        assert cli(["prepare", str(csv), *flags]) == 0
        out[f"{name}_s"] = round(time.perf_counter() - start, 2)
        base = str(csv)[: -len(".csv")] + "_info_noempty_le50MB_withouterror"
        texts[name] = [Path(f"{base}{end}").read_text() for end in (".csv", "_rejected.csv")]
    remote = [t.replace(f"s3://{bucket}/", f"{REAL_DIR}/") for t in texts["s3"]]
    out["kept_csv_identical"] = texts["local"][0] == remote[0]
    out["rejected_csv_identical"] = texts["local"][1] == remote[1]
    out["kept_rows"] = texts["local"][0].count("\n") - 1
    return out


def summarize(rows: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        big = r["size"] > 1_000_000
        name = f"{r['layout']} {'> 1 MB' if big else '<= 1 MB'}"
        groups.setdefault(name, []).append(r)
    out = []
    for name, rs in sorted(groups.items()):
        shares = [r["share"] for r in rs]
        out.append(
            {
                "group": name,
                "files": len(rs),
                "median_share": round(statistics.median(shares), 4),
                "max_share": round(max(shares), 4),
                "median_requests": statistics.median(r["requests"] for r in rs),
                "max_requests": max(r["requests"] for r in rs),
            }
        )
    return out


def check_runs(root: Path, names: list[str], every: int) -> dict:
    """``check`` of the local files and of the same files over HTTP with every Nth GET failing."""
    from pyvidfast.curation.check import check_files

    os.environ.setdefault("PYVIDFAST_REMOTE_TIMEOUT", "2")
    start = time.perf_counter()
    local = check_files([str(root / n) for n in names], workers=2)
    local_s = time.perf_counter() - start
    with FaultServer(root, stall_s=4) as server:
        server.every(every, FAULTS)
        start = time.perf_counter()
        remote = check_files([f"{server.url}/{n}" for n in names], workers=2)
        remote_s = time.perf_counter() - start
        faults = dict(server.faults_done)
        gets = sum(server.requests.values())
    wrong = [
        n
        for n, (_, a), (_, b) in zip(names, local.iterrows(), remote.iterrows())
        if (bool(a["ok"]), a["error_kind"]) != (bool(b["ok"]), b["error_kind"])
    ]
    return {
        "files": len(names),
        "fault_every_nth_get": every,
        "gets": gets,
        "faults_injected": faults,
        "wrong_verdicts": len(wrong),
        "wrong_files": wrong,
        "io_errors": int((remote["error_kind"] == "io").sum()),
        "local_s": round(local_s, 2),
        "remote_s": round(remote_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of the generated clips")
    parser.add_argument("--fault-every", type=int, default=5, help="every Nth GET fails")
    parser.add_argument("--s3-workers", type=int, default=8, help="info pool workers on S3")
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()

    files = {
        str(p.relative_to(REAL_DIR)): p
        for p in sorted(REAL_DIR.glob("*/*"))
        if p.is_file() and p.suffix not in (".csv", ".md")
    }
    generated = generated_clips(args.seconds)
    files.update({f"generated/{p.name}": p for p in generated})
    with MotoS3() as s3:
        s3.upload("bench", {k: str(p) for k, p in files.items()})
        rows, local_s, remote_s = info_runs(files, "bench")
        pools = pool_rates(files, "bench", args.s3_workers)
        real = [k for k in files if not k.startswith("generated/")]
        with tempfile.TemporaryDirectory() as tmp:
            prepared = prepare_runs({k: files[k] for k in real}, "bench", Path(tmp))
    groups = summarize(rows)
    check = check_runs(REAL_DIR, real, args.fault_every)
    mismatched = [r["file"] for r in rows if not r["equal"] and not r["bad_nal"]]
    results = {
        "question": "--info over S3: bytes and requests per file, files/s vs local; check "
        "through injected HTTP faults: wrong verdicts vs local",
        "info": {
            "files": len(rows),
            "local_files_per_s": round(len(rows) / local_s, 1),
            "s3_files_per_s": round(len(rows) / remote_s, 1),
            "s3_vs_local": round(local_s / remote_s, 3),
            **pools,
            "rows_not_equal_to_local": mismatched,
            "rows_differing_by_nal_walk": [r["file"] for r in rows if r["bad_nal"]],
            "groups": groups,
            "per_file": rows,
        },
        "check": check,
        "prepare_real_corpus": prepared,
    }
    path = write_results("bench_remote", results, Path(args.out) if args.out else None)
    print(f"wrote {path}")
    print(
        f"info: {len(rows)} files, local {len(rows) / local_s:.1f} files/s, S3 "
        f"{len(rows) / remote_s:.1f} files/s ({local_s / remote_s:.2f}x); rows not equal to "
        f"local (besides the NAL walk's): {len(mismatched)}"
    )
    print(
        f"check through faults: {check['files']} files, {sum(check['faults_injected'].values())} "
        f"faults in {check['gets']} GETs, wrong verdicts {check['wrong_verdicts']}, I/O errors "
        f"{check['io_errors']}, local {check['local_s']} s, remote {check['remote_s']} s"
    )
    print(
        f"info pool: local {pools['local_pool_files_per_s']} files/s, S3 "
        f"{pools['s3_pool_files_per_s']} files/s ({args.s3_workers} workers); prepare of the "
        f"{len(real)} real clips: kept CSV identical {prepared['kept_csv_identical']}, rejected "
        f"CSV identical {prepared['rejected_csv_identical']} (local {prepared['local_s']} s, "
        f"S3 {prepared['s3_s']} s)"
    )
    cols = ["group", "files", "median_share", "max_share", "median_requests", "max_requests"]
    print_table(groups, cols)
    return 0


if __name__ == "__main__":
    sys.exit(main())

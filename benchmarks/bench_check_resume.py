"""Does `pyvidfast check` on N rows, SIGKILLed three times and resumed, end with every row once
and the verdicts of an uninterrupted check?

Rows: N distinct paths (symlinks, so each is a row and a check of its own) cycling over small
sources: generated clips (good, with audio, VP9, cut short, random bytes, empty) and the real clips under
100 kB that check in under 50 ms. Reference: an uninterrupted `check_files` of the sources; a row's verdict must equal its
source's (the error text compared with the source path written as the row's path). The candidate
is `python -m pyvidfast.cli check` with the journal, killed with SIGKILL (the parent only, as an
OOM kill would) after a random number of journaled rows, three times, then run to the end. After
every kill no process of the run may remain (Note [worker lifetime] in pyvidfast/parallel/pool.py).

    python benchmarks/bench_check_resume.py --rows 100000 [--workers 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from common import REAL_DIR, print_table, write_results

from pyvidfast.curation import check_file, check_files
from pyvidfast.curation.sample_data import Clip, make_clip
from pyvidfast.parallel.pool import alive_in_group

COMPARED = ["ok", "error_kind", "error", "decoded_frames", "header_frames"]


def make_sources(folder: Path, max_seconds: float) -> list[str]:
    """Small generated clips, good and broken, plus the real clips under 100 kB that check in
    under ``max_seconds`` (a few take seconds: they would measure those clips, not resuming)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = make_clip(str(folder / "good.mp4"), Clip("good.mp4", "libx264", 64, 48, 12))
    make_clip(str(folder / "vp9.webm"), Clip("vp9.webm", "libvpx-vp9", 64, 48, 8))
    make_clip(str(folder / "audio.mp4"), Clip("audio.mp4", "libx264", 64, 48, 8, audio=True))
    data = Path(good).read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    (folder / "noise.mp4").write_bytes(random.Random(0).randbytes(4096))
    (folder / "empty.mp4").write_bytes(b"")
    sources = sorted(str(p) for p in folder.iterdir())
    small = sorted(
        str(p)
        for p in REAL_DIR.glob("*/*")
        if p.suffix not in (".csv", ".md") and p.stat().st_size < 100_000
    )
    return sources + [p for p in small if _check_seconds(p) < max_seconds]


def _check_seconds(path: str) -> float:
    t0 = time.perf_counter()
    check_file(path)
    return time.perf_counter() - t0


def make_rows(folder: Path, sources: list[str], rows: int) -> tuple[Path, list[str]]:
    """``rows`` symlinks cycling over ``sources`` and the list file naming them."""
    links = folder / "links"
    if links.exists():
        shutil.rmtree(links)
    links.mkdir(parents=True)
    paths = []
    for i in range(rows):
        sub = links / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir()
        source = sources[i % len(sources)]
        path = sub / f"{i:06d}{Path(source).suffix}"
        os.symlink(source, path)
        paths.append(str(path))
    list_file = folder / "list.txt"
    list_file.write_text("".join(p + "\n" for p in paths))
    return list_file, paths


class JournalCounter:
    """Counts the complete lines of a growing journal without rereading it."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.lines = path, 0, 0

    def count(self) -> int:
        if not self.path.exists():
            return self.lines
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk.rfind(b"\n") + 1
        self.lines += chunk[:complete].count(b"\n")
        self.offset += complete
        return self.lines


def start_check(list_file: Path, out: Path, workers: int, log) -> subprocess.Popen:
    argv = [sys.executable, "-m", "pyvidfast.cli", "check", str(list_file), "-o", str(out)]
    argv += ["--workers", str(workers), "--no-progress"]
    return subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)


def kill_at(proc: subprocess.Popen, journal: JournalCounter, at: int, timeout: float) -> dict:
    """SIGKILL the parent once ``at`` rows are journaled; then wait for its group to be gone."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and journal.count() < at and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:
        raise RuntimeError(f"the check ended (rc {proc.returncode}) before row {at}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = journal.count()
    waited = time.monotonic()
    while alive_in_group(proc.pid) and time.monotonic() - waited < 30:
        time.sleep(0.05)
    left = alive_in_group(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)  # do not leave them running after the report
    return {"target": at, "journaled": killed_at, "left_running_after_30s": len(left)}


def compare(out: pd.DataFrame, paths: list[str], sources: list[str], reference) -> dict:
    """Rows once each and in order, and the verdict of each row's source."""
    mismatches = 0
    for i, row in enumerate(out.itertuples(index=False)):
        source = sources[i % len(sources)]
        want = reference[source]
        for column in COMPARED:
            expected = want[column]
            if column == "error" and isinstance(expected, str):
                expected = expected.replace(source, paths[i])
            got = getattr(row, column)
            if not (got == expected or (pd.isna(got) and pd.isna(expected))):
                mismatches += 1
                break
    return {
        "rows_out": len(out),
        "rows_in_order": out["path"].tolist() == paths,
        "verdict_mismatches": mismatches,
    }


def journal_once(path: Path, paths: list[str]) -> dict:
    import json

    seen = Counter()
    for line in path.read_text().splitlines():
        try:
            seen[json.loads(line)["path"]] += 1
        except (json.JSONDecodeError, KeyError):
            continue  # the line a kill cut short
    return {
        "journal_paths": len(seen),
        "paths_checked_twice": sum(1 for n in seen.values() if n > 1),
        "paths_missing": len(set(paths) - set(seen)),
    }


def run(args: argparse.Namespace) -> dict:
    folder = Path(args.dir)
    sources = make_sources(folder / "sources", args.max_source_seconds)
    list_file, paths = make_rows(folder, sources, args.rows)
    table = check_files(sources, workers=args.workers)
    reference = {r["path"]: r for r in table.to_dict("records")}
    out = folder / "out.csv"
    for stale in (out, Path(f"{out}.journal.jsonl")):
        stale.unlink(missing_ok=True)
    journal = JournalCounter(Path(f"{out}.journal.jsonl"))
    rng = random.Random(args.seed)
    targets = sorted(rng.randint(args.rows // 20, args.rows * 19 // 20) for _ in range(3))
    kills = []
    t0 = time.monotonic()
    with open(folder / "check.log", "w") as log:
        for at in targets:
            proc = start_check(list_file, out, args.workers, log)
            kills.append(kill_at(proc, journal, at, args.timeout))
            print(f"killed at {kills[-1]['journaled']} rows", file=sys.stderr, flush=True)
        final = start_check(list_file, out, args.workers, log).wait(timeout=args.timeout)
    wall = time.monotonic() - t0
    checked = pd.read_csv(out, keep_default_na=False, na_values=[])
    result = {"rows": args.rows, "workers": args.workers, "seed": args.seed}
    result["sources"] = [os.path.basename(s) for s in sources]
    result.update(kills=kills, final_exit_code=final, wall_s=round(wall, 1))
    result["rows_per_s"] = round(args.rows / wall, 1)
    result.update(compare(checked, paths, sources, reference))
    result.update(journal_once(journal.path, paths))
    result["verdicts"] = dict(Counter(checked["error_kind"].replace("", "ok")))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run at most")
    parser.add_argument("--dir", default="/tmp/bench_check_resume")
    parser.add_argument(
        "--max-source-seconds", type=float, default=0.05, help="skip slower real clips"
    )
    parser.add_argument("--name", default="bench_check_resume")
    args = parser.parse_args()
    result = run(args)
    ok = (
        result["final_exit_code"] == 0
        and result["rows_out"] == args.rows
        and result["rows_in_order"]
        and result["verdict_mismatches"] == 0
        and result["paths_checked_twice"] == 0
        and result["paths_missing"] == 0
        and all(k["left_running_after_30s"] == 0 for k in result["kills"])
    )
    result["passed"] = ok
    path = write_results(args.name, result)
    print_table(
        [{**k, "kill": i + 1} for i, k in enumerate(result["kills"])],
        ["kill", "target", "journaled", "left_running_after_30s"],
    )
    summary = ["rows", "rows_out", "verdict_mismatches", "paths_checked_twice", "wall_s"]
    print_table([result], [*summary, "rows_per_s", "passed"])
    print(f"wrote {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

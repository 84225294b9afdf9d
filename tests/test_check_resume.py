"""A check killed at any moment and started again redoes nothing that finished, loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from pyvidfast.curation.journal import Journal


def _journal_entries(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the line the kill cut short
    return entries


def _check(list_file: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyvidfast.cli",
            "check",
            str(list_file),
            "-o",
            str(output),
            "--workers",
            "2",
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_killed_and_resumed_equals_uninterrupted(tmp_path: Path, real_dir: Path):
    # Small real files (good and broken), twice each under new names: a few seconds per run.
    sources = sorted(
        p
        for p in real_dir.glob("*/*")
        if p.suffix not in (".csv", ".md") and p.stat().st_size < 300_000
    )
    links = []
    for copy in range(2):
        for i, src in enumerate(sources):
            link = tmp_path / "videos" / f"{copy}_{i:03d}{src.suffix}"
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(src)
            links.append(str(link))
    links.append(str(tmp_path / "videos" / "gone.mp4"))
    list_file = tmp_path / "list.txt"
    list_file.write_text("\n".join(links) + "\n")

    out = tmp_path / "resumed.csv"
    journal = Path(str(out) + ".journal.jsonl")
    proc = _check(list_file, out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(_journal_entries(journal)) >= 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job, workers included, mid-flight
    proc.wait()
    done_before = {e["path"] for e in _journal_entries(journal)}
    assert 20 <= len(done_before) < len(links)
    assert not out.exists()

    assert _check(list_file, out).wait(timeout=300) == 0
    entries = _journal_entries(journal)
    paths = [e["path"] for e in entries]
    assert len(paths) == len(set(paths)) == len(links), "a finished file was checked twice"
    assert set(paths[: len(done_before)]) == done_before

    reference = tmp_path / "uninterrupted.csv"
    assert _check(list_file, reference).wait(timeout=300) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(reference))


def test_changed_file_is_checked_again(tmp_path: Path, real_dir: Path):
    video = tmp_path / "clip.mp4"
    video.write_bytes((real_dir / "torchcodec/nasa_13013.mp4").read_bytes())
    book = Journal(str(tmp_path / "j.jsonl"))
    book.add(str(video), {"ok": True})
    book.close()
    assert Journal(str(tmp_path / "j.jsonl")).done(str(video)) == {"ok": True}
    video.write_bytes(b"")  # replaced since: the entry no longer counts
    assert Journal(str(tmp_path / "j.jsonl")).done(str(video)) is None


def test_cut_line_does_not_swallow_the_next(tmp_path: Path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"path": "a", "size": -1, "mtime_ns": -1, "result": {"ok": true}}\n{"pa')
    book = Journal(str(path))
    book.add("b", {"ok": False}, key=(-1, -1))
    book.close()
    again = Journal(str(path))
    assert again.done("a") == {"ok": True} and again.done("b") == {"ok": False}

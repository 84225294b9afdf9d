"""Nothing left running, nothing overwritten, nothing broken let through (issue 15, 1-3).

Kills are real signals sent to a real ``python -m pyvidfast.cli check``; leftover processes are
found by process group in /proc. Read-only folders: a read-only bind mount where this machine
allows one (``unshare -m``, root in CI: chmod would not stop root), and everywhere the one public
seam through which every output file is created (``outputs.create_temp``) made to fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pyvidfast.cli import main as cli_main
from pyvidfast.curation import check
from pyvidfast.curation.sample_data import Clip, make_clip
from pyvidfast.opensora import datautil, ffmpeg_filter_without_errors
from pyvidfast.parallel import outputs
from pyvidfast.parallel.pool import alive_in_group
from pyvidfast.parallel.table import write_table

CLI = [sys.executable, "-m", "pyvidfast.cli"]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
        except (OSError, ValueError):
            continue
    return out


@pytest.fixture(scope="module")
def clip_list(tmp_path_factory) -> Path:
    """60 rows: one generated clip under 60 names, about a tenth of a second each to check."""
    folder = tmp_path_factory.mktemp("videos")
    source = make_clip(str(folder / "source.mp4"), Clip("source.mp4", "libx264", 320, 240, 96))
    for i in range(60):
        os.symlink(source, folder / f"{i:03d}.mp4")
    list_file = folder / "list.txt"
    list_file.write_text("".join(f"{folder / f'{i:03d}.mp4'}\n" for i in range(60)))
    return list_file


def _start_check(list_file: Path, out: Path, log: Path) -> subprocess.Popen:
    argv = [*CLI, "check", str(list_file), "-o", str(out), "--workers", "2", "--no-progress"]
    with open(log, "w") as stderr:  # a file, not a pipe: a leftover worker would hold a pipe
        return subprocess.Popen(
            argv, stderr=stderr, start_new_session=True, stdout=subprocess.DEVNULL
        )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_check_leaves_no_worker(clip_list: Path, tmp_path: Path, signum: int):
    out, log = tmp_path / "out.csv", tmp_path / "stderr.txt"
    journal = Path(f"{out}.journal.jsonl")
    proc = _start_check(clip_list, out, log)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if journal.exists() and journal.read_text().count("\n") >= 2:
                break
            time.sleep(0.02)
        workers = _children(proc.pid)
        assert proc.poll() is None and len(workers) >= 2, "the check ended before the kill"
        os.kill(proc.pid, signum)  # the parent only, as an OOM kill or a job timeout would
        proc.wait(timeout=60)
        deadline = time.monotonic() + 20
        while alive_in_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive_in_group(proc.pid) == [], "a worker outlived its parent"
    finally:
        if alive_in_group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    assert not out.exists()
    if signum == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        return
    assert proc.returncode == 128 + signum
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and f"stopped by {signal.Signals(signum).name}" in lines[0], lines
    # The journal was flushed: the rerun finishes the rest and every row comes out once.
    done = journal.read_text().count("\n")
    assert _start_check(clip_list, out, log).wait(timeout=300) == 0
    assert journal.read_text().count("\n") == 60
    assert done >= 2 and len(pd.read_csv(out)) == 60


def _read_only_mount_works(tmp_path: Path) -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    script = (
        f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe} && ! touch {probe}/x"
    )
    done = subprocess.run([unshare, "-m", "sh", "-c", script], capture_output=True, timeout=30)
    return done.returncode == 0


def _in_read_only(folder: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``folder`` mounted read-only (for this command only)."""
    mount = f'mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", mount, "sh", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_read_only_video_folder_lets_nothing_through(tmp_path: Path):
    if not _read_only_mount_works(tmp_path):
        pytest.skip("no read-only bind mount here (needs unshare -m and CAP_SYS_ADMIN)")
    videos = tmp_path / "videos"
    videos.mkdir()
    good = make_clip(str(videos / "good.mp4"), Clip("good.mp4", "libx264", 64, 48, 12))
    data = Path(good).read_bytes()
    (videos / "cut.mp4").write_bytes(data[: len(data) // 2])
    (videos / "noise.mp4").write_bytes(os.urandom(20_000))
    table = tmp_path / "list.csv"
    pd.DataFrame({"path": [str(videos / n) for n in ("good.mp4", "cut.mp4", "noise.mp4")]}).to_csv(
        table, index=False
    )
    argv = [*CLI, "check", str(table), "-o", str(tmp_path / "out.csv"), "--write-err"]
    done = _in_read_only(videos, argv)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert str(videos) in done.stderr and "Read-only file system" in done.stderr
    assert not list(videos.glob("*.err"))
    # No .err, no verdict: the filter keeps none of the three and says why.
    assert ffmpeg_filter_without_errors.main([str(table)]) == 0
    assert len(pd.read_csv(tmp_path / "list_withouterror.csv")) == 0
    # A read-only output folder: one line, before any work.
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    done = _in_read_only(out_dir, [*CLI, "check", str(table), "-o", str(out_dir / "x.csv")])
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert f"cannot write to {out_dir}: Read-only file system" in done.stderr


@pytest.fixture
def writes_fail(monkeypatch):
    """Every output file creation fails, as in a read-only folder (root cannot bypass this)."""

    def refuse(path: str) -> str:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(outputs, "create_temp", refuse)


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any file is decoded or probed."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the outputs were checked")

    monkeypatch.setattr("pyvidfast.curation.engines.run", forbidden)
    monkeypatch.setattr("pyvidfast.opensora.info.compute_info", forbidden)


@pytest.mark.parametrize(
    "command",
    [
        ["check", "{list}", "-o", "{out}/x.csv"],
        ["prepare", "{csv}", "--output-dir", "{out}"],
        ["info", "{csv}", "--output", "{out}/x.csv"],
    ],
)
def test_unwritable_output_is_one_line_before_any_work(
    tmp_path, capsys, writes_fail, no_work, command
):
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'a.mp4'}\n")
    pd.DataFrame({"path": [str(tmp_path / "a.mp4")], "text": ["a"]}).to_csv(tmp_path / "in.csv")
    names = {"list": tmp_path / "list.txt", "csv": tmp_path / "in.csv", "out": tmp_path / "out"}
    assert cli_main([arg.format(**names) for arg in command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write to {tmp_path / 'out'}: Permission denied" in err
    assert not list((tmp_path / "out").glob("*"))


def test_opensora_drop_ins_check_outputs_first(tmp_path, capsys, writes_fail, no_work):
    pd.DataFrame({"path": [str(tmp_path / "a.mp4")], "text": ["a"]}).to_csv(tmp_path / "in.csv")
    assert datautil.main([str(tmp_path / "in.csv"), "--info"]) == 2
    assert ffmpeg_filter_without_errors.main([str(tmp_path / "in.csv")]) == 2
    assert cli_main(["check", str(tmp_path / "in.csv"), "--write-err"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(f"cannot write to {tmp_path}" in line for line in err)


def test_output_that_is_its_input_is_refused(tmp_path, capsys):
    table = tmp_path / "x.csv"
    pd.DataFrame({"path": ["a.mp4", "b.mp4"], "text": ["a", ""]}).to_csv(table, index=False)
    before = table.read_bytes()
    assert datautil.main([str(table), "--remove-empty-caption", "--output", str(table)]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert table.read_bytes() == before
    link = tmp_path / "link.csv"
    link.symlink_to(table)
    assert cli_main(["check", str(table), "-o", str(link)]) == 2
    assert table.read_bytes() == before


def test_err_file_that_cannot_be_written_fails_the_check(tmp_path, monkeypatch, capsys):
    video = make_clip(str(tmp_path / "v.mp4"), Clip("v.mp4", "libx264", 64, 48, 12))
    create = outputs.create_temp

    def no_space(path: str) -> str:
        if path.endswith(".err"):
            raise OSError(28, "No space left on device", path)
        return create(path)

    # The folder passes the check up front, then the disk fills up during the run.
    monkeypatch.setattr(check, "check_err_folders", lambda paths, err_dir=None: None)
    monkeypatch.setattr(outputs, "create_temp", no_space)
    (tmp_path / "list.txt").write_text(f"{video}\n")
    out = tmp_path / "out.csv"
    argv = ["check", str(tmp_path / "list.txt"), "-o", str(out), "--write-err", "--workers", "1"]
    assert cli_main(argv) == 1
    err = capsys.readouterr().err
    assert f"could not write 1 .err files in {tmp_path} (No space left on device" in err
    assert not out.exists() and not Path(video + ".err").exists()
    monkeypatch.setattr(outputs, "create_temp", create)  # fixed: the rerun writes the .err
    assert cli_main(argv) == 0
    assert Path(video + ".err").read_text() == "" and out.exists()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old\n")

    def half_then_fail(temp: str) -> None:
        Path(temp).write_text("new, half")
        raise OSError(28, "No space left on device")

    with pytest.raises(outputs.OutputError, match="No space left on device"):
        outputs.write_atomically(str(path), half_then_fail)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["t.csv"]
    write_table(pd.DataFrame({"a": [1, 2]}), str(path))
    assert path.read_text() == "a\n1\n2\n" and os.listdir(tmp_path) == ["t.csv"]
    mode = os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # what a plain open() would give, not mkstemp's 0600


def test_err_text_round_trip_through_check(tmp_path):
    # check_files(write_err=True) writes the .err text the filter reads.
    video = make_clip(str(tmp_path / "v.mp4"), Clip("v.mp4", "libx264", 64, 48, 12))
    (tmp_path / "bad.mp4").write_bytes(os.urandom(5000))
    paths = [video, str(tmp_path / "bad.mp4")]
    table = check.check_files(paths, workers=1, write_err=True)
    assert table["ok"].tolist() == [True, False]
    assert Path(video + ".err").read_text() == ""
    assert Path(str(tmp_path / "bad.mp4.err")).read_text() != ""
    kept = ffmpeg_filter_without_errors.filter_without_errors(pd.DataFrame({"path": paths}))
    assert kept["path"].tolist() == [video]


# ---------------------------------------------------------------- quiet traps (issue 15, 7)


def _audio_only(path: Path) -> str:
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000, layout="mono")
        for i in range(10):
            samples = np.random.default_rng(i).uniform(-0.5, 0.5, (1, 1024)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def test_prepare_rejects_audio_only_with_a_reason(tmp_path):
    from pyvidfast.curation import prepare

    video = make_clip(str(tmp_path / "v.mp4"), Clip("v.mp4", "libx264", 64, 48, 12))
    audio = _audio_only(tmp_path / "a.m4a")
    data = pd.DataFrame({"path": [video, audio], "text": ["a clip", "a sound"]})
    result = prepare(data, 50, workers=1)
    assert result.kept["path"].tolist() == [video]
    row = result.rejected.iloc[0]
    assert row["path"] == audio and row["error_kind"] == "no_video"
    assert row["step"] == "withouterror" and "audio only" in row["reason"]
    lenient = prepare(data, 50, workers=1, allow=["no_video"])
    assert lenient.kept["path"].tolist() == [video, audio]  # Open-Sora's chain keeps it


def test_ffmpeg_errors_read_as_ffmpeg_text(tmp_path):
    from pyvidfast.opensora.info import video_info

    noise = tmp_path / "noise.mp4"
    noise.write_bytes(os.urandom(3000))
    reason = video_info(str(noise))["info_error"]
    assert "[Errno" not in reason and "Invalid data found when processing input" in reason


def test_unlabelled_clips_are_reported(tmp_path, caplog):
    from pyvidfast.cogvideox.sft import scan_sft_folder

    (tmp_path / "videos").mkdir()
    (tmp_path / "labels").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "videos" / f"{name}.mp4").write_bytes(b"")
    (tmp_path / "labels" / "a.txt").write_text("a caption\n")
    with caplog.at_level("WARNING", logger="pyvidfast.cogvideox"):
        _, captions = scan_sft_folder(tmp_path)
    assert sorted(captions) == ["", "", "a caption"]
    assert "2 of 3 videos" in caplog.text and "have no caption file" in caplog.text

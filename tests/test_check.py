"""pyvidfast check: the verdict of `ffmpeg -v error -i P -f null -`, in-process."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import av
import pandas as pd
import pytest
from media_broken import make_broken_corpus

from pyvidfast.curation import check_file, check_files, err_text, tasks
from pyvidfast.curation.check import CHECK_COLUMNS
from pyvidfast.curation.sample_data import Clip, make_clip

FFMPEG = shutil.which("ffmpeg")

# Files whose verdict depends on the FFmpeg version, not on the checker: Debian's ffmpeg 5.1
# has no VVC decoder ("Decoder (codec none) not found"), PyAV's FFmpeg 8 decodes the file.
VERSION_DEPENDENT = {"androidx_media/mp4__sample_vvc.mp4"}


def _has_decoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "r")
    except Exception:
        return False
    return True


def test_real_corpus_agrees_with_ffmpeg_verdicts(real_dir: Path):
    with open(real_dir / "FFMPEG_VERDICTS.csv") as f:
        reference = {r["file"]: r["ffmpeg_ok"] == "1" for r in csv.DictReader(f)}
    files = sorted(reference)
    table = check_files([str(real_dir / f) for f in files], workers=2, timeout=120)
    assert len(table) == len(files) and table["path"].tolist() == [str(real_dir / f) for f in files]
    got = dict(zip(files, table["ok"]))
    disagree = {f for f in files if got[f] != reference[f]}
    expected = {f for f in VERSION_DEPENDENT if _has_decoder("vvc")}
    assert disagree == expected
    # A failing row says why; a passing one says nothing.
    for f, ok, kind, error in zip(files, table["ok"], table["error_kind"], table["error"]):
        assert (kind == "" and error == "") if ok else (kind != "" and error != ""), f
    assert set(table["error_kind"]) - {""} <= {"open", "demux", "decode", "no_frames"}


def test_error_lines_follow_ffmpeg(real_dir: Path):
    r = check_file(str(real_dir / "androidx_media/mp4__sample_with_invalid_nalu.mp4"))
    assert not r["ok"] and r["error_kind"] == "decode"
    assert r["error_lines"][0] == "[h264 @ 0x0] Error splitting the input into NAL units."
    assert any(line.startswith("Error while decoding stream #0:0: ") for line in r["error_lines"])
    r = check_file(str(real_dir / "androidx_media/cmaf__multi-segment__video_init.mp4"))
    assert r["error_kind"] == "no_frames"
    assert r["error_lines"] == ["Cannot determine format of input stream 0:0 after EOF"]
    r = check_file(str(real_dir / "torchcodec/nasa_13013.mp4"))
    assert r["ok"] and r["error_lines"] == [] and r["decoded_frames"] == r["header_frames"] > 0


def test_bad_inputs_are_rows_not_crashes(tmp_path: Path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    missing = tmp_path / "missing.mp4"
    paths = [str(p) for p in (empty, text, folder, missing)]
    table = check_files(paths, workers=2, timeout=60)
    assert table["path"].tolist() == paths
    assert not table["ok"].any()
    assert table["error_kind"].tolist() == ["empty", "open", "unreadable", "missing"]
    assert table["error"][3] == f"{missing}: No such file or directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path, real_dir: Path):
    locked = tmp_path / "locked.mp4"
    shutil.copy(real_dir / "torchcodec/nasa_13013.mp4", locked)
    locked.chmod(0)
    r = check_file(str(locked))
    assert not r["ok"] and r["error_kind"] == "unreadable"


def test_timeout_kills_the_decode(real_dir: Path, stalled_fifo, monkeypatch):
    """A decode that never ends (tests/hang.py) is killed at its limit, and the replacement
    worker gives the next file its verdict well within the same limit."""
    real_check = tasks.check_file

    def check_or_stall(path: str, threads: int = 1) -> dict:
        if path == stalled_fifo.path:
            stalled_fifo.wait()  # in the forked worker: returns only after the test
        return real_check(path, threads=threads)

    monkeypatch.setattr(tasks, "check_file", check_or_stall)
    small = str(real_dir / "androidx_media/mp4__sample_12_5fps_720p_1s.mp4")
    table = check_files([stalled_fifo.path, small], workers=1, timeout=5)
    assert table["error_kind"][0] == "timeout" and not table["ok"][0]
    assert "no verdict within 5s" in table["error"][0]
    assert table["ok"][1] and table["decoded_frames"][1] == 13


def test_err_text_folds_repeats_like_ffmpeg():
    assert err_text([]) == ""
    lines = ["a", "a", "a", "b", "a", "a"]
    assert err_text(lines) == (
        "a\n    Last message repeated 2 times\nb\na\n    Last message repeated 1 times\n"
    )


def _normalise(stderr: str) -> str:
    return re.sub(r" @ 0x[0-9a-f]+\]", " @ 0x0]", stderr)


# Frame times in ms of variable-frame-rate clips, as phones write them: frames closer than
# 1/fps collide in ffmpeg's encoder time base and the null muxer rejects their dts.
VFR_CASES = {
    "regular.mkv": tuple(range(0, 400, 40)),
    "burst.mkv": (0, 33, 40, 45, 66, 100, 133, 166, 200, 250, 251, 252, 300, 333),
    "burst.mp4": (0, 33, 66, 100, 110, 120, 133, 166, 200, 233, 266),
    "slowmo.mp4": tuple(i * 33 for i in range(12)) + tuple(400 + i * 5 for i in range(8)),
    "tiny_steps.mp4": (0, 1, 2, 3, 40, 80, 81, 82, 120),
}


@pytest.fixture(scope="module")
def vfr_clips(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("vfr")
    out = {}
    for name, pts in VFR_CASES.items():
        clip = Clip(name, "libx264", 64, 48, frames=len(pts), fps=30, pts=pts)
        out[name] = make_clip(str(folder / name), clip)
    return out


def test_timestamp_errors_are_classified(vfr_clips):
    regular = check_file(vfr_clips["regular.mkv"])
    assert regular["ok"], regular["error_lines"]
    burst = check_file(vfr_clips["burst.mkv"])
    assert not burst["ok"] and burst["error_kind"] == "timestamps"
    assert all("non monotonically increasing dts" in line for line in burst["error_lines"])


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg command")
def test_timestamp_errors_match_live_ffmpeg(vfr_clips):
    for name, path in vfr_clips.items():
        ref = subprocess.run(
            [FFMPEG, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stderr
        ours = err_text(check_file(path)["error_lines"])
        assert _normalise(ours) == _normalise(ref), name


def test_cli_on_a_csv_writes_columns_and_err_files(tmp_path: Path, real_dir: Path, capsys):
    from pyvidfast.cli import main

    good = tmp_path / "good.mp4"
    good.write_bytes((real_dir / "torchcodec/nasa_13013.mp4").read_bytes())
    bad = tmp_path / "bad.mp4"
    bad.write_bytes((real_dir / "androidx_media/mp4__sample_with_invalid_nalu.mp4").read_bytes())
    table = tmp_path / "in.csv"
    table.write_text(f"path,text\n{good},a\n{bad},b\n{tmp_path / 'gone.mp4'},c\n")
    assert main(["check", str(table), "--write-err", "--no-progress", "--workers", "2"]) == 0
    out = pd.read_csv(tmp_path / "in_checked.csv", keep_default_na=False)
    assert list(out.columns) == ["path", "text", *CHECK_COLUMNS]
    assert out["ok"].tolist() == [True, False, False]
    assert out["error_kind"].tolist() == ["", "decode", "missing"]
    assert (tmp_path / "good.mp4.err").read_text() == ""
    assert "Error splitting the input into NAL units" in (tmp_path / "bad.mp4.err").read_text()
    assert (tmp_path / "in_checked.csv.journal.jsonl").exists()
    assert "3 files: 1 ok, 2 failed" in capsys.readouterr().err


def test_err_dir_keeps_the_video_folder_clean(tmp_path: Path, real_dir: Path, capsys):
    """--write-err writes P.err beside each video, as Open-Sora's script does; --err-dir DIR
    writes them under DIR at each video's absolute path, and the filter reads them there."""
    from pyvidfast.cli import main
    from pyvidfast.opensora.ffmpeg_filter_without_errors import main as filter_main

    videos = tmp_path / "videos"
    videos.mkdir()
    good, bad = videos / "good.mp4", videos / "bad.mp4"
    good.write_bytes((real_dir / "torchcodec/nasa_13013.mp4").read_bytes())
    bad.write_bytes((real_dir / "androidx_media/mp4__sample_with_invalid_nalu.mp4").read_bytes())
    table = tmp_path / "in.csv"
    table.write_text(f"path,text\n{good},a\n{bad},b\n")
    errs = tmp_path / "errs"
    argv = ["check", str(table), "--err-dir", str(errs), "--no-progress", "--workers", "1"]
    assert main(argv) == 0
    assert sorted(os.listdir(videos)) == ["bad.mp4", "good.mp4"]  # nothing written beside them
    mirrored = errs / str(videos).lstrip(os.sep)
    assert (mirrored / "good.mp4.err").read_text() == ""
    assert "Error splitting the input into NAL units" in (mirrored / "bad.mp4.err").read_text()
    assert filter_main([str(table), "--err-dir", str(errs)]) == 0
    kept = pd.read_csv(tmp_path / "in_withouterror.csv")
    assert kept["path"].tolist() == [str(good)]
    capsys.readouterr()
    assert filter_main([str(table)]) == 0  # beside the videos there is no .err: both unchecked
    assert pd.read_csv(tmp_path / "in_withouterror.csv").empty
    assert "2 rows have no .err file" in capsys.readouterr().err


def _ffmpeg_stderr(path: str) -> str:
    return subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stderr


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg command")
def test_generated_broken_files_match_live_ffmpeg(tmp_path):
    """Every generated class (issue 12: AVI with B-frames, broken MP4 tables, TS cuts): the
    verdict of ``ffmpeg -v error -i P -f null -`` run here, and its null-muxer lines exactly.

    Decoder and demuxer messages after the first can differ in wording between ffmpeg 5.1 and
    PyAV's FFmpeg; the verdict and the timestamp lines (our emulation) must not.
    """
    made = make_broken_corpus(tmp_path)
    assert {"avi_h264_bframes", "avi_mpeg4_bframes"} <= set(made)
    differ = {}
    for path in sorted(p for p in tmp_path.iterdir() if p.is_file()):
        ours = check_file(str(path))
        ref = _normalise(_ffmpeg_stderr(str(path))).splitlines()
        muxer = [line for line in ref if line.startswith("[null @")]
        ours_muxer = [line for line in ours["error_lines"] if line.startswith("[null @")]
        if ours["ok"] != (not ref) or ours_muxer != muxer:
            differ[path.name] = (ours["error_lines"][:3], ref[:3])
    assert differ == {}


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg command")
def test_mpeg4_cut_mid_gop_gets_ffmpegs_lines(tmp_path):
    """MPEG-4 Part 2 in MPEG-TS cut at several points: 5.1's frame-threaded decoder logs one
    "Context scratch buffers" line per packet that follows a picture-less start (Note [mpeg4
    scratch]); every line, in order, equals the live CLI's. Xvid's B-frames in MPEG-TS end on a
    not-coded VOP, where 5.1 stamps the flushed frame differently (Note [mpeg4 flush pts])."""
    from media_broken import encode

    data = encode(tmp_path / "mpeg4.ts", codec="mpeg4", options={"bf": "2", "g": "12"})
    data = data.read_bytes()
    packets = len(data) // 188
    scratch = 0
    for k in range(2, 12):
        path = tmp_path / f"cut{k}.ts"
        path.write_bytes(data[188 * (packets * k // 13) :])
        ref = _normalise(_ffmpeg_stderr(str(path))).splitlines()
        ours = check_file(str(path))["error_lines"]
        assert ours == ref, path.name
        scratch += sum("Context scratch buffers" in line for line in ours)
    if (os.cpu_count() or 1) > 1:
        assert scratch > 0  # the cuts do start on B-VOPs
    xvid = tmp_path / "xvid.ts"
    command = [FFMPEG, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=24"]
    command += ["-t", "2", "-c:v", "libxvid", "-bf", "2", str(xvid)]
    if subprocess.run(command, capture_output=True).returncode == 0:  # needs libxvid
        ref = _normalise(_ffmpeg_stderr(str(xvid))).splitlines()
        assert check_file(str(xvid))["error_lines"] == ref != []
    # without B-frames, a final N-VOP: FFmpeg 8 repeats the last picture at EOF, 5.1 does not
    from media_broken import avi_mpeg4_nvops

    nvops = str(avi_mpeg4_nvops(tmp_path))
    probe = [shutil.which("ffprobe") or "ffprobe", "-v", "error", "-count_frames", nvops]
    probe += ["-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]
    frames = int(subprocess.run(probe, capture_output=True, text=True).stdout)
    assert check_file(nvops)["decoded_frames"] == frames == 40

"""video_info / compute_info / the worker pool / `pyvidfast info`."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest
from media_broken import make_broken_corpus, reference_row, same_values

from pyvidfast.cli import main as cli_main
from pyvidfast.opensora.info import INFO_COLUMNS, compute_info, summarize, video_info
from pyvidfast.opensora.reference import reference_info
from pyvidfast.parallel.pool import map_with_timeout

KEYS = {*INFO_COLUMNS, "info_error"}
SAMPLE = [
    "vpf/test.mp4",
    "decord/flipping_a_pancake.mkv",
    "androidx_media/avi__sample.avi",
    "androidx_media/vp9__bear-vp9-odd-dimensions.webm",
    "androidx_media/cmaf__multi-segment__video_init.mp4",
    "libwebm/invalid_projection_float_overflow.webm",
]


def _same_row(row: dict, ref: tuple) -> bool:
    got = tuple(row[c] for c in INFO_COLUMNS)
    return all(
        a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
        for a, b in zip(got, ref)
    )


def test_video_info_matches_reference_rows(real_dir):
    for name in SAMPLE:
        row = video_info(str(real_dir / name))
        assert set(row) == KEYS
        assert _same_row(row, reference_info(str(real_dir / name), rgb=False)), name
        assert (row["info_error"] is None) == (row["num_frames"] > 0)


def _row_values(path: str) -> tuple:
    row = video_info(path)
    return tuple(row[c] for c in INFO_COLUMNS)


def _real_names(real_dir) -> list[str]:
    return pd.read_csv(real_dir / "PROBE.csv")["file"].tolist()


def test_info_equals_the_reference_on_every_real_file(real_dir):
    """Default ``--info`` against reference.py (the Open-Sora procedure, run here) on the corpus."""
    names = _real_names(real_dir)
    differ = {}
    for name in names:
        got, want = _row_values(str(real_dir / name)), reference_row(str(real_dir / name))
        if not same_values(got, want):
            differ[name] = (got, want)
    assert len(names) > 80 and differ == {}


def test_info_equals_the_reference_on_generated_broken_files(tmp_path):
    """Each class of broken file from issue 12, and the clean files they were derived from."""
    make_broken_corpus(tmp_path)
    paths = sorted(p for p in tmp_path.iterdir() if p.is_file())
    assert len(paths) >= 14
    differ = {}
    for path in paths:
        got, want = _row_values(str(path)), reference_row(str(path))
        if not same_values(got, want):
            differ[path.name] = (got, want)
    assert differ == {}


def test_video_info_values(real_dir):
    row = video_info(str(real_dir / "androidx_media/mp4__bt601.mp4"))
    assert row["num_frames"] == 30 and (row["height"], row["width"]) == (240, 360)
    assert row["fps"] == 30000 / 1001  # not rounded
    assert row["aspect_ratio"] == 240 / 360 and row["resolution"] == 240 * 360
    # rotation metadata is ignored: stored 1080x720 with a -90 display matrix
    rot = video_info(str(real_dir / "androidx_media/mp4__sample_rotate_and_reflect.mp4"))
    assert (rot["height"], rot["width"]) == (720, 1080)


def test_failure_row(tmp_path):
    row = video_info(str(tmp_path / "missing.mp4"))
    assert (row["num_frames"], row["height"], row["width"]) == (0, 0, 0)
    assert all(math.isnan(row[c]) for c in ("aspect_ratio", "fps", "resolution"))
    assert row["info_error"].startswith("missing file: ")


def test_images_use_pil(tmp_path):
    from PIL import Image

    for ext in (".jpg", ".PNG", ".webp", ".bmp", ".TIFF"):
        path = tmp_path / f"img{ext}"
        Image.new("RGB", (40, 30)).save(path)
        row = video_info(str(path))
        assert (row["num_frames"], row["height"], row["width"], row["resolution"]) == (
            1,
            30,
            40,
            1200,
        )
        assert math.isnan(row["fps"]) and row["aspect_ratio"] == 0.75
    missing = video_info(str(tmp_path / "nope.png"))
    assert missing["num_frames"] == 0 and missing["info_error"].startswith("missing file")


@pytest.mark.parametrize("exact", [False, True])
def test_in_process_timeout(stalled_fifo, exact):
    # The header path (Python's open) and the exact path (FFmpeg's open) both block on a FIFO
    # that never delivers data: the row must say timeout, not the interrupted call's error.
    row = video_info(stalled_fifo.path, exact, timeout=0.2)
    assert row["info_error"] == "timeout after 0.2s" and row["num_frames"] == 0


def test_compute_info_parallel_equals_in_process(real_dir, tmp_path):
    paths = [str(real_dir / n) for n in SAMPLE] + [str(tmp_path / "gone.mkv")]
    par = compute_info(paths, num_workers=2, progress=False)
    seq = compute_info(paths, parallel=False, progress=False)
    assert len(par) == len(paths)
    for a, b in zip(par, seq):
        assert a["info_error"] == b["info_error"]
        assert _same_row(a, tuple(b[c] for c in INFO_COLUMNS))


def test_compute_info_timeout_kills_worker(real_dir, stalled_fifo):
    fast = str(real_dir / "vpf/test.mp4")
    # One worker: the file that never finishes must be killed at its limit and the worker
    # replaced for the next file, whose header read takes milliseconds of the 2 s allowed.
    rows = compute_info([stalled_fifo.path, fast], timeout=2.0, num_workers=1, progress=False)
    assert rows[0]["info_error"] == "timeout after 2s" and rows[0]["num_frames"] == 0
    assert rows[1]["num_frames"] == 96 and rows[1]["info_error"] is None


def _echo_or_hang(x):
    """A number comes straight back; a path is a stalled FIFO (tests/hang.py) read to its end."""
    if isinstance(x, str):
        with open(x, "rb") as f:
            return f.read()
    return x


def _die(x):
    if x == 1:
        os._exit(3)
    return x


def test_pool_contract(stalled_fifo):
    items = [0, stalled_fifo.path, 2, 3]
    out = map_with_timeout(
        _echo_or_hang, items, num_workers=2, timeout=2.0, on_timeout=lambda item: "timeout"
    )
    assert out == [0, "timeout", 2, 3]
    out = map_with_timeout(
        _die, [0, 1, 2], num_workers=1, on_crash=lambda item, code: ("crash", code)
    )
    assert out == [0, ("crash", 3), 2]
    out = map_with_timeout(int, ["1", "x"], num_workers=2)
    assert out[0] == 1 and isinstance(out[1], ValueError)


def test_summarize():
    rows = [
        {"info_error": None},
        {"info_error": "no decodable frame"},
        {"info_error": "missing file: /a.mp4"},
        {"info_error": "missing file: /b.mp4"},
    ]
    assert summarize(rows) == "info: 4 files, 1 ok, 3 failed (2 missing file, 1 no decodable frame)"


def test_pyvidfast_info_cli(real_dir, tmp_path, capsys):
    src = tmp_path / "clips.v1.csv"
    pd.DataFrame({"path": [str(real_dir / n) for n in SAMPLE], "text": "t"}).to_csv(
        src, index=False
    )
    assert cli_main(["info", str(src), "--info-errors", "--num-workers", "2"]) == 0
    out = pd.read_csv(tmp_path / "clips_info.csv")
    assert list(out.columns) == ["path", "text", *INFO_COLUMNS, "info_error"]
    assert out["num_frames"].tolist()[:4] == [96, 310, 96, 30]
    err = capsys.readouterr().err
    assert "info: 6 files, 4 ok, 2 failed" in err
    assert cli_main(["info", str(tmp_path / "none*.csv")]) == 2
    with pytest.raises(SystemExit):
        cli_main(["info", "--help"])
    assert "--exact-frames" in capsys.readouterr().out

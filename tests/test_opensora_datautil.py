"""The three Open-Sora drop-in commands on generated tables: columns, names, flags."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

from pyvidfast.opensora import datautil, ffmpeg_filter_without_errors, filter_large_videos
from pyvidfast.opensora.datautil import remove_empty_caption
from pyvidfast.opensora.info import INFO_COLUMNS
from pyvidfast.parallel.table import base_name, read_tables

CLIPS = ["vpf/test.mp4", "decord/video_90.mov", "androidx_media/mp4__sample_simple.mp4"]


@pytest.fixture
def table(real_dir, tmp_path):
    """dataset.csv with three real clips, a missing one, and empty/NaN/whitespace captions."""
    paths = [str(real_dir / c) for c in CLIPS] + [str(tmp_path / "missing.mp4")]
    df = pd.DataFrame({"path": paths, "text": ["a cat", np.nan, "   ", ""], "id": [1, 2, 3, 4]})
    path = tmp_path / "dataset.csv"
    df.to_csv(path, index=False)
    return path


def run(*argv) -> int:
    return datautil.main([str(a) for a in argv] + ["--no-progress", "--num-workers", "2"])


def test_info_remove_empty_caption(table, tmp_path):
    assert run(table, "--info", "--remove-empty-caption", "--info-errors") == 0
    out = pd.read_csv(tmp_path / "dataset_info_noempty.csv", keep_default_na=False)
    assert list(out.columns) == ["path", "text", "id", *INFO_COLUMNS, "info_error"]
    # NaN and "" dropped, whitespace kept
    assert out["text"].tolist() == ["a cat", "   "]
    assert out["num_frames"].tolist() == [96, 30]
    assert out["info_error"].tolist() == ["", ""]


def test_info_failure_row_and_dtypes(table, tmp_path):
    assert run(table, "--info") == 0
    out = pd.read_csv(tmp_path / "dataset_info.csv")
    assert list(out.columns) == ["path", "text", "id", *INFO_COLUMNS]
    last = out.iloc[-1]
    assert (last["num_frames"], last["height"], last["width"]) == (0, 0, 0)
    assert math.isnan(last["aspect_ratio"]) and math.isnan(last["fps"])
    assert math.isnan(last["resolution"])
    assert out["fps"].tolist()[:3] == [30.0, 30.0, 30000 / 1001]


def test_step_order_is_fixed_and_flags_order_free(table, tmp_path):
    assert run(table, "--remove-empty-caption", "--info") == 0
    assert (tmp_path / "dataset_info_noempty.csv").exists()
    assert run(table, "--head", 1, "--ext", "--fmin", 1, "--info") == 0
    assert (tmp_path / "dataset_info_ext_fmin1_first_1_data.csv").exists()


def test_existing_info_columns_are_overwritten_in_place(table, tmp_path):
    df = pd.read_csv(table)
    df.insert(1, "num_frames", -1)
    src = tmp_path / "pre.csv"
    df.to_csv(src, index=False)
    assert run(src, "--info") == 0
    out = pd.read_csv(tmp_path / "pre_info.csv")
    assert list(out.columns) == ["path", "num_frames", "text", "id", *INFO_COLUMNS[1:]]
    assert out["num_frames"].tolist() == [96, 3, 30, 0]


def test_parquet_in_and_out_and_several_inputs(table, tmp_path):
    df = pd.read_csv(table)
    df.iloc[:2].to_parquet(tmp_path / "part.a.parquet", index=False)
    df.iloc[2:].to_csv(tmp_path / "other.v2.csv", index=False)
    inputs = [tmp_path / "part.a.parquet", tmp_path / "oth*.csv", tmp_path / "absent.csv"]
    assert run(*inputs, "--info", "--format", "parquet") == 0
    out = pd.read_parquet(tmp_path / "part+other_info.parquet")
    assert len(out) == 4 and out["num_frames"].tolist() == [96, 3, 30, 0]
    data, paths = read_tables([str(p) for p in inputs])
    assert len(data) == 4 and base_name(paths) == "part+other"
    assert run(tmp_path / "nothing*.csv") == 2


def test_output_override(table, tmp_path):
    target = tmp_path / "sub" / "x.parquet"
    assert run(table, "--fmin", "1", "--output", target) == 2  # no num_frames column
    assert run(table, "--ext", "--output", target) == 0
    assert len(pd.read_parquet(target)) == 3


def test_filters(table, tmp_path):
    assert run(table, "--info", "--fmin", 4, "--fmax", 96, "--output", tmp_path / "f.csv") == 0
    assert pd.read_csv(tmp_path / "f.csv")["num_frames"].tolist() == [96, 30]
    assert run(table, "--info", "--hwmax", 100000, "--output", tmp_path / "h.csv") == 0
    assert pd.read_csv(tmp_path / "h.csv")["resolution"].tolist() == [76800.0]
    assert run(table, "--info", "--fpsmax", 29.98, "--output", tmp_path / "p.csv") == 0
    fps = pd.read_csv(tmp_path / "p.csv")["fps"].tolist()
    assert fps[0] == 30000 / 1001 and math.isnan(fps[1])  # NaN fps (failure row) kept
    assert run(table, "--filesize", "--fsmax", 0.2, "--output", tmp_path / "s.csv") == 0
    sizes = pd.read_csv(tmp_path / "s.csv")["filesize"]
    assert len(sizes) == 2 and (sizes <= 0.2).all()


def test_path_flags(table, tmp_path, real_dir):
    assert run(table, "--relpath", real_dir) == 0
    rel = pd.read_csv(tmp_path / "dataset_relpath.csv")["path"].tolist()
    assert rel[0] == "vpf/test.mp4"
    assert run(tmp_path / "dataset_relpath.csv", "--abspath", real_dir) == 0
    back = pd.read_csv(tmp_path / "dataset_relpath_abspath.csv")["path"].tolist()
    assert back[:3] == [str(real_dir / c) for c in CLIPS]
    df = pd.read_csv(table)
    pd.concat([df, df.iloc[:2]]).to_csv(tmp_path / "dup.csv", index=False)
    assert run(tmp_path / "dup.csv", "--remove-path-duplication") == 0
    assert len(pd.read_csv(tmp_path / "dup_noduppath.csv")) == 4


def test_shuffle_seed_and_head(table, tmp_path):
    assert run(table, "--shuffle", "--head", 3) == 0
    out = pd.read_csv(tmp_path / "dataset_shuffled_seed42_first_3_data.csv")
    want = pd.read_csv(table).sample(frac=1, random_state=np.random.RandomState(42)).head(3)
    assert out["id"].tolist() == want["id"].tolist()
    assert run(table, "--shuffle", "--seed", 7) == 0
    assert sorted(pd.read_csv(tmp_path / "dataset_shuffled_seed7.csv")["id"]) == [1, 2, 3, 4]


def test_remove_empty_caption_function():
    df = pd.DataFrame({"text": ["x", "", np.nan, " ", None, 5]})
    assert remove_empty_caption(df)["text"].tolist() == ["x", " "]
    with pytest.raises(KeyError):
        remove_empty_caption(pd.DataFrame({"path": ["a"]}))


def test_missing_text_column_is_an_error(tmp_path):
    pd.DataFrame({"path": ["a.mp4"]}).to_csv(tmp_path / "t.csv", index=False)
    assert run(tmp_path / "t.csv", "--remove-empty-caption") == 2


def test_filter_large_videos(real_dir, tmp_path):
    paths = [real_dir / "vpf/test.mp4", real_dir / "decord/video_0.mov", tmp_path / "gone.mp4"]
    pd.DataFrame({"path": [str(p) for p in paths]}).to_csv(tmp_path / "in.csv", index=False)
    limit = os.path.getsize(paths[0]) / 1024 / 1024  # strict: the file of exactly N MiB goes
    assert filter_large_videos.main([str(tmp_path / "in.csv"), str(limit)]) == 0
    out = pd.read_csv(tmp_path / f"in_le{limit}MB.csv")
    assert out["path"].tolist() == [str(paths[1])]
    assert out["file_size"].tolist() == [os.path.getsize(paths[1])]
    assert filter_large_videos.main([str(tmp_path / "in.csv"), "50"]) == 0
    assert len(pd.read_csv(tmp_path / "in_le50MB.csv")) == 2
    assert filter_large_videos.main([str(tmp_path / "nope.csv"), "50"]) == 2


def test_ffmpeg_filter_without_errors(tmp_path, capsys):
    names = ["d.mp4", "c.mp4", "b.mp4", "a.mp4"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "c.mp4.err").write_text("[h264] error\n")
    (tmp_path / "b.mp4.err").write_text("")
    pd.DataFrame({"path": [str(tmp_path / n) for n in names], "k": range(4)}).to_csv(
        tmp_path / "list.csv", index=False
    )
    (tmp_path / "a.mp4.err").write_text("")
    assert ffmpeg_filter_without_errors.main([str(tmp_path / "list.csv")]) == 0
    out = pd.read_csv(tmp_path / "list_withouterror.csv")
    assert out["k"].tolist() == [2, 3]  # input order kept; d.mp4 was never checked: dropped
    assert "1 rows have no .err file" in capsys.readouterr().err
    argv = [str(tmp_path / "list.csv"), "--keep-unchecked"]  # the original script's rule
    assert ffmpeg_filter_without_errors.main(argv) == 0
    out = pd.read_csv(tmp_path / "list_withouterror.csv")
    assert out["k"].tolist() == [0, 2, 3]


def test_exact_frames_and_in_process_give_the_same_table(table, tmp_path):
    assert run(table, "--info", "--output", tmp_path / "a.csv") == 0
    argv = [table, "--info", "--exact-frames", "--disable-parallel", "--output", tmp_path / "b.csv"]
    assert run(*argv) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        datautil.main(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--info",
        "--remove-empty-caption",
        "--fmin",
        "--fmax",
        "--fpsmax",
        "--hwmax",
        "--ext",
        "--relpath",
        "--abspath",
        "--filesize",
        "--fsmax",
        "--remove-path-duplication",
        "--shuffle",
        "--seed",
        "--head",
        "--output",
        "--format",
        "--num-workers",
        "--disable-parallel",
        "--exact-frames",
        "--info-errors",
        "--timeout",
    ):
        assert flag in text, flag


def test_empty_inputs(tmp_path):
    (tmp_path / "zero.csv").write_bytes(b"")
    assert run(tmp_path / "zero.csv", "--info") == 2  # no 'path' column: reported, no crash
    pd.DataFrame({"path": [], "text": []}).to_csv(tmp_path / "header.csv", index=False)
    assert run(tmp_path / "header.csv", "--info", "--remove-empty-caption") == 0
    out = pd.read_csv(tmp_path / "header_info_noempty.csv")
    assert list(out.columns) == ["path", "text", *INFO_COLUMNS] and len(out) == 0


def test_odd_paths_get_failure_rows(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    df = pd.DataFrame({"path": [str(tmp_path / "notes.txt"), np.nan, str(tmp_path)], "text": "x"})
    df.to_csv(tmp_path / "odd.csv", index=False)
    assert run(tmp_path / "odd.csv", "--info", "--info-errors") == 0
    out = pd.read_csv(tmp_path / "odd_info.csv")
    assert out["num_frames"].tolist() == [0, 0, 0]
    reasons = out["info_error"].tolist()
    assert reasons[0].startswith("cannot open") and reasons[1].startswith("missing file")
    assert reasons[2].startswith("not a file")

"""pyvidfast prepare: the four Open-Sora preparation commands in one pass, same output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pyvidfast.curation import make_sample_dataset, prepare

FFMPEG = shutil.which("ffmpeg")
LIMIT = "1.2"  # MiB: the sample's noise clip is above it


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, *args], cwd=cwd, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("sample")
    table = make_sample_dataset(str(folder), big_mib=float(LIMIT))
    return folder, table


def _four_steps(folder: Path, check) -> bytes:
    """datautil --info --remove-empty-caption; filter_large_videos; the check; the filter."""
    for err in folder.glob("*.err"):
        err.unlink()
    _run(
        "-m",
        "pyvidfast.opensora.datautil",
        "dataset.csv",
        "--info",
        "--remove-empty-caption",
        "--no-progress",
        cwd=folder,
    )
    _run(
        "-m",
        "pyvidfast.opensora.filter_large_videos",
        "dataset_info_noempty.csv",
        LIMIT,
        cwd=folder,
    )
    paths = pd.read_csv(folder / f"dataset_info_noempty_le{LIMIT}MB.csv")["path"]
    for p in paths:
        with open(f"{p}.err", "w") as err:
            subprocess.run(check(p), stderr=err, stdout=subprocess.DEVNULL, timeout=120)
    _run(
        "-m",
        "pyvidfast.opensora.ffmpeg_filter_without_errors",
        f"dataset_info_noempty_le{LIMIT}MB.csv",
        cwd=folder,
    )
    return (folder / f"dataset_info_noempty_le{LIMIT}MB_withouterror.csv").read_bytes()


def _prepare_cli(folder: Path, out: Path, *extra: str) -> tuple[bytes, pd.DataFrame]:
    _run(
        "-m",
        "pyvidfast.cli",
        "prepare",
        "dataset.csv",
        "--max-size-mb",
        LIMIT,
        "--output-dir",
        str(out),
        "--no-progress",
        *extra,
        cwd=folder,
    )
    kept = out / f"dataset_info_noempty_le{LIMIT}MB_withouterror.csv"
    rejected = out / f"dataset_info_noempty_le{LIMIT}MB_withouterror_rejected.csv"
    return kept.read_bytes(), pd.read_csv(rejected)


@pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg command (the reference check)")
def test_one_pass_equals_the_four_reference_steps(sample, tmp_path: Path):
    folder, table = sample
    # ffmpeg_check_parallel.sh: ffmpeg -v error -i P -f null - 2> P.err
    reference = _four_steps(
        folder, lambda p: [FFMPEG, "-nostdin", "-v", "error", "-i", p, "-f", "null", "-"]
    )
    kept, rejected = _prepare_cli(folder, tmp_path / "out")
    assert kept == reference
    assert len(pd.read_csv(folder / f"dataset_info_noempty_le{LIMIT}MB_withouterror.csv")) == (
        (table["expect"] == "kept").sum()
    )


def test_one_pass_equals_four_steps_with_pyvidfast_check(sample, tmp_path: Path):
    folder, _ = sample
    # Step 3 as `pyvidfast check --write-err` would write it, file by file.
    reference = _four_steps(folder, lambda p: [sys.executable, "-c", _WRITE_ERR, p])
    kept, _ = _prepare_cli(folder, tmp_path / "out")
    assert kept == reference


_WRITE_ERR = (
    "import sys; from pyvidfast.curation import check_file, err_text; "
    "sys.stderr.write(err_text(check_file(sys.argv[1])['error_lines']))"
)


def test_every_dropped_row_is_rejected_with_its_step(sample):
    folder, table = sample
    data = pd.read_csv(folder / "dataset.csv")
    result = prepare(data, float(LIMIT), workers=2)
    assert len(result.kept) + len(result.rejected) == len(data)
    assert sorted([*result.kept.index, *result.rejected.index]) == list(range(len(data)))
    for i, row in table.iterrows():
        got = "kept" if i in result.kept.index else result.rejected.loc[i, "step"]
        assert got == row["expect"], (row["path"], row["what"], got)
    assert (result.rejected["reason"].str.len() > 0).all()
    errors = result.rejected[result.rejected["step"] == "withouterror"]
    assert set(errors["error_kind"]) == {"demux", "open", "decode", "empty", "timestamps"}
    assert [s["step"] for s in result.steps] == ["info", "noempty", f"le{LIMIT}MB", "withouterror"]


def test_allow_keeps_timestamp_only_failures(sample):
    folder, _ = sample
    data = pd.read_csv(folder / "dataset.csv")
    strict = prepare(data, float(LIMIT), workers=2)
    lenient = prepare(data, float(LIMIT), workers=2, allow=["timestamps"])
    added = set(lenient.kept["path"]) - set(strict.kept["path"])
    assert [Path(p).name for p in added] == ["vfr_phone.mkv"]


def test_openvid_and_miradata_tables_import(sample, tmp_path: Path):
    folder, _ = sample
    root = tmp_path / "openvid"
    (root / "video").mkdir(parents=True)
    shutil.copy(folder / "h264_320x240.mp4", root / "video" / "a.mp4")
    shutil.copy(folder / "truncated.mkv", root / "video" / "b.mkv")
    openvid = pd.DataFrame(
        {
            "video": ["a.mp4", "b.mkv", "a.mp4"],
            "caption": ["a cat", "a dog", None],
            "aesthetic score": [5.1, 4.2, 3.3],
            "motion score": [1.0, 2.0, 3.0],
            "temporal consistency score": [0.9, 0.8, 0.7],
            "camera motion": ["static"] * 3,
            "frame": [24, 24, 24],
            "fps": [24.0] * 3,
            "seconds": [1.0] * 3,
        }
    )
    openvid.to_csv(tmp_path / "OpenVid-1M.csv", index=False)
    _run(
        "-m",
        "pyvidfast.cli",
        "prepare",
        "OpenVid-1M.csv",
        "--from",
        "openvid",
        "--root",
        str(root),
        "--no-progress",
        cwd=tmp_path,
    )
    kept = pd.read_csv(tmp_path / "OpenVid-1M_info_noempty_le50MB_withouterror.csv")
    assert kept["path"].tolist() == [str(root / "video" / "a.mp4")]
    assert kept["text"].tolist() == ["a cat"]
    assert list(kept.columns[:2]) == ["path", "text"] and "aesthetic score" in kept.columns
    rejected = pd.read_csv(tmp_path / "OpenVid-1M_info_noempty_le50MB_withouterror_rejected.csv")
    assert rejected["step"].tolist() == ["withouterror", "noempty"]

    mira_root = tmp_path / "mira"
    (mira_root / "clips").mkdir(parents=True)
    shutil.copy(folder / "vp9_160x120.webm", mira_root / "clips" / "c.webm")
    mira = pd.DataFrame(
        {
            "clip_id": [7],
            "file_path": ["clips/c.webm"],
            "short_caption": ["short"],
            "dense_caption": ["a long dense caption"],
        }
    )
    mira.to_csv(tmp_path / "miradata_v1_330k.csv", index=False)
    _run(
        "-m",
        "pyvidfast.cli",
        "prepare",
        "miradata_v1_330k.csv",
        "--from",
        "miradata",
        "--root",
        str(mira_root),
        "--caption",
        "dense_caption",
        "--no-progress",
        cwd=tmp_path,
    )
    kept = pd.read_csv(tmp_path / "miradata_v1_330k_info_noempty_le50MB_withouterror.csv")
    assert kept["path"].tolist() == [str(mira_root / "clips" / "c.webm")]
    assert kept["text"].tolist() == ["a long dense caption"]
    assert kept["num_frames"].tolist() == [12]


def test_table_without_text_is_a_clear_error(tmp_path: Path):
    pd.DataFrame({"path": ["x.mp4"]}).to_csv(tmp_path / "t.csv", index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "pyvidfast.cli", "prepare", "t.csv", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "'text' column" in proc.stderr

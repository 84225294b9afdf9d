"""The Open-Sora chain, ``prepare`` and ``check`` on an S3 bucket (moto's server on 127.0.0.1)
holding the small files of the real corpus: every CSV equals the local folder's, byte for byte,
once the bucket's URL prefix is read as the folder's path. Then the same ``check`` over a plain
HTTP server that injects faults: the same verdicts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from fault_server import FaultServer, MotoS3

from pyvidfast.cli import main as cli
from pyvidfast.opensora import datautil, ffmpeg_filter_without_errors, filter_large_videos

# The corpus files up to this size (CI time): 56 of 84, every container of the corpus but AVI
# and raw H.264, and its broken files (truncated, bad NAL sizes, invalid bitstreams, no moov,
# init segments only). benchmarks/bench_remote.py runs prepare on all 84.
SUBSET_BYTES = 110_000
BUCKET = "corpus"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv("PYVIDFAST_REMOTE_BACKOFF", "0.01")
    monkeypatch.delenv("PYVIDFAST_STORAGE_OPTIONS", raising=False)
    monkeypatch.delenv("PYVIDFAST_REMOTE_NAL_WALK", raising=False)


def subset(real_dir: Path) -> list[str]:
    found = [p for p in real_dir.rglob("*") if p.is_file() and p.suffix not in (".csv", ".md")]
    return sorted(str(p.relative_to(real_dir)) for p in found if p.stat().st_size <= SUBSET_BYTES)


@pytest.fixture(scope="module")
def bucket(real_dir):
    names = subset(real_dir)
    with MotoS3() as s3:
        s3.upload(BUCKET, {name: str(real_dir / name) for name in names})
        yield s3, names


def write_dataset(folder: Path, root: str, names: list[str]) -> str:
    """dataset.csv over ``root``: every file, one empty caption, one file that is not there."""
    folder.mkdir()
    paths = [f"{root}{name}" for name in [*names, "gone/missing.mp4"]]
    texts = [f"clip {i}" if i != 3 else "" for i in range(len(paths))]
    pd.DataFrame({"path": paths, "text": texts}).to_csv(folder / "dataset.csv", index=False)
    return str(folder / "dataset.csv")


def same_text(local: str, remote: str, local_root: str, remote_root: str) -> None:
    a = Path(local).read_text()
    b = Path(remote).read_text().replace(remote_root, local_root)
    assert a == b, f"{remote} differs from {local}"


def chain(csv: str, monkeypatch, endpoint: str | None = None) -> list[str]:
    """datautil --info --remove-empty-caption, filter_large_videos 50, check --err-dir,
    ffmpeg_filter_without_errors --err-dir: the four outputs. With ``endpoint``, check finds the
    S3 endpoint in ``--storage-options`` alone."""
    base = csv[: -len(".csv")]
    err_dir = os.path.join(os.path.dirname(csv), "err")
    info = f"{base}_info_noempty.csv"
    assert datautil.main([csv, "--info", "--remove-empty-caption", "--num-workers", "2"]) == 0
    small = f"{base}_info_noempty_le50MB.csv"
    assert filter_large_videos.main([info, "50"]) == 0
    options = ["--workers", "2", "--no-progress", "--err-dir", err_dir]
    with monkeypatch.context() as m:
        if endpoint is not None:
            m.delenv("AWS_ENDPOINT_URL")
            options += ["--storage-options", json.dumps({"endpoint_url": endpoint})]
        assert cli(["check", small, *options]) == 0
    assert ffmpeg_filter_without_errors.main([small, "--err-dir", err_dir]) == 0
    return [
        info,
        small,
        f"{base}_info_noempty_le50MB_checked.csv",
        f"{base}_info_noempty_le50MB_withouterror.csv",
    ]


def test_opensora_chain_and_prepare_on_s3_equal_local(bucket, real_dir, tmp_path, monkeypatch):
    s3, names = bucket
    local_root, remote_root = f"{real_dir}/", f"s3://{BUCKET}/"
    local_csv = write_dataset(tmp_path / "local", local_root, names)
    remote_csv = write_dataset(tmp_path / "remote", remote_root, names)
    local_out = chain(local_csv, monkeypatch)
    # --remote-nal-walk: the two MP4s with corrupt NAL sizes get the local count (io/probe.py)
    monkeypatch.setenv("PYVIDFAST_REMOTE_NAL_WALK", "1")
    remote_out = chain(remote_csv, monkeypatch, s3.endpoint)
    for local, remote in zip(local_out, remote_out):
        same_text(local, remote, local_root, remote_root)
    checked = pd.read_csv(local_out[2])
    assert 0 < checked["ok"].sum() < len(checked)  # both verdicts occur
    assert len(pd.read_csv(local_out[3])) == checked["ok"].sum()

    prepared = []
    for csv in (local_csv, remote_csv):
        assert cli(["prepare", csv, "--workers", "2", "--no-progress"]) == 0
        base = csv[: -len(".csv")] + "_info_noempty_le50MB_withouterror"
        prepared.append([f"{base}.csv", f"{base}_rejected.csv"])
    for local, remote in zip(*prepared):
        same_text(local, remote, local_root, remote_root)
    rejected = pd.read_csv(prepared[0][1])
    assert "io" not in set(rejected["error_kind"].dropna())

    for csv in (local_csv, remote_csv):  # `pyvidfast info` takes the same paths
        assert cli(["info", csv, "--no-progress", "--output", csv[:-4] + "_pvf_info.csv"]) == 0
    same_text(
        local_csv[:-4] + "_pvf_info.csv", remote_csv[:-4] + "_pvf_info.csv", local_root, remote_root
    )


def test_info_without_nal_walk_differs_only_on_corrupt_nal_sizes(bucket, real_dir, tmp_path):
    from pyvidfast.io.probe import probe_video
    from pyvidfast.opensora.info import compute_info

    _, names = bucket
    local = compute_info([str(real_dir / n) for n in names], parallel=False, progress=False)
    remote = compute_info([f"s3://{BUCKET}/{n}" for n in names], parallel=False, progress=False)
    differ = {n for n, a, b in zip(names, local, remote) if a["num_frames"] != b["num_frames"]}
    bad_nal = {n for n in names if probe_video(str(real_dir / n)).method == "bad_nal"}
    assert differ == bad_nal and len(bad_nal) == 2


def test_check_over_http_with_faults_gives_the_local_verdicts(bucket, real_dir, tmp_path):
    _, names = bucket
    local_csv = write_dataset(tmp_path / "local", f"{real_dir}/", names)
    with FaultServer(real_dir, stall_s=2) as server:
        remote_csv = write_dataset(tmp_path / "remote", f"{server.url}/", names)
        # every 4th GET fails: 503, a reset, a short body, a stalled body, in turn
        server.every(4, ("503", "drop", "truncate", "stall"))
        os.environ["PYVIDFAST_REMOTE_TIMEOUT"] = "1"
        try:
            for csv in (local_csv, remote_csv):
                assert cli(["check", csv, "--workers", "2", "--no-progress"]) == 0
        finally:
            del os.environ["PYVIDFAST_REMOTE_TIMEOUT"]
        assert sum(server.faults_done.values()) >= 10
    base = "dataset_checked.csv"
    same_text(
        str(tmp_path / "local" / base),
        str(tmp_path / "remote" / base),
        f"{real_dir}/",
        server.url + "/",
    )

"""--engine ray: the same verdicts and info rows as the local pool, on a local Ray instance
(a real multi-node cluster that loses a node: test_ray_cluster.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pyvidfast.curation import check_files, make_sample_dataset, prepare
from pyvidfast.opensora.info import compute_info

ray = pytest.importorskip("ray")


def test_ray_engine_matches_local(tmp_path: Path, real_dir: Path):
    table = make_sample_dataset(str(tmp_path / "sample"))
    real = sorted(
        str(p)
        for p in real_dir.glob("*/*")
        if p.suffix not in (".csv", ".md") and p.stat().st_size < 200_000
    )[:24]
    paths = [*dict.fromkeys(table["path"]), *real]
    local = check_files(paths, workers=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = check_files(paths, engine="ray")
        pd.testing.assert_frame_equal(on_ray, local)
        info_local = pd.DataFrame(compute_info(paths, num_workers=2, progress=False))
        info_ray = pd.DataFrame(compute_info(paths, engine="ray", progress=False))
        pd.testing.assert_frame_equal(info_ray, info_local)
        assert info_local["info_error"].notna().any() and info_local["info_error"].isna().any()
        assert not local["ok"].all() and local["ok"].any()
        data = pd.read_csv(tmp_path / "sample" / "dataset.csv")
        a = prepare(data, 1.2, engine="ray")
        b = prepare(data, 1.2, workers=2)
        pd.testing.assert_frame_equal(a.kept, b.kept)
        pd.testing.assert_frame_equal(a.rejected, b.rejected)
        big = str(real_dir / "androidx_media/mp4__portrait_4k60.mp4")
        slow = check_files([big], engine="ray", timeout=0.05)
        assert slow["error_kind"].tolist() == ["timeout"]
    finally:
        ray.shutdown()


def test_init_ray_passes_pyvidfast_settings_to_workers_on_other_nodes(monkeypatch):
    """--storage-options and the remote retry settings live in PYVIDFAST_* variables, which a
    worker on another node does not inherit: they go in the job's runtime_env."""
    ray = pytest.importorskip("ray")
    from pyvidfast.parallel import ray_loop

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setenv("PYVIDFAST_STORAGE_OPTIONS", '{"endpoint_url": "http://127.0.0.1:9"}')
    monkeypatch.setenv("UNRELATED_SETTING", "x")
    ray_loop.init_ray("127.0.0.1:6379")
    env = calls[0]["runtime_env"]["env_vars"]
    assert env["PYVIDFAST_STORAGE_OPTIONS"] == '{"endpoint_url": "http://127.0.0.1:9"}'
    assert "UNRELATED_SETTING" not in env and calls[0]["address"] == "127.0.0.1:6379"

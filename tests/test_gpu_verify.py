"""benchmarks/gpu_verify.sh, the one device script (issue 25), rehearsed on the CPU: every step
runs over the NVDEC stand-in and the kernel's host-only path and writes its JSON, so a typo, a
missing file or a wrong path fails here and not on the device."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["machine", "tests", "sweep", "kernel", "loader", "check"]


def test_dry_run_writes_every_step_and_the_summary(tmp_path: Path, real_dir: Path):
    env = {**os.environ, "OUT": str(tmp_path), "PYVIDFAST_TESTDATA": str(real_dir)}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks/gpu_verify.sh"), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = (
        (tmp_path / "gpu_verify.log").read_text() if (tmp_path / "gpu_verify.log").exists() else ""
    )
    assert done.returncode == 0, done.stdout + done.stderr + log[-3000:]
    names = sorted(p.name for p in tmp_path.iterdir())
    want = [f"step{i}_{s}.json" for i, s in enumerate(STEPS, 1)] + ["gpu_verify.log", "summary.txt"]
    assert names == sorted(want)  # 8 files: what one device call brings back
    for i, step in enumerate(STEPS, 1):
        record = json.loads((tmp_path / f"step{i}_{step}.json").read_text())
        assert record["rc"] == 0 and not record["timed_out"] and record["dry_run"], step
        if step == "tests":
            assert "tests collected" in record["summary"]
        else:
            assert record["results"], step  # the benchmark's JSON is inside the step's
    check = json.loads((tmp_path / "step6_check.json").read_text())["results"]
    assert check["bench_gpu_check_dry_run.json"]["verdicts_differ"] == []
    loader = json.loads((tmp_path / "step5_loader.json").read_text())["results"]
    assert loader["bench_gpu_dataset_dry_run.json"]["fallbacks"] == []
    assert len((tmp_path / "summary.txt").read_text().splitlines()) == 1 + len(STEPS)

"""pyvidfast demo: the README's main job runs end to end and every row ends as built."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyvidfast.cli import main


def test_demo_runs_and_explains(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default folder, ./pyvidfast-demo, is kept afterwards
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    printed = re.findall(r"-> (\S+)", out) + re.findall(r"rows in (\S+)", out)
    assert len(printed) == 3 and all(Path(p).exists() for p in printed), printed
    assert "Every row ended where it was built to end." in out
    for needle in (
        "dropped at noempty",
        "dropped at le1.2MB",
        "dropped at withouterror",
        "timestamps",
        "moov atom not found",
    ):
        assert needle in out
    if importlib.util.find_spec("pyvidfast.cogvideox.sft") is not None:
        assert "CogVideoX SFTDataset batch from the kept rows: mp4 (2, 5, 3, 48, 64)" in out
    kept = tmp_path / "pyvidfast-demo" / "dataset_info_noempty_le1.2MB_withouterror.csv"
    assert kept.exists() and len(kept.read_text().splitlines()) > 1


def test_demo_help_lists_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_the_default_outputs_are_ignored_by_git():
    """`pyvidfast demo` and `pyvidfast bench` run from the checkout leave their folders there."""
    from pyvidfast.curation.demo import DEFAULT_FOLDER

    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    names = [f"{DEFAULT_FOLDER}/sample/a.mp4", "pyvidfast-bench/bench.json"]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=root, capture_output=True, text=True
    )
    assert done.stdout.split() == names

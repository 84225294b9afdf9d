"""``check --device cuda`` on NVDEC: the CPU check's verdicts and frame counts (needs_cuda)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pyvidfast.curation import check, integrity

ROADTRIP = "androidx_media/vp9__roadtrip-vp92-10bit.webm"


@pytest.mark.needs_cuda
def test_gpu_check_equals_the_cpu_check_on_the_real_corpus(real_dir: Path):

    with open(real_dir / "FFMPEG_VERDICTS.csv") as f:
        files = sorted(r["file"] for r in csv.DictReader(f) if (real_dir / r["file"]).exists())
    assert len(files) >= 40
    paths = [str(real_dir / f) for f in files]
    gpu = check.check_files(paths, device="cuda", timeout=120)
    cpu = check.check_files(paths, timeout=120)
    differ = [f for f, g, c in zip(files, gpu["ok"], cpu["ok"]) if g != c]
    assert differ == []
    for f, ok, kind in zip(files, gpu["ok"], gpu["error_kind"]):
        assert ok == (kind == ""), f


@pytest.mark.needs_cuda
def test_gpu_check_decodes_every_frame(real_dir: Path):
    for name in (
        "torchcodec/nasa_13013.mp4",
        "vpf/test.mp4",
        "androidx_media/mp4__h265_bframes.mp4",
        ROADTRIP,
    ):
        want = integrity.check_file(str(real_dir / name))
        got = check.check_files([str(real_dir / name)], device="cuda").iloc[0]
        assert got["ok"] and got["decoded_frames"] == want["decoded_frames"] > 0, name

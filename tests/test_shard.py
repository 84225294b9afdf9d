"""`pyvidfast shard`: WebDataset tars from a folder or a CSV, bounded in size, failures listed."""

from __future__ import annotations

import csv
import shutil
import tarfile

import pytest
from media import make_clip

from pyvidfast.cli import main
from pyvidfast.cogvideox import VideoDataset


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard_src")
    (root / "videos").mkdir()
    (root / "labels").mkdir()
    for i, (n, fps) in enumerate([(40, 24), (60, 30), (30, 10), (50, 25)]):
        make_clip(root / "videos" / f"clip{i}.mp4", n, fps)
        (root / "labels" / f"clip{i}.txt").write_text(f"caption {i} é\n")
    (root / "videos" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 50)
    return root


def _members(tar_path):
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_shard_folder(sources, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["shard", str(sources), str(out), "--max-size", "12k"]) == 0
    printed = capsys.readouterr().out
    assert "broken.mp4" in printed and "wrote 4 videos" in printed
    shards = sorted(out.glob("shard-*.tar"))
    assert len(shards) >= 2  # 4 clips of several KB each do not fit in one 12 KB shard
    members = {}
    for shard in shards:
        content = _members(shard)
        n_samples = len({name.split(".")[0] for name in content})
        payload = sum(len(v) + 1024 for v in content.values())  # header + padding bound
        assert payload <= 12 * 1024 or n_samples == 1  # a sample alone may exceed the bound
        members.update(content)
    keys = sorted({name.split(".")[0] for name in members})
    assert len(keys) == 4
    with open(out / "samples.csv", newline="") as f:
        rows = {r["key"]: r for r in csv.DictReader(f)}
    for key in keys:
        src = rows[key]["path"]
        assert members[f"{key}.mp4"] == open(src, "rb").read()  # bytes copied, not re-encoded
        i = src.rsplit("clip", 1)[1][0]
        assert members[f"{key}.caption"].decode() == f"caption {i} é"
        fps = float(members[f"{key}.fps"])
        duration = float(members[f"{key}.duration"])
        n = {"0": 40, "1": 60, "2": 30, "3": 50}[i]
        assert fps == {"0": 24, "1": 30, "2": 10, "3": 25}[i]
        assert duration == pytest.approx(n / fps, abs=1e-3)
    with open(out / "failed.csv", newline="") as f:
        failed = list(csv.DictReader(f))
    assert [r["path"].endswith("broken.mp4") for r in failed] == [True]
    assert failed[0]["reason"]


def test_shard_csv_and_read_back(sources, tmp_path):
    csv_path = tmp_path / "list.csv"
    shutil.copy(sources / "videos" / "clip1.mp4", tmp_path / "rel.mp4")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "text"])
        w.writerow(["rel.mp4", "relative, with comma"])
        w.writerow([str(sources / "videos" / "clip3.mp4"), "absolute"])
        w.writerow([str(tmp_path / "nope.mp4"), "missing"])
    out = tmp_path / "out"
    assert main(["shard", str(csv_path), str(out), "--prefix", "cv", "--max-count", "1"]) == 0
    assert sorted(p.name for p in out.glob("*.tar")) == ["cv-000000.tar", "cv-000001.tar"]
    with open(out / "failed.csv", newline="") as f:
        assert [r["path"] for r in csv.DictReader(f)] == [str(tmp_path / "nope.mp4")]
    ds = VideoDataset(str(out / "cv-{000000..000001}.tar"), [48, 64], 16, 8, nshards=4)
    texts = {item["txt"] for item in ds}
    assert texts <= {"relative, with comma", "absolute"} and texts


def test_shard_help_and_bad_source(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["shard", "--help"])
    assert info.value.code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("file,caption\nx.mp4,y\n")
    with pytest.raises(ValueError, match="path"):
        main(["shard", str(bad), str(tmp_path / "o")])


def test_tar_members_are_plain_files(sources, tmp_path):
    out = tmp_path / "o"
    main(["shard", str(sources), str(out)])
    with tarfile.open(next(out.glob("*.tar"))) as tar:
        for m in tar.getmembers():
            assert m.isreg() and "/" not in m.name and m.name.count(".") == 1
            assert m.name.rsplit(".", 1)[1] in {"mp4", "caption", "duration", "fps"}

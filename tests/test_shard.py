"""`pyvidfast shard`: WebDataset tars from a folder or a CSV, bounded in size, failures listed;
the output folder owned by the run, bad sources refused, clips too short for the sampler left out."""

from __future__ import annotations

import csv
import shutil
import tarfile

import pytest
from media import make_clip

from pyvidfast.cli import main
from pyvidfast.cogvideox import VideoDataset
from pyvidfast.cogvideox.shard import ClipNumbers, SamplerRule, clip_numbers
from pyvidfast.sampling import SamplingError


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
    assert "shortest clip: 1.667s" in printed  # 40 frames at 24 fps, reported without a rule
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


def test_shard_csv_and_read_back(sources, tmp_path, monkeypatch):
    """Relative paths are taken from the working directory, as `check` and `prepare` take
    them, not from the CSV's folder."""
    (tmp_path / "lists").mkdir()
    csv_path = tmp_path / "lists" / "list.csv"
    shutil.copy(sources / "videos" / "clip1.mp4", tmp_path / "rel.mp4")
    shutil.copy(sources / "videos" / "clip0.mp4", tmp_path / "lists" / "rel.mp4")  # not this one
    monkeypatch.chdir(tmp_path)
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
    with open(out / "samples.csv", newline="") as f:
        assert [r["path"] for r in csv.DictReader(f)][0] == "rel.mp4"
    with tarfile.open(out / "cv-000000.tar") as tar:
        data = tar.extractfile("000000000.mp4").read()
    assert data == (tmp_path / "rel.mp4").read_bytes()
    ds = VideoDataset(str(out / "cv-{000000..000001}.tar"), [48, 64], 16, 8, nshards=4)
    texts = {item["txt"] for item in ds}
    assert texts <= {"relative, with comma", "absolute"} and texts


def test_shard_help():
    with pytest.raises(SystemExit) as info:
        main(["shard", "--help"])
    assert info.value.code == 0


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such file"),
        ("bad.csv", "file,caption\nx.mp4,y\n", "'path' column"),
        ("header.csv", "path,text\n", "no rows"),
        ("zero.csv", "", "'path' column"),
        ("binary.csv", b"\xff\xfe\x00\x81garbage\x00\n\x00", "not a readable"),
        ("quotes.csv", 'path,text\n"a.mp4,unclosed\n', "not a readable"),
        ("blank.csv", "path,text\n,caption\n", "empty path"),
        ("empty_dir", "dir", "no *.mp4"),
    ],
)
def test_shard_bad_source_is_one_line_and_no_folder(tmp_path, capsys, name, content, message):
    src = tmp_path / name
    if content == "dir":
        src.mkdir()
    elif isinstance(content, bytes):
        src.write_bytes(content)
    elif content is not None:
        src.write_text(content)
    out = tmp_path / "out"
    assert main(["shard", str(src), str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"shard: {src}") and message in err[0]
    assert not out.exists()


def test_shard_nothing_readable_fails(tmp_path, capsys):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"not a video")
    assert main(["shard", str(tmp_path / "v"), str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "wrote 0 videos" in captured.out and "no video" in captured.err
    with open(tmp_path / "out" / "failed.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 1


def _tars(folder):
    return sorted(p.name for p in folder.glob("*.tar"))


def test_shard_rerun_refused_then_overwrite_clears_old_shards(sources, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["shard", str(sources), str(out), "--max-count", "1"]) == 0
    assert len(_tars(out)) == 4
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["shard", str(sources), str(out), "--max-count", "2"]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched
    assert main(["shard", str(sources), str(out), "--max-count", "2", "--overwrite"]) == 0
    assert _tars(out) == ["shard-000000.tar", "shard-000001.tar"]  # no stale 000002, 000003
    ds = VideoDataset(";" + str(out), [24, 32], 9, 8, nshards=8)
    keys = {item["txt"] for item in ds}
    assert keys <= {f"caption {i} é" for i in range(4)} and keys


def test_shard_overwrite_keeps_files_it_did_not_write(sources, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "old.tar").write_bytes(b"x")
    assert main(["shard", str(sources), str(out), "--overwrite"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "old.tar"]
    (tmp_path / "file").write_text("x")
    assert main(["shard", str(sources), str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_shard_leaves_out_clips_too_short_for_the_sampler(sources, tmp_path, capsys):
    """16 frames at 8 fps need 2 s: the 1.67 s clip is left out with the reason, and
    VideoDataset with the same settings then finds a sample in every shard."""
    out = tmp_path / "out"
    args = ["shard", str(sources), str(out), "--num-frames", "16", "--fps", "8", "--max-count", "1"]
    assert main(args) == 0
    assert "wrote 3 videos" in capsys.readouterr().out
    with open(out / "failed.csv", newline="") as f:
        failed = {r["path"].rsplit("/", 1)[1]: r["reason"] for r in csv.DictReader(f)}
    assert set(failed) == {"broken.mp4", "clip0.mp4"}
    assert (
        "too short for VideoDataset(num_frames=16, fps=8, skip_frms_num=0)" in failed["clip0.mp4"]
    )
    for shard in sorted(out.glob("*.tar")):
        ds = VideoDataset(str(shard), [24, 32], 16, 8, nshards=1)
        assert len(list(ds)) == 1
    assert main(["shard", str(sources), str(tmp_path / "o2"), "--num-frames", "16"]) == 2


@pytest.mark.parametrize("duration", [1.9, 1.99, 2.0, 2.05, 2.5])
@pytest.mark.parametrize("skip", [0, 1, 2.5])
def test_sampler_rule_is_videodataset_rule(duration, skip):
    """SamplerRule refuses exactly the clips VideoDataset's index rule cannot sample."""
    from pyvidfast.sampling import video_dataset_indices

    clip = ClipNumbers(duration, 30.0, int(duration * 30))
    rule = SamplerRule(16, 8, skip)
    try:
        video_dataset_indices(clip.duration, clip.fps, clip.frame_count, 16, 8, skip)
        usable = True
    except SamplingError:
        usable = False
    if usable:
        rule.check(clip)
    else:
        with pytest.raises(SamplingError):
            rule.check(clip)


def test_clip_numbers(sources):
    clip = clip_numbers(str(sources / "videos" / "clip2.mp4"))
    assert clip == ClipNumbers(pytest.approx(3.0, abs=1e-3), 10.0, 30)


def test_tar_members_are_plain_files(sources, tmp_path):
    out = tmp_path / "o"
    main(["shard", str(sources), str(out)])
    with tarfile.open(next(out.glob("*.tar"))) as tar:
        for m in tar.getmembers():
            assert m.isreg() and "/" not in m.name and m.name.count(".") == 1
            assert m.name.rsplit(".", 1)[1] in {"mp4", "caption", "duration", "fps"}

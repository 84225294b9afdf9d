"""SFTDataset / VideoDataset: exact frames, sample dicts, typed errors, DataLoader workers."""

from __future__ import annotations

import logging
import os
import random
import shutil
from fractions import Fraction

import numpy as np
import pytest
import torch
from media import frame_number, make_clip
from test_sampling import reference_sft

from pyvidfast.cogvideox import SFTDataset, VideoDataset, webvideo
from pyvidfast.cogvideox.shard import ShardWriter, write_shards
from pyvidfast.cogvideox.skips import NoUsableSampleError, SkipLog
from pyvidfast.io.errors import VideoOpenError, VideoReadError, VideoTooShortError
from pyvidfast.io.reader import VideoReader
from pyvidfast.sampling import sft_indices, video_dataset_indices

W, H = 64, 48
# (name, fps, frames): with f=8, M=49, skip=3 these hit every SFTDataset branch
SFT_CLIPS = [
    ("long_24", 24, 160),  # long, step 3
    ("long_30", 30, 200),  # long, 61 candidates -> first 49
    ("long_60", 60, 340),  # long, step 7
    ("long_2997", Fraction(30000, 1001), 190),
    ("long_8", 8, 50),  # long with A == f: indices past the end (reference crash 2)
    ("long_5", 5, 40),  # long with A < f: step 0 (reference crash 1)
    ("medium_25", 25, 120),  # medium, step 1
    ("medium_30", 30, 150),  # medium, step 2
    ("medium_10", 10, 60),
    ("short_24", 24, 48),  # short: 41 frames + padding
    ("short_30", 30, 21),  # short: n=15 -> 13
]


@pytest.fixture(scope="session")
def sft_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    (root / "videos").mkdir()
    (root / "labels").mkdir()
    for name, fps, n in SFT_CLIPS:
        make_clip(root / "videos" / f"{name}.mp4", n, fps, options={"bf": "3", "g": "16"})
        (root / "labels" / f"{name}.txt").write_text(f"caption of {name}\nsecond line\n")
    return root


def _item_numbers(mp4: torch.Tensor) -> list[int]:
    return [frame_number(f) for f in mp4.float().numpy()]


def _by_name(dataset: SFTDataset) -> dict[str, int]:
    return {os.path.basename(p)[:-4]: i for i, p in enumerate(dataset.video_paths)}


def test_sft_exact_frames_every_branch(sft_dir):
    # video_size equal to the clip size: the resize passes frames through, so the frame
    # numbers can be read back from the normalised output.
    ds = SFTDataset(str(sft_dir), video_size=[H, W], fps=8, max_num_frames=49, skip_frms_num=3)
    assert len(ds) == len(SFT_CLIPS)
    index = _by_name(ds)
    for name, fps, n in SFT_CLIPS:
        item = ds[index[name]]
        assert set(item) == {"mp4", "txt", "num_frames", "fps"}
        assert item["mp4"].shape == (49, 3, H, W) and item["mp4"].dtype == torch.float32
        assert float(item["mp4"].min()) >= -1 and float(item["mp4"].max()) <= 1
        assert item["txt"] == f"caption of {name}" and item["fps"] == 8
        idx, num = sft_indices(n, float(fps), 8, 49, 3)
        assert _item_numbers(item["mp4"]) == idx, name
        assert item["num_frames"] == num
        try:
            assert (idx, num) == reference_sft(n, float(fps), 8, 49, 3), name
        except (IndexError, ZeroDivisionError):
            assert name in ("long_8", "long_5")  # the two documented reference crashes


def test_sft_worked_cases_on_real_decoding(sft_dir):
    ds = SFTDataset(str(sft_dir), video_size=[H, W], fps=8, max_num_frames=49, skip_frms_num=3)
    index = _by_name(ds)
    assert _item_numbers(ds[index["long_24"]]["mp4"]) == list(range(3, 148, 3))
    assert _item_numbers(ds[index["medium_30"]]["mp4"]) == list(range(3, 100, 2))
    short = ds[index["short_24"]]
    assert _item_numbers(short["mp4"]) == list(range(3, 44)) + [43] * 8
    assert short["num_frames"] == 41


def test_sft_pixels_equal_reference_pipeline(sft_dir):
    """Resize + crop + normalise of the decoded frames, as the reference does it."""
    ds = SFTDataset(str(sft_dir), video_size=[30, 36], fps=8, max_num_frames=13, skip_frms_num=3)
    i = _by_name(ds)["medium_25"]
    item = ds[i]
    idx, _ = sft_indices(120, 25.0, 8, 13, 3)
    with VideoReader(ds.video_paths[i]) as vr:
        frames = vr.get_batch(idx).permute(0, 3, 1, 2)  # reference: pad, permute, resize
    # 64x48 -> target 30x36: 64/48 > 36/30, so height 30, width int(64*30/48) = 40, left 2
    resized = torch.nn.functional.interpolate(
        frames.float(), size=(30, 40), mode="bicubic", align_corners=False, antialias=True
    )  # torchvision's uint8 path: float32, clamp, round half to even, back to uint8
    resized = resized.clamp(0, 255).round().to(torch.uint8)[:, :, 0:30, 2:38]
    expected = (resized.float() - 127.5) / 127.5
    assert item["mp4"].shape == (13, 3, 30, 36)
    assert (item["mp4"] - expected).abs().max() <= 1 / 127.5 + 1e-6


def test_sft_dtype_layout_and_create_dataset_function(sft_dir):
    ds = SFTDataset.create_dataset_function(
        str(sft_dir),
        None,
        video_size=[H, W],
        fps=8,
        max_num_frames=49,
        skip_frms_num=3.0,
        out_dtype=torch.bfloat16,
        layout="CTHW",
    )
    i = _by_name(ds)["short_30"]
    item = ds[i]
    assert item["mp4"].dtype == torch.bfloat16 and item["mp4"].shape == (3, 49, H, W)
    assert item["num_frames"] == 13
    ref = SFTDataset(str(sft_dir), [H, W], 8, 49, 3)[i]["mp4"]
    assert torch.equal(item["mp4"].permute(1, 0, 2, 3), ref.to(torch.bfloat16))
    with pytest.raises(ValueError):
        SFTDataset(str(sft_dir), [H, W], 8, 49, out_dtype=torch.int32)


def test_sft_captions_follow_the_reference_rules(tmp_path):
    root = tmp_path / "my_videos"  # "videos" anywhere in the path becomes "labels"
    (root / "videos" / "sub").mkdir(parents=True)
    (tmp_path / "my_labels" / "labels" / "sub").mkdir(parents=True)
    for name in ("a", "b", "c"):
        make_clip(root / "videos" / "sub" / f"{name}.mp4", 12, 24)
    make_clip(root / "videos" / "sub" / "upper.MP4", 12, 24)  # not indexed: case-sensitive
    labels = tmp_path / "my_labels" / "labels" / "sub"
    (labels / "a.txt").write_text("  spaced caption  \nline 2")
    (labels / "b.txt").write_text("")  # the reference raises IndexError here
    ds = SFTDataset(str(root), [H, W], 8, 9)
    captions = {os.path.basename(p): c for p, c in zip(ds.video_paths, ds.captions)}
    assert captions == {"a.mp4": "  spaced caption  ", "b.mp4": "", "c.mp4": ""}
    (labels / "c.txt").write_bytes(b"\xff\xfe latin-1 \xe9")
    with pytest.raises(ValueError, match="c.txt"):
        SFTDataset(str(root), [H, W], 8, 9)


def test_sft_bad_files_raise_typed_errors_naming_them(tmp_path, real_dir):
    root = tmp_path / "bad"
    root.mkdir()
    make_clip(root / "tiny.mp4", 6, 24)  # 6 frames, skip 3 at each end: nothing left
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("hello")
    shutil.copy(real_dir / "androidx_media" / "mp4__sample_malformed_free_box.mp4", root / "m.mp4")
    ds = SFTDataset(str(root), [H, W], 8, 49)
    expected = {
        "tiny.mp4": VideoTooShortError,
        "empty.mp4": VideoOpenError,
        "text.mp4": VideoOpenError,
        "m.mp4": VideoOpenError,
    }
    for i, path in enumerate(ds.video_paths):
        with pytest.raises(expected[os.path.basename(path)]) as info:
            ds[i]
        assert path in str(info.value)


def test_sft_corrupted_clip_gets_indices_for_the_frames_that_decode(tmp_path, real_dir):
    # decord/corrupted.mp4: 50 packets, 49 frames decode. The container's count is used first,
    # then the indices are chosen again for the 49 frames that exist.
    (tmp_path / "c").mkdir()
    shutil.copy(real_dir / "decord" / "corrupted.mp4", tmp_path / "c" / "corrupted.mp4")
    ds = SFTDataset(str(tmp_path / "c"), [48, 64], fps=8, max_num_frames=49, skip_frms_num=3)
    item = ds[0]
    idx, num = sft_indices(49, 10.0, 8, 49, 3)
    with VideoReader(ds.video_paths[0]) as vr:
        assert len(vr) == 50
        vr.get_batch(range(49))  # decoding past the broken packet finds the missing frame
        assert len(vr) == 50 and vr.num_decodable == 49  # len() stays as settled on open
        expected = vr.get_batch_resized(idx, (48, 64))
    assert item["num_frames"] == num
    assert torch.equal(item["mp4"], expected)


class _Checked(torch.utils.data.Dataset):
    """Wraps SFTDataset: a typed error becomes a value; anything else fails the test."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        try:
            item = self.ds[i]
        except VideoReadError as exc:
            assert self.ds.video_paths[i] in str(exc)
            return {"path": self.ds.video_paths[i], "error": type(exc).__name__, "shape": ()}
        return {"path": self.ds.video_paths[i], "error": "", "shape": tuple(item["mp4"].shape)}


def test_every_real_clip_in_dataloader_workers(real_dir, tmp_path):
    """Each real clip, renamed .mp4, through SFTDataset in 2 workers: a sample or a typed error,
    no crashed worker, no hang (the DataLoader timeout fails the test)."""
    root = tmp_path / "real"
    root.mkdir()
    for path in sorted(real_dir.rglob("*")):
        if path.is_file() and path.suffix not in (".csv", ".md"):
            os.symlink(path, root / (path.parent.name + "__" + path.name + ".mp4"))
    ds = SFTDataset(str(root), video_size=[24, 32], fps=8, max_num_frames=9, skip_frms_num=1)
    loader = torch.utils.data.DataLoader(_Checked(ds), batch_size=None, num_workers=2, timeout=300)
    results = list(loader)
    assert len(results) == len(ds) >= 80
    ok = [r for r in results if not r["error"]]
    assert len(ok) >= 65
    assert all(tuple(r["shape"]) == (9, 3, 24, 32) for r in ok), ok


def test_sft_in_dataloader_with_default_collate(sft_dir):
    ds = SFTDataset(str(sft_dir), [H, W], 8, 49, out_dtype="float16")
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    batches = list(loader)
    batch = batches[0]
    assert batch["mp4"].shape == (2, 49, 3, H, W) and batch["mp4"].dtype == torch.float16
    assert batch["fps"].dtype == torch.int64 and isinstance(batch["txt"], list)
    assert sum(len(b["txt"]) for b in batches) == len(SFT_CLIPS)


# ---- VideoDataset ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shard_dir(sft_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    sources = [(str(sft_dir / "videos" / f"{n}.mp4"), f"cap {n}") for n, _, _ in SFT_CLIPS]
    sources.append((str(out / "missing.mp4"), "gone"))
    result = write_shards(sources, str(out / "set"), max_count=4)
    assert len(result.shards) == 3 and [p for p, _ in result.failed] == [str(out / "missing.mp4")]
    out = out / "set"
    return out


def test_video_dataset_exact_frames(shard_dir):
    ds = VideoDataset(
        str(shard_dir / "shard-{000000..000002}.tar"),
        image_size=[H, W],
        num_frames=16,
        fps=8,
        skip_frms_num=2,
        shuffle_buffer=1,
        nshards=3,
    )
    assert len(ds.urls) == 3
    random.seed(77)
    items = [(item["txt"], _item_numbers(item["mp4"]), item) for item in ds]
    assert items, "no samples"
    for txt, numbers, item in items:
        assert item["mp4"].shape == (16, 3, H, W) and item["num_frames"] == 16
        n, fps = next((n, f) for nm, f, n in SFT_CLIPS if f"cap {nm}" == txt)
        # 16 frames at 8 fps: a float step of fps/8 source frames, truncated
        assert len(numbers) == 16 and numbers == sorted(numbers) and numbers[-1] < n
        assert numbers[0] >= 2
        assert abs((numbers[-1] - numbers[0]) / 15 - float(fps) / 8) <= 1
    # replay: the same global random state gives the same starts, the same samples
    random.seed(77)
    ds2 = VideoDataset(
        str(shard_dir / "shard-{000000..000002}.tar"), [H, W], 16, 8, 2, shuffle_buffer=1, nshards=3
    )
    assert [(item["txt"], _item_numbers(item["mp4"])) for item in ds2] == [
        (txt, numbers) for txt, numbers, _ in items
    ]


def test_video_dataset_matches_index_rule_with_known_rng(shard_dir):
    ds = VideoDataset(str(shard_dir / "shard-000000.tar"), [H, W], 16, 8, 0, shuffle_buffer=1)
    sample = next(iter(_raw(ds)))
    state = random.getstate()
    item = ds.process(sample)
    random.setstate(state)
    with VideoReader(sample["mp4"]) as vr:
        idx = video_dataset_indices(
            float(sample["duration"]), float(sample["fps"]), len(vr), 16, 8, 0
        )
    assert _item_numbers(item["mp4"]) == idx


def _raw(ds):
    from pyvidfast.cogvideox.webvideo import tar_samples

    for url in ds.urls:
        yield from tar_samples(url)


def test_video_dataset_skips_bad_samples_with_a_reason(tmp_path, sft_dir, caplog):
    from pyvidfast.cogvideox.shard import ShardWriter

    w = ShardWriter(str(tmp_path), max_count=100)
    good = (sft_dir / "videos" / "long_24.mp4").read_bytes()
    w.write("a", {"mp4": b"garbage", "caption": b"bad video", "duration": b"9", "fps": b"24"})
    w.write("b", {"mp4": good, "caption": b"no fps", "duration": b"6.6"})
    w.write("c", {"caption": b"no video", "duration": b"6", "fps": b"24"})
    w.write("d", {"mp4": good, "caption": b"too short", "duration": b"0.5", "fps": b"24"})
    w.write("e", {"mp4": good, "caption": "grüße".encode(), "duration": b"6.66", "fps": b"24"})
    w.close()
    ds = VideoDataset(str(tmp_path / "shard-000000.tar"), [H, W], 16, 8, nshards=1)
    with caplog.at_level(logging.WARNING, logger="pyvidfast.cogvideox"):
        items = list(ds)
    assert [i["txt"] for i in items] == ["grüße"]
    text = caplog.text
    assert "no fps" in text and "no video data" in text and "too short" in text
    assert "VideoOpenError" in text


def test_video_dataset_meta_file_and_include_dirs(tmp_path, sft_dir):
    from pyvidfast.cogvideox.shard import ShardWriter

    folder = tmp_path / "set1"
    w = ShardWriter(str(folder), prefix="part", max_count=100)
    video = (sft_dir / "videos" / "medium_25.mp4").read_bytes()
    w.write("k1", {"mp4": video, "caption": b"meta sample", "id": b"k1"})
    w.close()
    (folder / "part-000000.meta.jsonl").write_text(
        '{"key": "k1", "duration": 4.8, "fps": 25}\nnot json\n'
    )
    ds = VideoDataset(
        ";" + str(folder) + "*2",
        [H, W],
        16,
        8,
        meta_names=["duration", "fps"],
        nshards=1,
    )
    assert ds.urls == [str(folder / "part-000000.tar")] * 2
    items = list(ds)
    assert len(items) == 1 and items[0]["txt"] == "meta sample"
    no_meta = VideoDataset(str(folder / "part-000000.tar"), [H, W], 16, 8, nshards=1)
    with pytest.raises(NoUsableSampleError, match="no duration: 1"):
        list(no_meta)  # without meta_names there is no duration: skipped, and nothing else


def test_video_dataset_workers_and_create_dataset_function(shard_dir):
    ds = VideoDataset.create_dataset_function(
        str(shard_dir / "shard-{000000..000002}.tar"),
        None,
        image_size=[H, W],
        num_frames=9,
        fps=8,
        skip_frms_num=1.0,
        nshards=2,
        shuffle_buffer=4,
        out_dtype=torch.bfloat16,
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, timeout=120)
    batches = list(loader)
    total = sum(b["mp4"].shape[0] for b in batches)
    assert total >= 4
    assert batches[0]["mp4"].dtype == torch.bfloat16
    assert batches[0]["mp4"].shape[1:] == (9, 3, H, W)


def test_brace_expansion():
    from pyvidfast.cogvideox.webvideo import expand_shard_urls

    assert expand_shard_urls("a-{00..02}.tar") == ["a-00.tar", "a-01.tar", "a-02.tar"]
    assert expand_shard_urls("{x,y}/s{1..2}.tar::z.tar") == [
        "x/s1.tar",
        "x/s2.tar",
        "y/s1.tar",
        "y/s2.tar",
        "z.tar",
    ]


def test_resampling_is_seeded_per_worker(shard_dir):
    ds = VideoDataset(str(shard_dir / "shard-{000000..000002}.tar"), [H, W], 9, 8, nshards=20)
    a = list(ds.shards())
    ds._epoch = 0
    assert list(ds.shards()) == a
    assert len(set(a)) > 1
    other = VideoDataset(
        str(shard_dir / "shard-{000000..000002}.tar"), [H, W], 9, 8, nshards=20, seed=2
    )
    assert list(other.shards()) != a
    assert np.all([u.endswith(".tar") for u in a])


def test_sft_rotated_clip_is_turned_upright_as_decord(real_dir, tmp_path, caplog):
    # video_90.mov: stored 568x320, shown (and read by decord) as 320x568 portrait
    (tmp_path / "r").mkdir()
    shutil.copy(real_dir / "decord" / "video_90.mov", tmp_path / "r" / "rot.mp4")
    ds = SFTDataset(str(tmp_path / "r"), [56, 32], fps=8, max_num_frames=1, skip_frms_num=0)
    with caplog.at_level(logging.WARNING, logger="pyvidfast.cogvideox"):
        item = ds[0]
    assert item["mp4"].shape == (1, 3, 56, 32)
    assert "rotation" not in caplog.text
    with VideoReader(ds.video_paths[0]) as vr:
        assert vr.frame_shape == (568, 320, 3)
        assert torch.equal(item["mp4"], vr.get_batch_resized([0], (56, 32)))


def test_errors_stay_typed_across_dataloader_workers(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "broken.mp4").write_bytes(b"\x00" * 64)
    ds = SFTDataset(str(tmp_path / "w"), [H, W], 8, 9)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=1, timeout=60)
    with pytest.raises(VideoOpenError) as info:
        next(iter(loader))
    assert "broken.mp4" in str(info.value)


def test_video_dataset_decode_timeout_skips(shard_dir, caplog, stalled_fifo, monkeypatch):
    # Every decode blocks until the test ends (tests/hang.py): each sample must time out.
    monkeypatch.setattr(webvideo, "open_and_load", lambda *args, **kwargs: stalled_fifo.wait())
    ds = VideoDataset(
        str(shard_dir / "shard-000000.tar"), [H, W], 16, 8, nshards=1, decode_timeout=1e-4
    )
    with caplog.at_level(logging.WARNING, logger="pyvidfast.cogvideox"):
        with pytest.raises(NoUsableSampleError, match="decode timeout: 4"):
            list(ds)
    assert "decoding took more than" in caplog.text


def _short_shards(folder, sft_dir, shards=2, per_shard=25):
    video = (sft_dir / "videos" / "short_30.mp4").read_bytes()  # 21 frames at 30 fps: 0.7 s
    for i in range(shards):
        w = ShardWriter(str(folder), prefix=f"s{i}", max_count=1000)
        for k in range(per_shard):
            w.write(f"k{k}", {"mp4": video, "caption": b"short", "duration": b"0.7", "fps": b"30"})
        w.close()


def test_video_dataset_all_too_short_raises_instead_of_hanging(tmp_path, sft_dir, caplog):
    """Every clip shorter than num_frames / fps: the reference resamples shards forever. Here
    the first full pass raises, the log holds 20 skip lines and one note, not one per sample."""
    _short_shards(tmp_path, sft_dir)
    ds = VideoDataset(str(tmp_path / "s{0..1}-000000.tar"), [H, W], 16, 8)  # endless resampling
    with caplog.at_level(logging.WARNING, logger="pyvidfast.cogvideox"):
        with pytest.raises(NoUsableSampleError, match=r"too short: \d+.*at least 2s") as info:
            next(iter(ds))
    skipped = int(str(info.value).split("too short: ")[1].split(")")[0])
    assert skipped >= 50  # both shards read through before giving up
    assert len(caplog.records) == 21 and "summarised" in caplog.records[-1].getMessage()


def test_video_dataset_empty_shards_raise(tmp_path):
    w = ShardWriter(str(tmp_path), max_count=10)
    w.write("x", {"caption": b"no video"})
    w.close()
    with open(tmp_path / "empty.tar", "wb") as f:
        f.write(b"\0" * 1024)  # a valid tar with no members
    ds = VideoDataset(str(tmp_path / "empty.tar"), [H, W], 16, 8)
    with pytest.raises(NoUsableSampleError, match="hold no samples"):
        next(iter(ds))
    both = VideoDataset(str(tmp_path / "{empty,shard-000000}.tar"), [H, W], 16, 8)
    with pytest.raises(NoUsableSampleError, match="no video: "):
        next(iter(both))
    (tmp_path / "garbage.tar").write_bytes(b"not a tar file" * 100)
    broken = VideoDataset(str(tmp_path / "garbage.tar"), [H, W], 16, 8)
    with pytest.raises(NoUsableSampleError, match="unreadable shard: "):
        next(iter(broken))


def test_video_dataset_one_usable_sample_keeps_coming(tmp_path, sft_dir):
    _short_shards(tmp_path, sft_dir, shards=1, per_shard=5)
    w = ShardWriter(str(tmp_path), prefix="good", max_count=10)
    good = (sft_dir / "videos" / "long_24.mp4").read_bytes()
    w.write("g", {"mp4": good, "caption": b"good", "duration": b"6.6", "fps": b"24"})
    w.close()
    ds = VideoDataset(str(tmp_path / "{s0,good}-000000.tar"), [H, W], 16, 8, shuffle_buffer=1)
    items = iter(ds)
    assert [next(items)["txt"] for _ in range(3)] == ["good"] * 3


def test_skip_log_rate_limits():
    logger = logging.getLogger("test_skip_log")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        skips = SkipLog(logger, first=3, every=10)
        for i in range(35):
            skips.skipped(f"k{i}", "too short" if i % 5 else "no fps", f"reason {i}")
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert lines[:3] == [f"skipping k{i}: reason {i}" for i in range(3)]
    assert "summarised every 10" in lines[3]
    assert lines[4:] == [
        "skipped 10 samples so far (too short: 8, no fps: 2)",
        "skipped 20 samples so far (too short: 16, no fps: 4)",
        "skipped 30 samples so far (too short: 24, no fps: 6)",
    ]


def test_video_dataset_unknown_argument_raises(shard_dir):
    url = str(shard_dir / "shard-000000.tar")
    with pytest.raises(TypeError, match="video_size"):
        VideoDataset(url, [H, W], 16, 8, video_size=[H, W])
    with pytest.raises(TypeError):
        VideoDataset.create_dataset_function(url, None, image_size=[H, W], num_frames=9, fps=8, x=1)
    assert VideoDataset(url, [H, W], 16, 8, device="cpu").device == torch.device("cpu")
    with pytest.raises(ValueError, match="fps"):
        VideoDataset(url, [H, W], 16, 0)

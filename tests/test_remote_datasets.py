"""SFTDataset from an S3 prefix and VideoDataset from HTTP shard URLs (servers on 127.0.0.1):
the local folder's samples, through DataLoader workers, and under dropped connections."""

from __future__ import annotations

import logging
import random

import pytest
import torch
from fault_server import FaultServer, MotoS3
from media import frame_number, make_clip

from pyvidfast.cogvideox import SFTDataset, VideoDataset
from pyvidfast.cogvideox.shard import write_shards

W, H = 64, 48
CLIPS = [("a", 24, 60), ("b", 30, 45), ("c", 8, 30), ("d", 25, 50)]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setenv("PYVIDFAST_REMOTE_BACKOFF", "0.01")
    monkeypatch.setenv("PYVIDFAST_REMOTE_TIMEOUT", "1")
    monkeypatch.delenv("PYVIDFAST_STORAGE_OPTIONS", raising=False)


@pytest.fixture(scope="module")
def sft_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote_sft") / "sft"
    (root / "videos").mkdir(parents=True)
    (root / "labels").mkdir()
    for name, fps, n in CLIPS:
        make_clip(root / "videos" / f"{name}.mp4", n, fps, options={"bf": "2", "g": "12"})
        if name != "d":  # d has no caption file: an empty caption, as locally
            (root / "labels" / f"{name}.txt").write_text(f"caption {name}\nsecond line\n")
    return root


def _numbers(mp4: torch.Tensor) -> list[int]:
    return [frame_number(f) for f in mp4.float().numpy()]


def _items(dataset: SFTDataset) -> dict[str, tuple]:
    return {
        p.rsplit("/", 1)[1]: (item["txt"], item["num_frames"], _numbers(item["mp4"]))
        for p, item in zip(dataset.video_paths, dataset)
    }


def test_sft_dataset_from_s3_equals_the_local_folder(sft_folder):
    args = ([H, W], 8, 9, 1)
    local = SFTDataset(sft_folder, *args)
    with MotoS3() as s3:
        files = {str(p.relative_to(sft_folder.parent)): str(p) for p in sft_folder.rglob("*.*")}
        s3.upload("sft", files)
        remote = SFTDataset("s3://sft/sft", *args)
        assert remote.video_paths == sorted(f"s3://sft/sft/videos/{n}.mp4" for n, _, _ in CLIPS)
        expected = _items(local)
        assert _items(remote) == expected and expected["d.mp4"][0] == ""
        # DataLoader workers (forked) open their own connections
        loader = torch.utils.data.DataLoader(remote, batch_size=None, num_workers=2)
        got = {
            p.rsplit("/", 1)[1]: _numbers(item["mp4"])
            for p, item in zip(remote.video_paths, loader)
        }
        assert got == {name: numbers for name, (_, _, numbers) in expected.items()}
        with pytest.raises(FileNotFoundError, match="s3://sft/nothing"):
            SFTDataset("s3://sft/nothing", *args)
        # VideoDataset's include-dirs (";dir") list a bucket prefix as a folder
        sources = [(str(sft_folder / "videos" / f"{n}.mp4"), f"cap {n}") for n, _, _ in CLIPS]
        shards = sft_folder.parent / "shards"
        write_shards(sources, str(shards), max_count=2)
        s3.upload("wds", {f"set/{p.name}": str(p) for p in shards.glob("*.tar")})
        remote_ds = VideoDataset(";s3://wds/set", [H, W], 8, 8, 0, nshards=4)
        local_ds = VideoDataset(f";{shards}", [H, W], 8, 8, 0, nshards=4)
        assert remote_ds.urls == [f"s3://wds/set/{p.name}" for p in sorted(shards.glob("*.tar"))]
        assert sorted(u.rsplit("/", 1)[1] for u in local_ds.urls) == [
            u.rsplit("/", 1)[1] for u in remote_ds.urls
        ]
        seen = {s["txt"] for s in remote_ds}
        assert seen and seen <= {f"cap {n}" for n, _, _ in CLIPS}


def _samples(path: str) -> list[tuple]:
    random.seed(3)
    ds = VideoDataset(path, [H, W], 8, 8, 0, shuffle_buffer=1, nshards=6)
    return [(item["txt"], _numbers(item["mp4"])) for item in ds]


def _loaded(path: str) -> list[tuple]:
    torch.manual_seed(0)  # the workers' random state, hence their samples
    ds = VideoDataset(path, [H, W], 8, 8, 0, shuffle_buffer=1, nshards=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    return [(item["txt"], _numbers(item["mp4"])) for item in loader]


def test_video_dataset_streams_http_shards_through_dropped_connections(
    sft_folder, tmp_path, caplog
):
    sources = [(str(sft_folder / "videos" / f"{n}.mp4"), f"cap {n}") for n, _, _ in CLIPS]
    write_shards(sources, str(tmp_path / "shards"), max_count=2)
    local = _samples(str(tmp_path / "shards" / "shard-{000000..000001}.tar"))
    assert len(local) >= 8
    with FaultServer(tmp_path, stall_s=2) as server:
        url = f"{server.url}/shards/shard-{{000000..000001}}.tar"
        assert _samples(url) == local
        # every 2nd GET fails (reset, short body, 503, stall) mid-shard: resumed, not restarted
        server.every(2, ("drop", "truncate", "503", "stall"))
        assert _samples(url) == local
        assert sum(server.faults_done.values()) >= 4
        server.every(0, ())
        # DataLoader workers split the shards as locally, each with its own connections
        loaded = _loaded(str(tmp_path / "shards" / "shard-{000000..000001}.tar"))
        assert len(loaded) == 16 and _loaded(url) == loaded  # 2 workers x 4 shards x 2 clips
        # a shard that is gone is skipped with its reason, the others still give samples
        gone = f"{server.url}/shards/shard-{{000000..000002}}.tar"
        with caplog.at_level(logging.WARNING, logger="pyvidfast.cogvideox"):
            random.seed(3)
            ds = VideoDataset(gone, [H, W], 8, 8, 0, shuffle_buffer=1, nshards=12)
            assert any(u.endswith("shard-000002.tar") for u in ds.shards())
            assert len(list(ds)) >= 2
        assert "shard-000002.tar" in caplog.text and "no such object" in caplog.text


def test_sft_dataset_from_s3_on_the_nvdec_path(sft_folder):
    """The NVDEC path (its CPU stand-in: the same packets, numbering and fallbacks) reads a URL
    through the same range reader, not through FFmpeg's own protocols."""
    from pyvidfast.io.nvdec.standin import standin_pool

    args = ([H, W], 8, 9, 1)
    expected = _items(SFTDataset(sft_folder, *args))
    with MotoS3() as s3:
        s3.upload(
            "sft", {str(p.relative_to(sft_folder.parent)): str(p) for p in sft_folder.rglob("*.*")}
        )
        remote = SFTDataset("s3://sft/sft", *args, decoder_pool=standin_pool())
        assert _items(remote) == expected
        assert not remote.fallbacks

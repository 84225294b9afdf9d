"""Remote sources: the range reader under injected faults, header reads that stay small, typed
errors for gone objects, I/O errors that never become verdicts, and the Open-Sora chain on an S3
bucket (moto's server) giving the local folder's CSVs. Servers run on 127.0.0.1, started here."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
from fault_server import FaultServer

from pyvidfast.curation.integrity import check_file
from pyvidfast.io.errors import RemoteIOError, RemoteNotFoundError
from pyvidfast.io.probe import probe_video
from pyvidfast.io.remote import fetch_stats, open_remote, record_fetch_stats


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Short waits between retries and a 1 s read timeout; faults are injected by count."""
    monkeypatch.setenv("PYVIDFAST_REMOTE_BACKOFF", "0.01")
    monkeypatch.setenv("PYVIDFAST_REMOTE_TIMEOUT", "1")
    monkeypatch.delenv("PYVIDFAST_STORAGE_OPTIONS", raising=False)
    monkeypatch.delenv("PYVIDFAST_REMOTE_NAL_WALK", raising=False)
    record_fetch_stats()


def _videos(real_dir: Path) -> list[str]:
    names = [p for p in real_dir.rglob("*") if p.is_file() and p.suffix not in (".csv", ".md")]
    return sorted(str(p.relative_to(real_dir)) for p in names)


@pytest.fixture(scope="module")
def big_mp4s(tmp_path_factory) -> dict[str, Path]:
    """Two 2-3 MB H.264 MP4s of noise, moov first (faststart) and moov last."""
    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(30)]
    out = {}
    for name, options in (("moov_first.mp4", {"movflags": "faststart"}), ("moov_last.mp4", {})):
        with av.open(str(folder / name), "w", options=options) as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "20"}
            for i, pixels in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        out[name] = folder / name
    head = (folder / "moov_first.mp4").read_bytes()[:64]
    assert b"moov" in head and b"moov" not in (folder / "moov_last.mp4").read_bytes()[:64]
    return out


@pytest.mark.parametrize("fault", ["503", "drop", "truncate", "stall"])
def test_reader_retries_transient_faults(real_dir, fault):
    name = "torchcodec/nasa_13013.mp4"
    with FaultServer(real_dir, stall_s=2) as server:
        server.fail(name, fault, fault)
        with open_remote(f"{server.url}/{name}") as f:
            data = f.read()
            stats = fetch_stats(f.name)
    assert data == (real_dir / name).read_bytes()
    # three GETs: two faults, then the whole file (aiohttp itself may retry a dropped one)
    assert server.faults_done[fault] == 2 and server.requests[name] == 3
    assert stats.retries >= 1


def test_reader_serves_seeks_and_a_server_that_ignores_range(real_dir):
    name = "decord/video_0.mov"
    local = (real_dir / name).read_bytes()
    with FaultServer(real_dir) as server:
        f = open_remote(f"{server.url}/{name}", block=1024)
        f.seek(-100, os.SEEK_END)
        assert f.read() == local[-100:]
        f.seek(5000)
        assert f.read(3000) == local[5000:8000] and f.tell() == 8000
        assert f.read(10**9) == local[8000:]


def test_gone_object_is_a_typed_error_naming_the_url(real_dir):
    with FaultServer(real_dir) as server:
        url = f"{server.url}/torchcodec/not_there.mp4"
        with pytest.raises(RemoteNotFoundError, match="not_there.mp4"):
            open_remote(url)
        assert probe_video(url).error == f"missing file: {url}"
        result = check_file(url)
        assert (result["ok"], result["error_kind"]) == (False, "missing")
        assert url in result["error_lines"][0]


def test_exhausted_retries_are_io_errors_not_broken_files(real_dir, monkeypatch):
    monkeypatch.setenv("PYVIDFAST_REMOTE_RETRIES", "3")
    name = "androidx_media/mkv__sample.mkv"  # 108 KB: a few requests
    with FaultServer(real_dir) as server:
        url = f"{server.url}/{name}"
        for fault in ("503", "truncate", "drop"):
            # the first range request fails every try (6 faults: aiohttp retries a drop on a
            # reused connection once by itself)
            server.fail(name, *[fault] * 6)
            result = check_file(url)
            assert (result["ok"], result["error_kind"]) == (False, "io"), (fault, result)
            assert url in result["error_lines"][0] and "after 3 tries" in result["error_lines"][0]
            server.queued.clear()
            server.fail(name, *[fault] * 6)
            assert probe_video(url).error.startswith("I/O error: read failed after 3 tries")
            server.queued.clear()
        # the same file with fewer faults than tries: the local verdict
        server.fail(name, "503", "truncate")
        assert check_file(url) == check_file(str(real_dir / name))
        f = open_remote(url)
        server.fail(name, *["503"] * 3)
        with pytest.raises(RemoteIOError, match="after 3 tries"):
            f.read()
        assert isinstance(f.failure, RemoteIOError)


def test_header_reads_fetch_a_few_small_ranges(big_mp4s):
    folder = big_mp4s["moov_first.mp4"].parent
    with FaultServer(folder) as server:
        for name, path in big_mp4s.items():
            url = f"{server.url}/{name}"
            remote, local = probe_video(url), probe_video(str(path))
            assert remote == local and remote.method == "moov"
            size = path.stat().st_size
            assert size > 1_000_000
            # the size request, then one block (moov first) or two blocks and the moov
            assert server.requests[name] <= 2 and fetch_stats(url).requests <= 3, name
            assert server.bytes_sent[name] < 0.05 * size, (name, server.bytes_sent[name], size)


def test_err_files_of_remote_videos_go_under_err_dir(real_dir, tmp_path):
    from pyvidfast.curation.check import check_files
    from pyvidfast.opensora.ffmpeg_filter_without_errors import err_file, main
    from pyvidfast.parallel.outputs import OutputError

    with FaultServer(real_dir) as server:
        url = f"{server.url}/decord/video_0.mov"
        with pytest.raises(OutputError, match="--err-dir"):
            check_files([url], write_err=True)
        table = check_files([url], err_dir=str(tmp_path / "err"))
    assert bool(table["ok"][0])
    assert (
        err_file(url, str(tmp_path / "err"))
        == str(tmp_path / "err" / "http" / url.split("://", 1)[1]) + ".err"
    )
    assert os.path.getsize(err_file(url, str(tmp_path / "err"))) == 0
    table.to_csv(tmp_path / "t.csv", index=False)
    assert main([str(tmp_path / "t.csv")]) == 2  # a remote path needs --err-dir
    assert main([str(tmp_path / "t.csv"), "--err-dir", str(tmp_path / "err")]) == 0


def test_prepare_asks_each_url_for_its_size_once(real_dir):
    import pandas as pd

    from pyvidfast.curation.prepare import prepare

    names = ["decord/video_0.mov", "decord/video_90.mov", "torchcodec/h265_video.mp4"]
    with FaultServer(real_dir) as server:
        table = pd.DataFrame({"path": [f"{server.url}/{n}" for n in names], "text": list("abc")})
        result = prepare(table, workers=2)
        # caption, size and decode steps and the workers share one size request; the other
        # HEAD is the journal's (size and ETag: is the object unchanged since?)
        assert dict(server.heads) == {n: 2 for n in names}
    assert len(result.kept) == 3

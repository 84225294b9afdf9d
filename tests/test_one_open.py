"""Note [one open] (io/opening.py): a reader opens its file once, whichever backend decodes.

Opens are counted where they happen: FFmpeg containers at ``av.open`` (a path given to it would
be FFmpeg opening the file itself, counted as a raw open too) and raw reads at ``open``.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import av
import pytest
from media import frame_number, make_clip

from pyvidfast.io.nvdec.standin import standin_pool
from pyvidfast.io.orientation import unrotated_view
from pyvidfast.io.reader import VideoReader
from pyvidfast.io.video import open_video


class Opens:
    """Counts the FFmpeg containers and the raw opens of one file."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path):
        self.path, self.containers, self.raw = path, 0, 0
        real_av_open, real_open = av.open, builtins.open

        def av_open(file, *args, **kwargs):
            self.containers += 1
            self.raw += self._is_ours(file)
            return real_av_open(file, *args, **kwargs)

        def raw_open(file, *args, **kwargs):
            self.raw += self._is_ours(file)
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(av, "open", av_open)
        monkeypatch.setattr(builtins, "open", raw_open)

    def _is_ours(self, file) -> bool:
        if not isinstance(file, (str, os.PathLike)):
            return False
        return os.path.exists(file) and os.path.samefile(file, self.path)


@pytest.fixture(scope="module")
def two_gops(tmp_path_factory) -> Path:
    """x264 with B-frames and keyframes at 0, 12, 24 and 36, rotated 90 degrees (so the
    display matrix is read)."""
    d = tmp_path_factory.mktemp("one_open")
    path = make_clip(d / "b.mp4", 40, fps=24, size=(96, 64), options={"bf": "2", "g": "12"})
    rotated = d / "rotated.mp4"
    with av.open(str(path)) as src, av.open(str(rotated), "w") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        out.set_display_rotation(90)
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    return rotated


def _read(reader) -> list[int]:
    frames = [*reader.get_batch([0, 5]), *reader.get_batch([30, 6]), *reader.get_batch([39])]
    return [frame_number(unrotated_view(f.cpu().numpy()[None], 270)[0]) for f in frames]


def test_a_cpu_reader_opens_its_file_once(two_gops: Path, monkeypatch: pytest.MonkeyPatch):
    opens = Opens(monkeypatch, two_gops)
    with VideoReader(two_gops) as r:
        assert r.rotation == 270 and _read(r) == [0, 5, 30, 6, 39]
    assert (opens.containers, opens.raw) == (1, 1)


def test_an_nvdec_reader_opens_its_file_once(two_gops: Path, monkeypatch: pytest.MonkeyPatch):
    pool = standin_pool(1)
    opens = Opens(monkeypatch, two_gops)
    with open_video(two_gops, "cpu", pool=pool) as r:
        assert r.on_gpu, r.fallback_reason
        assert r.applied_rotation == 270 and _read(r) == [0, 5, 30, 6, 39]
        assert r.on_gpu, r.fallback_reason
    assert (opens.containers, opens.raw) == (1, 1)


def test_the_cpu_fallback_reads_through_the_same_open(
    two_gops: Path, monkeypatch: pytest.MonkeyPatch
):
    from pyvidfast.io.nvdec import DecoderPool
    from pyvidfast.io.nvdec.standin import StandinDecoder

    class Failing(StandinDecoder):
        def decode(self, packet):
            raise RuntimeError("cuvidDecodePicture failed")

    opens = Opens(monkeypatch, two_gops)
    with open_video(two_gops, "cpu", pool=DecoderPool(Failing, 1)) as r:
        assert _read(r) == [0, 5, 30, 6, 39] and not r.on_gpu
    assert (opens.containers, opens.raw) == (1, 1)


def test_reading_a_closed_reader_says_so(two_gops: Path):
    reader = VideoReader(two_gops)
    reader.get_batch([3])
    reader.close()
    with pytest.raises(ValueError, match="the reader is closed"):
        reader.get_batch([30])

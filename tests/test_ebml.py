"""io/bitstream/ebml.py (video tracks' DefaultDuration) and the short probe it allows
(io/probe.py, Note [no probe decode]): the row is the one the full header-only open gives."""

from __future__ import annotations

import math

import av
import pytest
from conftest import REAL_DIR
from media import make_clip

from pyvidfast.io import probe
from pyvidfast.io.bitstream.ebml import video_default_durations
from pyvidfast.io.counting import MAX_NUM_FRAMES, demux_count


def _element(element_id: int, payload: bytes, unknown_size: bool = False) -> bytes:
    ident = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    size = b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown_size else bytes([0x80 | len(payload)])
    return ident + size + payload


def _uint(element_id: int, value: int) -> bytes:
    return _element(element_id, value.to_bytes(4, "big"))


EBML_HEADER = _element(0x1A45DFA3, _element(0x4282, b"matroska"))
INFO = _element(0x1549A966, _uint(0x2AD7B1, 1_000_000))
CLUSTER = _element(0x1F43B675, _uint(0xE7, 0))


def _track(kind: int, duration: int | None) -> bytes:
    body = _uint(0xD7, 1) + _uint(0x83, kind)
    if duration is not None:
        body += _element(0x23E383, duration.to_bytes(4, "big"))
    return _element(0xAE, body)


def _file(*tracks: bytes, before_tracks: bytes = b"") -> bytes:
    segment = INFO + before_tracks + _element(0x1654AE6B, b"".join(tracks)) + CLUSTER
    return EBML_HEADER + _element(0x18538067, segment, unknown_size=True)


def test_default_durations_of_video_tracks_only():
    head = _file(_track(1, 40_000_000), _track(2, 21_333_333), _track(1, None))
    assert video_default_durations(head) == [40_000_000, None]


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"\x00" * 64, id="not-matroska"),
        pytest.param(_file(_track(1, 40_000_000))[:60], id="tracks-cut-off"),
        pytest.param(
            _file(_track(1, 40_000_000), before_tracks=CLUSTER), id="tracks-after-cluster"
        ),
        pytest.param(EBML_HEADER + b"\x18\x53\x80\x67\x00", id="bad-size"),
    ],
)
def test_no_answer_unless_the_tracks_are_all_there(head):
    assert video_default_durations(head) is None


def _row(path: str, options: dict[str, str]) -> tuple:
    with av.open(path, options=options) as c:
        s = c.streams.video[0]
        count = demux_count(c, s, s.frames or MAX_NUM_FRAMES)
        rate = float(s.average_rate) if s.average_rate else math.nan
        return count, s.codec_context.width, s.codec_context.height, rate


def _full_options(options: dict[str, str]) -> dict[str, str]:
    """The header-only open that reads 5 MB, with FFmpeg's parser (no ``noparse``)."""
    drop = ("probesize", "analyzeduration", "fflags")
    return {k: v for k, v in options.items() if k not in drop}


@pytest.mark.parametrize("codec", ["libx264", "libvpx-vp9"])
def test_short_probe_gives_the_full_probes_row(tmp_path, codec):
    path = str(make_clip(tmp_path / "clip.mkv", 12, fps=24, codec=codec))
    with open(path, "rb") as f:
        assert video_default_durations(f.read(1 << 16)) == [41_666_666]
    options = probe._header_only_format(path)
    assert options is not None and options["probesize"] == "32"
    assert options.get("fflags") == ("noparse" if codec == "libx264" else None)
    assert _row(path, options) == _row(path, _full_options(options)) == (12, 64, 48, 24.0)


def _real_matroska() -> list[str]:
    if not REAL_DIR.is_dir():
        return []
    return sorted(
        str(p.relative_to(REAL_DIR)) for p in REAL_DIR.rglob("*") if p.suffix in (".mkv", ".webm")
    )


@pytest.mark.parametrize("rel", _real_matroska())
def test_short_probe_on_real_matroska(real_dir, rel):
    """Every real Matroska/WebM file the short probe takes gives the full header-only open's row;
    a video track without DefaultDuration (its rate is measured) keeps the full probe."""
    path = str(real_dir / rel)
    options = probe._header_only_format(path)
    if options is None or "probesize" not in options:
        with open(path, "rb") as f:
            durations = video_default_durations(f.read(1 << 16))
        assert options is None or not durations or None in durations
        return
    try:
        full = _row(path, _full_options(options))
    except (av.error.FFmpegError, IndexError):
        pytest.skip("FFmpeg does not open it")
    assert _row(path, options) == full

"""io/ts_start.py ``pmt_stream_types``: which codecs a TS declares, so that ``probe_video`` opens
an MPEG-2 or MPEG-4 Part 2 TS once (its header-only open serves H.264 and HEVC only)."""

from __future__ import annotations

import av
import pytest
from media import make_clip

from pyvidfast.io import probe
from pyvidfast.io.ts_start import pmt_stream_types


@pytest.mark.parametrize(
    "codec, audio, types",
    [
        ("libx264", "mp2", [0x1B, 0x03]),
        ("mpeg2video", "mp2", [0x02, 0x03]),
        ("mpeg4", None, [0x10]),
    ],
)
def test_stream_types_and_opens(tmp_path, monkeypatch, codec, audio, types):
    path = str(make_clip(tmp_path / "clip.ts", 10, fps=25, codec=codec, audio=audio))
    with open(path, "rb") as f:
        assert pmt_stream_types(f.read(1 << 16)) == types
    opened = []
    real_open = av.open
    monkeypatch.setattr(probe.av, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    found = probe.probe_video(path)
    assert (found.num_frames, found.width, found.height, found.method) == (10, 64, 48, "demux")
    assert len(opened) == 1  # H.264: the header-only open; the others: the full one, once


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x47" + b"\x00" * 187, id="no-pat"),
        pytest.param(b"\x47\x40\x00\x10\x00\x00\xb0\xff" + b"\x00" * 180, id="pat-cut-short"),
    ],
)
def test_no_types_without_whole_tables(head):
    assert pmt_stream_types(head) is None

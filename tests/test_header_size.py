"""Note [header size] (io/probe.py): a header-only open reports the size its SPS declares, never a
container's word for it; and FLV H.264 files take that open (io/bitstream/flv.py)."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import pytest
from conftest import REAL_DIR
from media import make_clip

from pyvidfast.io import probe
from pyvidfast.io.bitstream.flv import flv_video_codec
from pyvidfast.io.bitstream.nal import declared_size
from pyvidfast.opensora.info import INFO_COLUMNS, video_info
from pyvidfast.opensora.reference import reference_info


def _real_videos() -> list[str]:
    if not REAL_DIR.is_dir():
        return []
    suffixes = (".mp4", ".mov", ".mkv", ".webm", ".ts", ".flv", ".3gp")
    return sorted(str(p.relative_to(REAL_DIR)) for p in REAL_DIR.rglob("*") if p.suffix in suffixes)


def test_sps_size_is_the_first_decoded_frames_size(real_dir):
    """On every real H.264/HEVC file FFmpeg decodes, the SPS size in its extradata is the size of
    its first decoded frame (or unknown: a crop FFmpeg may narrow)."""
    checked = 0
    for rel in _real_videos():
        try:
            with av.open(str(real_dir / rel)) as c:
                stream = c.streams.video[0]
                cc = stream.codec_context
                if cc is None or cc.name not in ("h264", "hevc"):
                    continue
                frame = next(c.decode(stream))
                declared = declared_size(cc.name, cc.extradata)
        except (av.error.FFmpegError, IndexError, StopIteration):
            continue
        assert declared in (None, (frame.width, frame.height)), rel
        checked += declared is not None
    assert checked >= 40  # the corpus holds 60+ such files; most declare a size


def _row(path: Path) -> tuple:
    row = video_info(str(path))
    return tuple(row[c] for c in INFO_COLUMNS[:6])


def _lie_about_width(path: Path, width: int) -> Path:
    """A copy of a 64-pixel-wide clip whose container states another width: Matroska's
    PixelWidth (EBML 0xB0, one byte), or FLV's onMetaData ``width`` (an AMF0 number)."""
    data = bytearray(path.read_bytes())
    if path.suffix == ".mkv":
        at = data.find(b"\xb0\x81\x40")
        assert 0 < at < 1000
        data[at + 2] = width
    else:
        key = b"\x00\x05width\x00"
        at = data.find(key) + len(key)
        assert struct.unpack(">d", data[at : at + 8]) == (64.0,)
        data[at : at + 8] = struct.pack(">d", float(width))
    out = path.with_name("lie_" + path.name)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    "codec,suffix", [("libx264", ".mkv"), ("libx265", ".mkv"), ("libx264", ".flv")]
)
def test_a_container_width_that_lies_is_not_the_row(tmp_path, codec, suffix):
    """The reference decodes 64-pixel-wide frames whatever the container says. The Matroska
    header-only open reports PixelWidth (80 here): the SPS check sends the file to the full
    open, and the row is the reference's."""
    path = _lie_about_width(make_clip(tmp_path / f"clip{suffix}", 12, fps=24, codec=codec), 80)
    options = probe._header_only_format(str(path))
    assert options is not None
    with av.open(str(path), options=options) as c:
        said = c.streams.video[0].codec_context.width
    assert said == (80 if suffix == ".mkv" else 64)  # FLV: FFmpeg's parser overrides onMetaData
    assert _row(path) == tuple(reference_info(str(path), rgb=True))
    assert video_info(str(path))["width"] == 64


@pytest.mark.parametrize(
    "fps,options",
    [
        (Fraction(25), {}),
        (Fraction(30000, 1001), {"bf": "3"}),
        (Fraction(24000, 1001), {"bf": "0", "g": "12"}),
        (Fraction(50), {"x264-params": "b-pyramid=normal"}),
    ],
)
def test_flv_h264_opens_once_with_the_references_row(tmp_path, monkeypatch, fps, options):
    path = make_clip(tmp_path / "clip.flv", 40, fps=fps, options=options, audio="aac")
    with open(path, "rb") as f:
        assert flv_video_codec(f.read(1 << 16)) == "h264"
    opened = []
    real_open = av.open
    monkeypatch.setattr(probe.av, "open", lambda *a, **k: opened.append(k) or real_open(*a, **k))
    got = _row(path)
    assert len(opened) == 1 and opened[0]["options"]["codec_whitelist"] == "none"
    monkeypatch.undo()
    assert got == tuple(reference_info(str(path), rgb=True))


def test_flv_codec_of_the_first_video_tag(tmp_path):
    sorenson = make_clip(tmp_path / "s.flv", 3, codec="flv")
    assert flv_video_codec(sorenson.read_bytes()[: 1 << 16]) == "flv"
    assert probe._header_only_format(str(sorenson)) is None  # Sorenson: the full open
    header = b"FLV\x01\x01\x00\x00\x00\x09" + b"\x00" * 4
    tag = b"\x09\x00\x00\x05" + b"\x00" * 7
    assert flv_video_codec(header + tag + b"\x17\x00\x00\x00\x00") == "h264"
    assert flv_video_codec(header + tag + b"\x1c\x00\x00\x00\x00") == "hevc"
    assert flv_video_codec(header + tag + b"\x90hvc1") is None  # Enhanced RTMP: not read
    assert flv_video_codec(header + tag[:5]) is None  # cut inside the tag header
    assert flv_video_codec(b"\x00" * 64) is None


@pytest.mark.parametrize("rel", [r for r in _real_videos() if r.endswith(".flv")])
def test_real_flv_rows_equal_the_references(real_dir, rel):
    path = real_dir / rel
    assert probe._header_only_format(str(path)) is not None
    assert _row(path) == tuple(reference_info(str(path), rgb=True))


def _lie_in_sample_entry(path: Path, width: int) -> Path:
    """A copy of an MP4 whose (one) visual sample entry states another width."""
    data = bytearray(path.read_bytes())
    entry = data.find(b"stsd") + 12  # size and type, version and flags, entry count
    data[entry + 32 : entry + 34] = width.to_bytes(2, "big")
    out = path.with_name("lie_" + path.name)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("codec", ["libx264", "libx265", "libvpx-vp9", "libsvtav1"])
def test_an_mp4_sample_entry_that_lies_is_not_the_row(tmp_path, codec):
    """The moov path reads the sample entry's size; it stands only when the SPS (H.264/HEVC) or
    the first frame's header (VP9, AV1) gives the same size, else FFmpeg's open decides."""
    clip = make_clip(tmp_path / "clip.mp4", 12, fps=24, codec=codec, size=(128, 96))
    assert probe.probe_video(str(clip)).method == "moov"  # the honest file keeps the fast path
    path = _lie_in_sample_entry(clip, 160)
    found = probe.probe_video(str(path))
    assert found.method != "moov" and (found.width, found.height) == (128, 96)
    assert _row(path) == tuple(reference_info(str(path), rgb=True))


def test_av1_and_vp8_headers_give_the_decoded_size(real_dir):
    """``av1_frame_size`` (the av1C or in-band sequence header and the first frame header) and
    ``vp8_keyframe_size`` equal the first decoded frame's size on every real AV1/VP8 file."""
    from pyvidfast.io.bitstream.av1_size import av1_frame_size
    from pyvidfast.io.bitstream.vpx import vp8_keyframe_size

    checked = 0
    for rel in _real_videos():
        try:
            with av.open(str(real_dir / rel)) as c:
                stream = c.streams.video[0]
                name = stream.codec_context.name
                if name not in ("libdav1d", "vp8"):
                    continue
                extradata = stream.codec_context.extradata or b""
                first = bytes(next(p for p in c.demux(stream) if p.size))
            with av.open(str(real_dir / rel)) as c:
                frame = next(c.decode(video=0))
        except (av.error.FFmpegError, IndexError, StopIteration):
            continue  # no video, or none FFmpeg decodes
        if name == "vp8":
            found = vp8_keyframe_size(first)
        else:
            found = av1_frame_size(extradata[4:], first)
        assert found == (frame.width, frame.height), rel
        checked += 1
    assert checked >= 5

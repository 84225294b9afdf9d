"""pyvidfast.io.probe against the reference procedure on every real clip, and on broken inputs."""

from __future__ import annotations

import csv
import math
import re
import shutil
import subprocess
from fractions import Fraction

import av
import media_broken
import numpy as np
import pytest
from conftest import REAL_DIR
from media_broken import make_broken_corpus, reference_row

from pyvidfast.io.bitstream.boxes import children, find_box, is_iso_bmff, read_moov
from pyvidfast.io.bitstream.h264_sps import avcc_parameter_sets, reorder_declared
from pyvidfast.io.mp4 import moov_info, video_trak
from pyvidfast.io.mp4_trust import header_distrust, header_problem, sample_ranges
from pyvidfast.io.probe import (
    MAX_NUM_FRAMES,
    annexb_nal_types,
    demux_count,
    header_count,
    probe_image,
    probe_video,
    vp8_shown_frames,
    vp9_shown_frames,
)
from pyvidfast.opensora.reference import reference_info

# Files whose bitstream breaks mid-stream (header 30 and 50 samples; the reference stops at the
# first decode error: 26 and 28). Their NAL lengths do not walk the bad sample (io/mp4_trust.py);
# the default path counts what decodes before it (Note [first bad NAL] in io/bad_nal.py).
CORRUPT_BITSTREAM = {
    "androidx_media/mp4__sample_with_invalid_nalu.mp4": 26,
    "decord/corrupted.mp4": 28,
}
# their first sample with an invalid NAL size
CORRUPT_SAMPLES = {
    "androidx_media/mp4__sample_with_invalid_nalu.mp4": 28,
    "decord/corrupted.mp4": 30,
}


def _real_files() -> list[str]:
    path = REAL_DIR / "PROBE.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        return [row["file"] for row in csv.DictReader(f)]


REAL_FILES = _real_files()


def _probe_rows() -> dict[str, dict]:
    with open(REAL_DIR / "PROBE.csv") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def _values(p) -> tuple:
    return (p.num_frames, p.height, p.width, p.fps)


def _same(a: tuple, b: tuple) -> bool:
    return all(
        x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)) for x, y in zip(a, b)
    )


@pytest.fixture(scope="module")
def reference(real_dir):
    """Reference values (num_frames, height, width, fps) per real file, computed once."""
    cache: dict[str, tuple] = {}

    def get(name: str) -> tuple:
        if name not in cache:
            r = reference_row(str(real_dir / name))
            cache[name] = (r[0], r[1], r[2], r[4])
        return cache[name]

    return get


@pytest.mark.parametrize("name", REAL_FILES)
def test_default_path_matches_reference(real_dir, reference, name):
    got = probe_video(str(real_dir / name))
    want = reference(name)
    assert _same(_values(got), want), (got, want)
    if name in CORRUPT_BITSTREAM:
        assert (got.method, got.num_frames) == ("bad_nal", CORRUPT_BITSTREAM[name])
    assert (got.error is None) == (want[0] > 0)


@pytest.mark.parametrize("name", REAL_FILES)
def test_exact_frames_matches_reference(real_dir, reference, name):
    got = probe_video(str(real_dir / name), exact_frames=True)
    assert _same(_values(got), reference(name)), (got, reference(name))


def test_exact_counts_agree_with_probe_csv(real_dir):
    """Where PyAV decoded the whole file without error, its count is ours (PROBE.csv)."""
    checked = 0
    for name, row in _probe_rows().items():
        if row["pyav_full_decode_status"] != "OK":
            continue
        got = probe_video(str(real_dir / name), exact_frames=name.endswith(".mp4"))
        cap = int(row["header_frames"] or 0) or MAX_NUM_FRAMES
        assert got.num_frames == min(int(row["decoded_frames"]), cap), name
        w, h = (int(v) for v in row["size"].split("x"))
        assert (got.width, got.height) == (w, h), name
        checked += 1
    assert checked > 60


def test_methods_by_container(real_dir):
    assert probe_video(str(real_dir / "vpf/test.mp4")).method == "moov"
    # VVC: no SPS reader checks the sample entry's size (Note [header size]), FFmpeg's open does
    assert probe_video(str(real_dir / "androidx_media/mp4__sample_vvc.mp4")).method == "header"
    assert probe_video(str(real_dir / "androidx_media/mp4__sample_av1.mp4")).method == "moov"
    frag = probe_video(str(real_dir / "androidx_media/mp4__sample_fragmented.mp4"))
    assert (frag.method, frag.num_frames) == ("demux", 30)
    assert probe_video(str(real_dir / "decord/flipping_a_pancake.mkv")).method == "demux"
    assert probe_video(str(real_dir / "androidx_media/ts__sample_h264.ts")).method == "demux"
    # MPEG-4 part 2 in AVI: the index says 98; 96 packets, each one coded VOP, are 96 frames.
    avi = probe_video(str(real_dir / "androidx_media/avi__sample.avi"))
    assert (avi.method, avi.num_frames) == ("demux", 96)
    # Edit list: one sample is discarded, the header's 13 is not what decodes.
    edit = probe_video(str(real_dir / "androidx_media/mp4__iibbibb_editlist_videoonly.mp4"))
    assert (edit.method, edit.num_frames) == ("header", 12)


def _pyav_header(path: str) -> tuple | None:
    """What the FFmpeg header path gives: (count, height, width, fps), None where it declines."""
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.FFmpegError:
        return None
    with container:
        stream = container.streams.video[0]
        count = header_count(container, stream)
        if count is None:
            return None
        cc = stream.codec_context
        return (count, cc.height, cc.width, float(stream.average_rate))


ISO_FILES = [n for n in REAL_FILES if n.lower().endswith((".mp4", ".mov", ".3gp"))]


@pytest.mark.parametrize("name", ISO_FILES)
def test_moov_reader_agrees_with_ffmpeg(real_dir, name):
    """Whatever moov_info answers, FFmpeg's own header path answers the same."""
    path = str(real_dir / name)
    got = moov_info(path) if is_iso_bmff(path) else None
    if got is not None:
        assert (got.num_frames, got.height, got.width, got.fps) == _pyav_header(path)


def test_moov_reader_answers_most_of_the_corpus(real_dir):
    answered = [n for n in ISO_FILES if moov_info(str(real_dir / n)) is not None]
    assert len(answered) >= 35
    # edit list with an empty edit / a discarded sample, fragments, no moov: FFmpeg decides
    for name in (
        "androidx_media/mp4__edit_list_positive_shift.mp4",
        "androidx_media/mp4__iibbibb_editlist_videoonly.mp4",
        "androidx_media/mp4__sample_fragmented.mp4",
        "androidx_media/mp4__sample_malformed_free_box.mp4",
    ):
        assert moov_info(str(real_dir / name)) is None, name


def test_moov_reader_on_generated_bframes_clip(tmp_path):
    """libx264 with B-frames: MP4 gets an edit list shifting by the reorder delay."""
    path = tmp_path / "b.mp4"
    _write_clip(path, 41, size=(96, 64))
    got = moov_info(str(path))
    assert got is not None and (got.num_frames, got.height, got.width) == (41, 64, 96)
    assert (got.num_frames, got.height, got.width, got.fps) == _pyav_header(str(path))


def test_resolution_change_keeps_first_frame_size(real_dir):
    got = probe_video(str(real_dir / "vpf/test_res_change.h264"))
    assert (got.num_frames, got.width, got.height) == (96, 848, 464)


def test_failure_reasons(real_dir, tmp_path):
    assert probe_video(str(tmp_path / "nope.mp4")).error.startswith("missing file")
    assert probe_video(str(tmp_path)).error.startswith("not a file")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert probe_video(str(empty)).error.startswith("cannot open")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 100)
    assert probe_video(str(text)).error.startswith("cannot open")
    init = probe_video(str(real_dir / "androidx_media/cmaf__multi-segment__video_init.mp4"))
    assert init.error == "no decodable frame"
    assert probe_video(str(real_dir / "androidx_media/vp9__invalid-bitstream.webm")).error == (
        "no decodable frame"
    )
    for p in (init,):
        assert (p.num_frames, p.height, p.width) == (0, 0, 0) and math.isnan(p.fps)


def _write_clip(path, n: int, codec: str = "libx264", fmt: str | None = None, size=(64, 48)):
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=Fraction(25))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(n):
            img = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_truncated_copies_never_raise_and_match_reference(real_dir, tmp_path):
    src = real_dir / "androidx_media/mp4__sample.mp4"
    data = src.read_bytes()
    for frac in (0.1, 0.5, 0.9):
        cut = tmp_path / f"cut{frac}.mp4"
        cut.write_bytes(data[: int(len(data) * frac)])
        want = reference_info(str(cut), rgb=False)
        for exact in (True, False):
            got = probe_video(str(cut), exact_frames=exact)
            assert _same(_values(got), (want[0], want[1], want[2], want[4])), (frac, got, want)
    mkv = tmp_path / "cut.mkv"
    mkv.write_bytes((real_dir / "decord/flipping_a_pancake.mkv").read_bytes()[:40000])
    got = probe_video(str(mkv))
    want = reference_info(str(mkv), rgb=False)
    assert got.num_frames == want[0]


def test_generated_clips(tmp_path):
    mp4 = tmp_path / "gen.mp4"
    mkv = tmp_path / "gen.mkv"
    _write_clip(mp4, 37)
    _write_clip(mkv, 23, codec="libvpx-vp9")
    for path, n in ((mp4, 37), (mkv, 23)):
        got = probe_video(str(path))
        assert (got.num_frames, got.width, got.height, got.fps) == (n, 64, 48, 25.0)
        assert reference_info(str(path), rgb=False)[0] == n


def test_demux_count_stops_at_cap(tmp_path):
    mkv = tmp_path / "gen.mkv"
    _write_clip(mkv, 30, fmt="matroska")
    with av.open(str(mkv)) as c:
        assert demux_count(c, c.streams.video[0], cap=10) == 10
    with av.open(str(mkv)) as c:
        assert demux_count(c, c.streams.video[0], cap=MAX_NUM_FRAMES) == 30


def test_vp9_superframe_parsing():
    shown = bytes([0b10_0_0_0_0_1_0])  # profile 0, not show_existing, inter, show_frame=1
    hidden = bytes([0b10_0_0_0_0_0_0])  # show_frame=0 (alt-ref)
    existing = bytes([0b10_0_0_1_0_0_0])  # show_existing_frame=1
    assert vp9_shown_frames(memoryview(shown + b"\0" * 9)) == 1
    assert vp9_shown_frames(memoryview(hidden + b"\0" * 9)) == 0
    assert vp9_shown_frames(memoryview(existing)) == 1
    # superframe: [hidden 10 bytes][shown 6 bytes] + index (marker, sizes (1 byte each), marker)
    frames = hidden + b"\0" * 9 + shown + b"\0" * 5
    marker = 0b110_00_001  # 2 frames, 1 byte per size
    superframe = frames + bytes([marker, 10, 6, marker])
    assert vp9_shown_frames(memoryview(superframe)) == 1
    two_shown = shown + b"\0" * 9 + shown + b"\0" * 5 + bytes([marker, 10, 6, marker])
    assert vp9_shown_frames(memoryview(two_shown)) == 2
    assert vp8_shown_frames(memoryview(bytes([0x10, 0, 0]))) == 1
    assert vp8_shown_frames(memoryview(bytes([0x00, 0, 0]))) == 0


def test_images(tmp_path):
    from PIL import Image

    png = tmp_path / "a.PNG"
    Image.new("RGB", (31, 17), (1, 2, 3)).save(png)
    got = probe_image(str(png))
    assert (got.num_frames, got.height, got.width, got.method) == (1, 17, 31, "image")
    assert math.isnan(got.fps)
    jpg = tmp_path / "b.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(
        jpg
    )
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpg.read_bytes()[:200])
    assert probe_image(str(cut), exact=True).error.startswith("cannot open image")
    assert reference_info(str(cut))[0] == 0
    bad = tmp_path / "bad.png"
    shutil.copy(__file__, bad)
    assert probe_image(str(bad)).error.startswith("cannot open image")


# --------------------------------------------- when the header is trusted (io/mp4_trust.py)

BROKEN_REASONS = {
    "truncated_mdat": "samples run past the end of the file",
    "samples_past_eof": "samples run past the end of the file",
    "stsc_contradictory": "STSC/STCO describe a different sample count than STSZ",
    "stsc_empty": "empty or invalid STSC",
    "mdhd_timescale_zero": "invalid mdhd timescale 0",
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> dict:
    return make_broken_corpus(tmp_path_factory.mktemp("broken"))


def test_header_problem_names_each_broken_class(broken):
    for name, reason in BROKEN_REASONS.items():
        assert (header_problem(str(broken[name])) or "").startswith(reason), name
    assert header_problem(str(broken["annexb_in_mp4"])) is None  # Note [annex-B in MP4]
    clean = broken["truncated_mdat"].with_name("clean_faststart.mp4")
    assert header_problem(str(clean)) is None
    assert probe_video(str(clean)).method == "moov"  # healthy files stay at header speed


def test_header_problem_trusts_the_healthy_corpus(real_dir):
    """Every real MP4/MOV that decodes cleanly (PROBE.csv) keeps its header path."""
    for name, row in _probe_rows().items():
        path = str(real_dir / name)
        if row["pyav_full_decode_status"] == "OK" and is_iso_bmff(path):
            assert header_problem(path) is None, name
    for name in CORRUPT_BITSTREAM:
        assert "invalid NAL unit size" in header_problem(str(real_dir / name)), name


def test_sample_ranges_agree_with_an_independent_walker(broken, real_dir):
    """mp4_trust's vectorised sample offsets equal a plain loop over stsc/stco/stsz."""
    clean = broken["truncated_mdat"].with_name("clean.mp4")
    for path in (clean, real_dir / "vpf/test.mp4", real_dir / "androidx_media/mp4__sample.mp4"):
        moov = memoryview(read_moov(str(path)))
        trak = video_trak(moov)
        stbl = find_box(moov, *find_box(moov, *find_box(moov, *trak, b"mdia"), b"minf"), b"stbl")
        offsets, sizes = sample_ranges(moov, {k: (a, b) for k, a, b in children(moov, *stbl)})
        want = media_broken.sample_ranges(path.read_bytes())
        assert list(zip(offsets.tolist(), sizes.tolist())) == want, path


def test_ts_start_checks(broken, real_dir):
    assert annexb_nal_types(
        b"\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x67\x00\x00\x01\x68", "h264"
    ) == [
        9,
        7,
        8,
    ]
    # counted from its first IDR on (Note [TS cut before an IDR]); equal to the reference in
    # test_opensora_info like every generated class
    assert probe_video(str(broken["ts_starting_mid_gop"])).method == "demux"
    assert probe_video(str(broken["ts_without_aud"])).method == "decode"
    assert probe_video(str(real_dir / "androidx_media/ts__sample_h265.ts")).method == "demux"


def test_mpeg4_packets_stand_for_frames_only_when_each_is_one_coded_vop(broken):
    """Counted from packets where they map one to one, decoded where they do not; the counts
    equal the reference either way (test_opensora_info runs it on every generated file)."""
    methods = {name: probe_video(str(broken[name])).method for name in broken}
    assert methods["avi_mpeg4_bframes"] == methods["m4v_elementary"] == "demux"
    # N-VOPs give no picture, B-VOPs before two references are skipped by FFmpeg
    assert methods["avi_mpeg4_nvops"] == methods["ts_mpeg4_mid_gop"] == "decode"
    packets = 0
    with av.open(str(broken["avi_mpeg4_nvops"])) as container:
        packets = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    assert probe_video(str(broken["avi_mpeg4_nvops"])).num_frames < packets
    if "avi_xvid_packed" in broken:  # packed B-frames: two VOPs in one packet
        assert methods["avi_xvid_packed"] == "decode"


def test_a_bad_nal_is_counted_where_the_reorder_depth_is_declared(broken, real_dir):
    """Note [first bad NAL]: counted without decoding where every SPS declares its reorder
    depth, decoded where it does not; the rows equal the reference's either way
    (test_opensora_info runs it on every generated file)."""
    assert probe_video(str(broken["h264_bad_nal_mid_stream"])).method == "bad_nal"
    assert probe_video(str(broken["h264_bad_nal_second_frame"])).error == "no decodable frame"
    if "h264_bad_nal_without_vui" in broken:
        assert probe_video(str(broken["h264_bad_nal_without_vui"])).method == "decode"
    for name, sample in CORRUPT_SAMPLES.items():
        found = header_distrust(str(real_dir / name))
        assert found.bad_sample == sample, name
        got = probe_video(str(real_dir / name))
        assert got.method == "bad_nal" and got.num_frames == reference_row(str(real_dir / name))[0]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command")
def test_sps_reorder_depth_as_ffmpeg_reads_it(real_dir):
    """``reorder_declared`` on the first SPS of every real H.264 MP4/MOV equals what the ffmpeg
    CLI's trace_headers bitstream filter reads (present with its value, or absent)."""
    seen = set()
    for path in sorted(real_dir.glob("*/*.mp4")) + sorted(real_dir.glob("*/*.mov")):
        try:
            with av.open(str(path)) as container:
                cc = container.streams.video[0].codec_context
                extradata = bytes(cc.extradata or b"") if cc is not None else b""
                if cc is None or cc.name != "h264" or extradata[:1] != b"\x01":
                    continue
        except (av.FFmpegError, IndexError):
            continue
        command = ["ffmpeg", "-v", "info", "-i", str(path), "-c", "copy", "-bsf:v"]
        command += ["trace_headers", "-frames:v", "1", "-f", "null", "-"]
        log = subprocess.run(command, capture_output=True, text=True).stderr
        sps = log.split("Sequence Parameter Set")[1].split("Picture Parameter Set")[0]
        flag = re.search(r"bitstream_restriction_flag\s+\S+ = (\d)", sps)
        depth = re.search(r"max_num_reorder_frames\s+\S+ = (\d+)", sps)
        want = int(depth.group(1)) if flag and flag.group(1) == "1" else None
        assert reorder_declared(avcc_parameter_sets(extradata)[0]) == want, path.name
        seen.add(want)
    assert None in seen and len(seen) >= 3  # absent, and at least two declared depths

"""A scraped-web mix (tests/media_mix.py): every ``--info`` row equals the reference's, every
``check`` verdict the ffmpeg CLI's; the cut-short rule (Note [cut short] in io/mp4_trust.py)
and the no-timescale / corrupt-NAL class, each against the reference on generated files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import pytest
from exactness import exact_after_seeks
from media_broken import reference_row, same_values
from media_mix import annexb_copy, make_mix_corpus

from pyvidfast.curation import check_files
from pyvidfast.io.mp4_trust import header_distrust
from pyvidfast.io.probe import probe_video
from pyvidfast.opensora.info import INFO_COLUMNS, video_info
from pyvidfast.opensora.reference import reference_info

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="the mix is made with the ffmpeg command")


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> dict[str, Path]:
    return make_mix_corpus(tmp_path_factory.mktemp("mix"))


def test_every_info_row_equals_the_reference(mix):
    differ = {}
    for name, path in mix.items():
        row = video_info(str(path))
        got = tuple(row[c] for c in INFO_COLUMNS)
        want = reference_row(str(path))
        if not same_values(got, want):
            differ[name] = (got, want, row["info_error"])
    assert differ == {}
    assert len(mix) >= 50


def test_every_check_verdict_equals_ffmpeg(mix):
    paths = [str(p) for p in mix.values()]
    table = check_files(paths, workers=2, timeout=120)
    differ = {}
    for path, ok in zip(table["path"], table["ok"]):
        command = [FFMPEG, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]
        stderr = subprocess.run(command, capture_output=True, text=True, timeout=120).stderr
        if bool(ok) != (stderr == ""):
            differ[Path(path).name] = (bool(ok), stderr[:200])
    assert differ == {}


def test_every_file_reads_the_same_frames_after_a_seek_as_from_the_start(mix):
    """Issue 28 on the mix (cut, broken, odd files): fresh readers' random and window reads,
    each twice, equal a pass from frame 0."""
    problems = {name: exact_after_seeks(str(path)) for name, path in mix.items()}
    assert {k: v for k, v in problems.items() if v} == {}


def _encode(path: Path, x264: list[str]) -> bytes:
    command = [FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    command += ["-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i", "sine=d=2"]
    command += ["-c:a", "aac", "-vf", "noise=alls=10:allf=t", "-c:v", "libx264"]
    command += ["-preset", "veryfast", *x264, "-movflags", "faststart", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return path.read_bytes()


def _video_samples(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(p.pos, p.size) for p in container.demux(stream) if p.size]


@pytest.mark.parametrize(
    "x264",
    [["-bf", "0"], ["-bf", "3", "-x264-params", "b-pyramid=normal:open-gop=1", "-g", "12"]],
    ids=["no_bframes", "bframes_pyramid_open_gop"],
)
def test_cut_short_mp4_counts_equal_the_reference(tmp_path, x264):
    """Moov-first H.264 MP4s (audio interleaved) cut at sample starts, one, three and five bytes
    in, and at evenly spaced offsets: the count without decoding equals the reference's."""
    data = _encode(tmp_path / "source.mp4", x264)
    samples = _video_samples(tmp_path / "source.mp4")
    starts = [pos for pos, _ in samples[1::4]]
    cuts = {pos + d for pos in starts for d in (0, 1, 3, 5)}
    first = samples[0][0]
    cuts |= {first + (len(data) - first) * i // 17 for i in range(1, 17)}
    methods = set()
    for cut in sorted(cuts):
        path = tmp_path / f"cut_{cut}.mp4"
        path.write_bytes(data[:cut])
        probe = probe_video(str(path))
        want = reference_info(str(path), rgb=False)
        got = (probe.num_frames, probe.height, probe.width)
        assert got == want[:3], (cut, probe.method)
        methods.add(probe.method)
        path.unlink()
    assert "bad_nal" in methods  # the rule was used, not only the decode fallback


def test_cut_short_kinds(tmp_path):
    """A cut at a sample's first byte ends the stream there; one inside its first NAL unit is a
    bad sample; one that leaves a tail shorter than a NAL length field is left to decoding."""
    data = _encode(tmp_path / "source.mp4", ["-bf", "2"])
    pos, _ = _video_samples(tmp_path / "source.mp4")[10]
    kinds = {}
    for name, cut in (("end", pos), ("inside", pos + 9), ("short", pos + 2)):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(data[:cut])
        kinds[name] = header_distrust(str(path))
    assert kinds["end"].end_sample == 10 and kinds["end"].bad_sample is None
    assert kinds["inside"].bad_sample == 10 and kinds["inside"].end_sample is None
    assert kinds["short"].bad_sample is None and kinds["short"].end_sample is None


def test_no_timescale_and_corrupt_nal_sizes_count_frames_before_the_error(mix):
    """The reference of its era (a PyAV where Open-Sora's ``except av.AVError`` exists) keeps
    the frames decoded before the first error; an MP4 without a usable ``mdhd`` timescale and
    corrupt NAL sizes from sample 8 on gets that count, not the header's sample count."""
    for name in ("mp4_no_timescale_bad_nal", "mp4_no_mdhd_bad_nal"):
        path = str(mix[name])
        problem = header_distrust(path)
        assert problem is not None, name
        got = video_info(path)
        want = reference_row(path)
        assert same_values(tuple(got[c] for c in INFO_COLUMNS), want), name
        with av.open(path) as container:
            header = container.streams.video[0].frames
        assert 0 < want[0] < header, (name, want[0], header)


@pytest.mark.parametrize(
    "x264",
    [
        ["-bf", "0"],
        ["-bf", "3", "-x264-params", "b-pyramid=normal"],
        ["-bf", "2", "-slices", "4"],
        ["-bf", "2", "-x264-params", "repeat-headers=1:open-gop=1", "-g", "12"],
    ],
    ids=["no_bframes", "bframes_pyramid", "four_slices", "repeated_headers_open_gop"],
)
def test_annexb_in_mp4_is_counted_from_its_sample_table(tmp_path, x264):
    """Note [annex-B in MP4]: every sample framed by start codes; the reference decodes one
    frame a sample, and we read the moov only. One length-prefixed sample among them: decoded."""
    _encode(tmp_path / "source.mp4", x264)
    path = annexb_copy(tmp_path / "source.mp4", tmp_path / "annexb.mp4")
    probe = probe_video(str(path))
    assert probe.method == "moov"
    assert (probe.num_frames, probe.height, probe.width) == reference_info(str(path), False)[:3]
    mixed = bytearray(path.read_bytes())
    pos, size = _video_samples(tmp_path / "source.mp4")[5]
    mixed[pos : pos + 4] = (0).to_bytes(4, "big")  # not a start code, nor a valid length
    (tmp_path / "mixed.mp4").write_bytes(mixed)
    probe = probe_video(str(tmp_path / "mixed.mp4"))
    assert probe.method != "moov"
    want = reference_info(str(tmp_path / "mixed.mp4"), False)
    assert (probe.num_frames, probe.height, probe.width) == want[:3]


@pytest.mark.parametrize(
    "x264", [["-bf", "0"], ["-bf", "3", "-x264-params", "b-pyramid=normal"]], ids=["bf0", "bf3"]
)
def test_ts_cut_before_an_idr_counts_equal_the_reference(tmp_path, x264):
    """Note [TS cut before an IDR]: H.264 MPEG-TS with the head cut off at TS-packet boundaries
    (and off them) inside its first GOPs: the demuxed count from the first IDR equals the
    reference's full decode."""
    source = tmp_path / "source.ts"
    command = [FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    command += ["-i", "testsrc2=s=320x240:r=25:d=3", "-f", "lavfi", "-i", "sine=d=3"]
    command += ["-c:a", "mp2", "-vf", "noise=alls=10:allf=t", "-c:v", "libx264"]
    command += ["-preset", "veryfast", "-g", "30", *x264, str(source)]
    subprocess.run(command, check=True, capture_output=True)
    data = source.read_bytes()
    methods = []
    for k in range(1, 16):
        head = (len(data) // 188) * k // 24 * 188 + (0 if k % 3 else 100)
        path = tmp_path / f"cut_{k}.ts"
        path.write_bytes(data[head:])
        probe = probe_video(str(path))
        want = reference_info(str(path), rgb=False)
        assert (probe.num_frames, probe.height, probe.width) == want[:3], (head, probe.method)
        methods.append(probe.method)
    assert methods.count("demux") >= 8  # the rule was used, not only the decode fallback


def test_vp9_keyframe_size_reads_the_real_webm_files(real_dir: Path):
    """Note [no probe decode] for VP9: the first key frame's header gives the decoded size on
    the real VP9 WebM files, and nothing on the three whose bitstream is invalid (those keep
    FFmpeg's probe decode and its failure row)."""
    from pyvidfast.io.bitstream.vpx import vp9_keyframe_size

    seen = {}
    for path in sorted(real_dir.glob("*/*.webm")):
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                if stream.codec_context.name != "vp9":
                    continue
                packet = next(p for p in container.demux(stream) if p.size)
        except (av.FFmpegError, IndexError, StopIteration):
            continue
        want = reference_info(str(path), rgb=False)
        seen[path.name] = (vp9_keyframe_size(bytes(packet)), want, path)
    invalid = {n for n in seen if "invalid" in n}
    assert len(invalid) == 3 and len(seen) >= 8
    for name, (size, want, path) in seen.items():
        assert size == (None if name in invalid else (want[2], want[1])), name
        assert (probe_video(str(path)).method == "demux") == (name not in invalid), name

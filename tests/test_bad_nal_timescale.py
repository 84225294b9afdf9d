"""Note [no timescale] in io/bad_nal.py, proved against the reference: H.264 MP4s whose ``mdhd``
timescale is 0 or whose ``mdhd`` is missing, with a corrupt NAL length at one sample, get the
reference's ``--info`` row counted without decoding (x264 with and without B-frames, with and
without an edit list, audio interleaved; a length past the sample and a length of 0)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import pytest
from media_broken import find_box, reference_row, same_values, sample_ranges

from pyvidfast.io.bitstream.h264_sps import reorder_declared
from pyvidfast.io.mp4_trust import header_distrust
from pyvidfast.io.probe import probe_video
from pyvidfast.opensora.info import INFO_COLUMNS, video_info

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="the variants are made with ffmpeg")

SOURCES = {
    "bf0": ["-bf", "0"],
    "bf2": ["-bf", "2", "-g", "48"],
    "bf3_pyramid_open_gop12": ["-bf", "3", "-x264-params", "b-pyramid=normal:open-gop=1"]
    + ["-g", "12"],
    "bf2_no_editlist": ["-bf", "2", "-use_editlist", "0"],
    "bf2_audio_faststart": ["-bf", "2", "-movflags", "faststart"],
}
BAD_SAMPLES = (1, 2, 3, 5, 8, 13, 21, 34)


def _encode(path: Path, x264: list[str]) -> Path:
    command = [FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    command += ["-i", "testsrc2=s=320x240:r=25:d=2"]
    if "faststart" in x264:
        command += ["-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac"]
    command += ["-vf", "noise=alls=10:allf=t", "-c:v", "libx264", "-preset", "veryfast"]
    subprocess.run(command + x264 + [str(path)], check=True, capture_output=True)
    return path


def _break(source: bytes, header: str, sample: int, length: str) -> bytearray:
    """``source`` with ``mdhd`` timescale 0 or no ``mdhd``, and the first NAL length of
    ``sample`` set past the sample or to 0."""
    data = bytearray(source)
    a, _ = find_box(data, "moov/trak/mdia/mdhd")
    if header == "no_mdhd":
        data[a - 4 : a] = b"free"
    else:
        at = a + (20 if data[a] == 1 else 12)
        data[at : at + 4] = bytes(4)
    offset, size = sample_ranges(data)[sample]
    data[offset : offset + 4] = (size + 1000 if length == "past" else 0).to_bytes(4, "big")
    return data


def _index_length(path: Path) -> int:
    with av.open(str(path)) as container:
        return len(container.streams.video[0].index_entries)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("timescale")
    return {k: _encode(folder / f"{k}.mp4", v).read_bytes() for k, v in SOURCES.items()}


@pytest.mark.parametrize("header", ["no_timescale", "no_mdhd"])
def test_no_timescale_bad_nal_counts_equal_the_reference(tmp_path, sources, header):
    differ, methods, discarded = {}, {}, 0
    for name, source in sources.items():
        for sample in BAD_SAMPLES:
            for length in ("past", "zero"):
                path = tmp_path / f"{name}_{sample}_{length}.mp4"
                path.write_bytes(_break(source, header, sample, length))
                problem = header_distrust(str(path))
                assert problem.no_timescale and problem.bad_sample == sample, problem
                probe = probe_video(str(path))
                row = video_info(str(path))
                got = tuple(row[c] for c in INFO_COLUMNS)
                want = reference_row(str(path))
                if not same_values(got, want):
                    differ[path.name] = (got, want, probe.method)
                methods[path.name] = (probe.method, _index_length(path) > sample)
                depth = max(reorder_declared(sps) for sps in problem.parameter_sets)
                discarded += 0 < want[0] < sample - depth  # edit-list discards were counted
                path.unlink()
    assert differ == {}
    # every variant whose index reaches the bad sample was counted by the rule (a count of 0
    # is its failure row); where FFmpeg's index ends earlier the stream ends there: decoded
    ruled = {k: m for k, (m, reaches) in methods.items() if reaches}
    assert {k: m for k, m in ruled.items() if m not in ("bad_nal", "failed")} == {}
    assert list(ruled.values()).count("bad_nal") >= len(methods) // 2
    assert discarded > 0  # the discard-flag path was exercised, not only k - depth

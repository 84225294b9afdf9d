"""The decoder's cursor (Note [cursor] in pyvidfast/io/decoder.py): one reader never decodes a
frame twice, and every way of reaching frame N gives the bytes of a pass from frame 0."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from exactness import exact_after_seeks
from media import frame_number, make_clip

from pyvidfast.io.keyframes import keyframe_before, runs
from pyvidfast.io.reader import VideoReader

# Long GOPs with B-frames (three pyramids per GOP), as training clips have; several GOPs.
GOP_CLIPS = {
    "h264_bframes": ("h264.mp4", dict(options={"bf": "3", "g": "24", "b-pyramid": "normal"})),
    "h264_mkv": ("h264.mkv", dict(options={"bf": "2", "g": "30"})),
    "hevc": (
        "hevc.mp4",
        dict(codec="libx265", options={"x265-params": "log-level=error:keyint=24"}),
    ),
    "vp9": ("vp9.webm", dict(codec="libvpx-vp9", options={"g": "24", "deadline": "realtime"})),
}


@pytest.fixture(scope="module", params=sorted(GOP_CLIPS))
def gop_clip(request, tmp_path_factory):
    name, kw = GOP_CLIPS[request.param]
    path = tmp_path_factory.mktemp(request.param) / name
    return str(make_clip(path, 120, 24, size=(96, 64), **kw))


def _decoded_after_open(reader: VideoReader) -> int:
    return reader.frames_decoded


@pytest.mark.parametrize("chunk", [1, 7, 32])
def test_consecutive_chunks_decode_each_frame_once(gop_clip, chunk):
    reader = VideoReader(gop_clip)
    n, at_open = len(reader), reader.frames_decoded
    got = [reader.get_batch(list(range(s, min(n, s + chunk)))) for s in range(0, n, chunk)]
    frames = np.concatenate([g.numpy() for g in got])
    assert [frame_number(f) for f in frames] == list(range(n))
    assert reader.frames_decoded - at_open == n  # each frame once, none twice


def test_chunks_with_gaps_continue_within_a_gop_and_seek_past_one(gop_clip):
    reader = VideoReader(gop_clip)
    keys = reader.get_key_indices()
    late_key = keys[-1]
    requests = [[0, 1, 2], [5, 9], [10], [late_key + 1, late_key + 2]]
    for indices in requests:
        assert [frame_number(f) for f in reader.get_batch(indices).numpy()] == indices
    # the last request seeks past the frames between 10 and the last keyframe: they are never
    # decoded, so the reader decoded fewer frames than the span it delivered
    assert reader.frames_decoded < late_key + 3


def test_sorted_random_indices_skip_the_gops_between_them(gop_clip):
    reader = VideoReader(gop_clip)
    keys = reader.get_key_indices()
    if len(keys) < 3:
        pytest.skip("the encoder made fewer than three GOPs")
    wanted = [keys[0] + 1, keys[-1] + 1]
    assert [frame_number(f) for f in reader.get_batch(wanted).numpy()] == wanted
    # one sweep from frame 0 to the last GOP would decode every frame up to keys[-1]
    assert reader.frames_decoded < keys[-1]


def test_random_access_equals_a_pass_from_the_start_on_real_files(real_dir):
    files = sorted(p for p in real_dir.rglob("*") if p.suffix not in {".csv", ".md"})
    files = [p for p in files if p.is_file() and p.stat().st_size < 40 << 20]
    assert len(files) > 60
    problems = {str(p.relative_to(real_dir)): exact_after_seeks(str(p)) for p in files}
    assert {k: v for k, v in problems.items() if v} == {}


def test_random_access_equals_a_pass_from_the_start_on_generated_clips(gop_clip):
    assert exact_after_seeks(gop_clip) == []


def test_keyframe_runs_rule():
    keys = [0, 10, 20]
    assert keyframe_before(keys, 9) == 0 and keyframe_before(keys, 10) == 10
    assert keyframe_before([5, 10], 3) == 0  # before the first keyframe: the stream's start
    # 11 joins [9] (its keyframe 10 is the frame after 9); 25 starts over at keyframe 20
    assert runs(keys, [1, 9, 11, 25, 26]) == [[1, 9, 11], [25, 26]]
    assert runs(keys, [1, 12]) == [[1], [12]]
    assert runs(keys, []) == []


def test_a_reader_inherited_by_a_forked_child_reads_and_frees_there(gop_clip):
    """Note [fork]: freeing a decoder whose FFmpeg threads were not copied used to hang."""
    reader = VideoReader(gop_clip, num_threads=2)
    parent = reader.get_batch([3, 40]).numpy()
    pid = os.fork()
    if pid == 0:  # the child: read on, then drop the reader, then exit with what it found
        code = 3
        try:
            same = np.array_equal(reader.get_batch([3, 40]).numpy(), parent)
            del reader
            gc.collect()
            code = 0 if same else 4
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's reader goes on as before
    assert [frame_number(f) for f in reader.get_batch([41, 42]).numpy()] == [41, 42]


X264_CORE142 = os.path.join(os.path.dirname(__file__), "data", "x264_core142_lossless444.mp4")


def test_a_seek_in_an_x264_core142_lossless_clip_gives_the_frames_of_a_pass_from_the_start():
    """Note [x264 build]: without the version from the first packet, every frame read after a
    seek differs from the pass from frame 0 (mean difference about 100 of 255, as in plain
    PyAV below); with it, none does."""
    assert exact_after_seeks(X264_CORE142) == []
    full = VideoReader(X264_CORE142).get_batch(list(range(48))).numpy()
    for ask in ([30], [13, 40], list(range(24, 30))):
        assert np.array_equal(VideoReader(X264_CORE142).get_batch(ask).numpy(), full[ask])


def test_the_x264_core142_clip_reproduces_the_class_in_plain_pyav():
    """The regression clip is what it claims: FFmpeg decodes it right from the start, and wrong
    after a seek unless it is told the x264 version."""
    import av

    def frames(seek_to: int | None, options: dict | None = None) -> dict[int, np.ndarray]:
        with av.open(X264_CORE142) as container:
            stream = container.streams.video[0]
            if options:
                stream.codec_context.options = options
            if seek_to is not None:
                container.seek(seek_to, stream=stream, backward=True)
            return {f.pts: f.to_ndarray(format="rgb24") for f in container.decode(stream)}

    full = frames(None)
    pts = sorted(full)
    after_seek = frames(pts[24])
    assert all(np.abs(after_seek[p].astype(int) - full[p]).mean() > 50 for p in after_seek)
    told = frames(pts[24], {"x264_build": "142"})
    assert all(np.array_equal(told[p], full[p]) for p in told)


def test_x264_build_read_as_ffmpeg_reads_it():
    import av

    from pyvidfast.io.bitstream.nal import x264_build

    with av.open(X264_CORE142) as container:
        stream = container.streams.video[0]
        first = bytes(next(container.demux(stream)))
        extradata = stream.codec_context.extradata or b""
    assert x264_build(first, extradata) == 142
    uuid = bytes.fromhex("dc45e9bde6d948b7962cd820d923eeef")  # x264's; FFmpeg reads any

    def sei(text: bytes) -> bytes:  # one user-data-unregistered message, Annex B
        payload = uuid + text
        size = bytes([255] * (len(payload) // 255) + [len(payload) % 255])
        return b"\x00\x00\x00\x01\x06\x05" + size + payload + b"\x80"

    assert x264_build(sei(b"x264 - core 150 - H.264"), b"") == 150
    assert x264_build(sei(b"x264 - core 00001"), b"") == 67  # FFmpeg's quirk, kept
    assert x264_build(sei(b"x264 - core 0000"), b"") is None
    assert x264_build(sei(b"x264 - core 142" + b" " * 300), b"") == 142  # a size over 255
    assert x264_build(sei(b"Lavc60 libx264"), b"") is None
    assert x264_build(b"\x00\x00\x00\x01\x65" + b"x264 - core 142", b"") is None  # a slice


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="the clip is made with the ffmpeg command"
)
def test_a_ts_file_cut_mid_packet_reads_the_same_bytes_every_time(tmp_path):
    """Note [cut TS tail]: with frame threads the cut last frame came out different on most
    reads (3 distinct results in 5 here before the note); now every read is the same."""
    whole = tmp_path / "whole.ts"
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24"]
    command += ["-t", "1", "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset"]
    command += ["veryfast", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p", str(whole)]
    subprocess.run(command, check=True)
    data = whole.read_bytes()
    for fraction in (0.85, 0.9):
        cut = tmp_path / f"cut{fraction}.ts"
        cut.write_bytes(data[: int(len(data) * fraction)])
        reads = set()
        for _ in range(6):
            reader = VideoReader(str(cut))
            reads.add(hashlib.md5(reader.get_batch(list(range(len(reader)))).numpy()).hexdigest())
        assert len(reads) == 1, fraction


def test_ends_mid_packet_by_the_sync_bytes():
    from pyvidfast.io.ts_start import ends_mid_packet

    ts = (b"\x47" + bytes(187)) * 8
    assert not ends_mid_packet(ts, len(ts)) and ends_mid_packet(ts, len(ts) - 100)
    m2ts = (bytes(4) + b"\x47" + bytes(187)) * 8  # a 4-byte time code before each packet
    assert not ends_mid_packet(m2ts, len(m2ts)) and ends_mid_packet(m2ts, len(m2ts) - 1)
    assert not ends_mid_packet(bytes(2048), 5000)  # no sync bytes: not a TS it can judge

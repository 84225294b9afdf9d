"""VideoReader: exact frames by index on synthetic clips, decord parity, typed errors."""

from __future__ import annotations

import csv
import io
import shutil
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from media import frame_number, make_clip
from tolerance import pixels_agree

from pyvidfast.io.errors import (
    FrameIndexError,
    NoVideoStreamError,
    VideoDecodeError,
    VideoOpenError,
    VideoReadError,
)
from pyvidfast.io.indices import frame_indices
from pyvidfast.io.orientation import rotate_frames, rotated_shape, unrotated_view
from pyvidfast.io.reader import VideoReader

X265 = {"x265-params": "log-level=error"}

# name -> (file name, frames, fps, make_clip keywords)
CLIPS = {
    "h264_bframes": ("h264_bframes.mp4", 90, 30, dict(options={"bf": "3", "g": "12"})),
    "h264_mkv": ("h264.mkv", 60, 25, dict(options={"bf": "2", "g": "10"})),
    "hevc": ("hevc.mp4", 50, 24, dict(codec="libx265", options={**X265, "keyint": "10"})),
    "hevc_10bit": (
        "hevc10.mkv",
        40,
        Fraction(30000, 1001),
        dict(codec="libx265", pix_fmt="yuv420p10le", options=X265),
    ),
    "vp9_odd": ("vp9_odd.webm", 40, 10, dict(codec="libvpx-vp9", size=(65, 49))),
    "av1": ("av1.mkv", 30, 60, dict(codec="libsvtav1")),
    "mpeg4_avi": ("mpeg4.avi", 50, 8, dict(codec="mpeg4", options={"g": "8"})),
    "mpeg4_bframes": ("mpeg4.mp4", 50, 24, dict(codec="mpeg4", options={"bf": "2", "g": "9"})),
    # first frame at 1 s: the MP4 muxer writes an edit list with a positive shift
    "edit_list_shift": (
        "shift.mp4",
        40,
        24,
        dict(pts=list(range(24, 64)), options={"bf": "3", "g": "8"}),
    ),
    # variable frame rate: irregular gaps in a 1/1000 time base
    "vfr": (
        "vfr.mp4",
        45,
        30,
        dict(
            pts=[int(i * 33 + (i * i) % 17) for i in range(45)],
            time_base=Fraction(1, 1000),
            options={"bf": "2", "g": "10"},
        ),
    ),
}


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reader_clips")
    out = {}
    for name, (fname, n, fps, kw) in CLIPS.items():
        out[name] = (make_clip(folder / fname, n, fps, **kw), n)
    return out


def numbers(batch: torch.Tensor) -> list[int]:
    return [frame_number(f) for f in batch.numpy()]


@pytest.mark.parametrize("name", list(CLIPS))
def test_exact_frames_by_index(clips, name):
    path, n = clips[name]
    rng = np.random.default_rng(len(name))
    with VideoReader(path) as vr:
        assert len(vr) == n
        assert vr.get_avg_fps() > 0
        everything = numbers(vr.get_batch(range(n)))
        assert everything == list(range(n))
        # random order with repeats, starting mid-stream (seeks), then backwards
        idx = rng.integers(0, n, size=12).tolist() + [n - 1, 0, n // 2, n // 2]
        assert numbers(vr.get_batch(idx)) == idx
        for i in sorted(rng.integers(0, n, size=5).tolist(), reverse=True):
            assert frame_number(vr[i].numpy()) == i
        assert vr[-1].shape == (vr.height, vr.width, 3)
        assert frame_number(vr[-1].numpy()) == n - 1


def test_batch_equals_single_frames_and_fresh_readers(clips):
    path, n = clips["h264_bframes"]
    with VideoReader(path) as vr:
        batch = vr.get_batch([5, 40, 41, 89])
        for k, i in enumerate([5, 40, 41, 89]):
            assert torch.equal(batch[k], vr[i])
            with VideoReader(path) as fresh:
                assert torch.equal(batch[k], fresh.get_batch([i])[0])


def test_slices_tensor_indices_and_empty(clips):
    path, n = clips["h264_mkv"]
    with VideoReader(path) as vr:
        assert numbers(vr[10:20:3]) == [10, 13, 16, 19]
        assert numbers(vr.get_batch(torch.tensor([3, 1]))) == [3, 1]
        assert numbers(vr.get_batch(np.array([-2]))) == [n - 2]
        assert vr.get_batch([]).shape == (0, vr.height, vr.width, 3)
        out = vr.get_batch([0])
        assert out.dtype == torch.uint8 and out.shape == (1, 48, 64, 3)


@pytest.mark.parametrize("bad", [60, 1000, -61])
def test_out_of_range_index_is_a_typed_index_error(clips, bad):
    path, _ = clips["h264_mkv"]
    with VideoReader(path) as vr, pytest.raises(FrameIndexError) as info:
        vr.get_batch([0, bad])
    assert isinstance(info.value, IndexError) and str(path) in str(info.value)


def test_bytes_and_file_object_sources(clips):
    path, n = clips["hevc"]
    data = path.read_bytes()
    for source in (data, io.BytesIO(data), open(path, "rb")):
        with VideoReader(source) as vr:
            assert len(vr) == n
            assert numbers(vr.get_batch([n - 1, 2, 30])) == [n - 1, 2, 30]
    f = io.BytesIO(b"junk" + data)  # read from the current position
    f.seek(4)
    with VideoReader(f) as vr:
        assert numbers(vr.get_batch([7])) == [7]


def test_timestamps_follow_pts(clips):
    path, n = clips["vfr"]
    pts = CLIPS["vfr"][3]["pts"]
    with VideoReader(path) as vr:
        ts = vr.get_frame_timestamp(list(range(n - 1)))
        assert ts.dtype == np.float32 and ts.shape == (n - 1, 2)
        expected = (np.array(pts[: n - 1]) - pts[0]) / 1000
        np.testing.assert_allclose(ts[:, 0], expected, atol=2e-3)
        np.testing.assert_allclose(ts[:, 1], (np.array(pts[1:n]) - pts[0]) / 1000, atol=2e-3)
        assert vr.get_frame_timestamp(3).shape == (2,)
    path, n = clips["edit_list_shift"]
    with VideoReader(path) as vr:
        np.testing.assert_allclose(vr.get_frame_timestamp(1), [1 / 24, 2 / 24], atol=1e-3)


def test_keyframes_and_metadata(clips):
    path, n = clips["mpeg4_avi"]
    with VideoReader(path) as vr:
        assert vr.get_key_indices()[:3] == [0, 8, 16]
        assert vr.codec == "mpeg4" and vr.rotation == 0
        assert vr.sample_aspect_ratio in (None, Fraction(1, 1))
    path, _ = clips["hevc_10bit"]
    with VideoReader(path) as vr:
        assert vr.pix_fmt == "yuv420p10le"
        assert abs(vr.get_avg_fps() - 30000 / 1001) < 1e-9
    path, _ = clips["vp9_odd"]
    with VideoReader(path) as vr:
        assert vr.frame_shape == (49, 65, 3) and vr[0].shape == (49, 65, 3)


def test_rotation_is_known_on_open_and_applied(real_dir):
    # stored 568x320 with a -90 degree display matrix: decord turns it clockwise, to 320x568
    with VideoReader(real_dir / "decord" / "video_90.mov") as vr:
        assert vr.rotation == 90 and (vr.stored_width, vr.stored_height) == (568, 320)
        assert vr.frame_shape == (568, 320, 3) and (vr.width, vr.height) == (320, 568)
        assert vr.get_batch([]).shape == (0, 568, 320, 3)  # all before anything is decoded
        upright = vr.get_batch([0, 2])
    with VideoReader(real_dir / "decord" / "video_0.mov") as plain:
        assert plain.rotation == 0 and plain.frame_shape == (320, 568, 3)
    assert upright.shape == (2, 568, 320, 3)
    # the upright frame is the stored one turned clockwise (FFmpeg's own decode, turned by numpy)
    with av.open(str(real_dir / "decord" / "video_90.mov")) as container:
        stored = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert stored.shape == (320, 568, 3)
    assert np.array_equal(upright[0].numpy(), np.rot90(stored, k=-1))


def test_missing_empty_and_garbage_files(tmp_path):
    with pytest.raises(VideoOpenError, match="no such file"):
        VideoReader(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoOpenError) as info:
        VideoReader(tmp_path / "empty.mp4")
    assert "empty.mp4" in str(info.value)
    (tmp_path / "text.mp4").write_text("not a video\n" * 100)
    with pytest.raises(VideoOpenError):
        VideoReader(tmp_path / "text.mp4")
    with pytest.raises(VideoOpenError):
        VideoReader(b"\x00" * 1000)


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    path = tmp_path / "audio.wav"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(NoVideoStreamError):
        VideoReader(path)


def test_truncated_file_shrinks_len_and_raises_past_the_end(clips, tmp_path):
    path, n = clips["mpeg4_avi"]  # AVI: the index is at the end, the frames still demux
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with VideoReader(cut) as vr:
        promised = len(vr)
        assert promised <= n
        first = numbers(vr.get_batch([0, 1]))
        assert first == [0, 1]
        try:
            got = numbers(vr.get_batch([promised - 1]))
        except FrameIndexError:
            assert len(vr) < promised
        else:
            assert got == [len(vr) - 1]
        # whatever len() says now is what decodes
        assert numbers(vr.get_batch(range(len(vr)))) == list(range(len(vr)))


def test_mp4_without_its_end_is_a_typed_error(clips, tmp_path):
    path, _ = clips["h264_bframes"]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:2000])
    try:
        vr = VideoReader(cut)
    except VideoReadError:
        return
    with vr:
        n = len(vr)
        try:
            frames = vr.get_batch(range(n))
        except VideoReadError:
            return
        assert numbers(frames) == list(range(len(vr)))


def test_decode_errors_mid_stream_give_the_frames_that_decode(real_dir, tmp_path):
    # 30 packets, one of them invalid: 29 frames decode, and frame i is the i-th of those.
    src = real_dir / "androidx_media" / "mp4__sample_with_invalid_nalu.mp4"
    with VideoReader(src) as vr:
        assert len(vr) == 30  # what the container promises, before anything is decoded
        with pytest.raises(FrameIndexError):
            vr.get_batch([29])
        assert len(vr) == 30  # settled on open: a failed read does not change it
        assert vr.num_decodable == 29
        with pytest.raises(FrameIndexError, match="only 29 frames decode"):
            vr.get_batch([29])
        assert vr.get_batch(range(29)).shape[0] == 29
        last = vr[28]
    with VideoReader(src, num_threads=1) as vr:
        vr.get_batch([0])
        assert len(vr) == 30
        with pytest.raises(FrameIndexError):
            vr.get_batch(range(30))
        assert torch.equal(vr[28], last)


def test_len_is_settled_on_open_for_a_truncated_file(real_dir, tmp_path):
    # cut in mdat: the last packet is short (the demuxer flags it corrupt), so the index is
    # built by decoding on open and len() is what decodes; reads never change it
    data = (real_dir / "androidx_media" / "mp4__sample.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 7 // 10])
    decodable = 0
    with av.open(str(cut)) as container:
        for packet in container.demux(video=0):
            try:
                decodable += len(packet.decode())
            except av.error.InvalidDataError:  # the cut packet, as FFmpeg's CLI skips it
                pass
    with VideoReader(cut) as vr:
        n = len(vr)
        assert n == vr.num_decodable == decodable
        assert vr.get_batch([n - 1, 0]).shape[0] == 2
        with pytest.raises(FrameIndexError):
            vr.get_batch([n])
        assert len(vr) == n


def test_raw_h264_without_timestamps(real_dir):
    # vpf/test_res_change.h264: no pts at all, and the resolution changes mid-stream.
    with VideoReader(real_dir / "vpf" / "test_res_change.h264") as vr:
        assert len(vr) == 96
        batch = vr.get_batch([95, 0, 50])
        assert batch.shape == (3, vr.height, vr.width, 3)
        assert torch.equal(vr[50], batch[2])


def test_matches_decord(real_dir):
    decord = pytest.importorskip("decord")
    for name in (
        "androidx_media/mp4__bbb_800x640_768kbps_30fps_avc_pyramid_3b.mp4",
        "torchcodec/bt709_full_range.mp4",
        "androidx_media/mp4__edit_list_positive_shift.mp4",
        "torchcodec/nasa_13013.mp4",
    ):
        ref = decord.VideoReader(str(real_dir / name), height=-1, width=-1)
        with VideoReader(real_dir / name) as vr:
            assert len(vr) == len(ref)
            assert vr.get_avg_fps() == pytest.approx(ref.get_avg_fps())
            idx = list(range(0, len(vr), max(1, len(vr) // 6)))
            assert pixels_agree(vr.get_batch(idx), ref.get_batch(idx).asnumpy()), name
            np.testing.assert_allclose(
                vr.get_frame_timestamp(idx), ref.get_frame_timestamp(idx), atol=1e-3
            )


def _probe_rows(real_dir):
    with open(real_dir / "PROBE.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_real_clip_loads_or_raises_a_typed_error(real_dir):
    """Every file: len() then first/middle/last frame, or a VideoReadError naming it."""
    loaded = failed = 0
    for row in _probe_rows(real_dir):
        path = real_dir / row["file"]
        try:
            with VideoReader(path) as vr:
                n = len(vr)
                batch = vr.get_batch([0, n // 2, n - 1])
                assert batch.shape == (3, vr.height, vr.width, 3)
                assert len(vr) <= n
                loaded += 1
        except VideoReadError as exc:
            assert str(path) in str(exc)
            failed += 1
            if row["pyav_full_decode_status"] == "OK":
                # a clean file may only fail if its frames past the decodable end were asked for
                assert isinstance(exc, FrameIndexError), (row["file"], exc)
    assert loaded >= 70 and failed >= 10


def test_copied_clip_is_read_the_same(real_dir, tmp_path):
    src = real_dir / "decord" / "flipping_a_pancake.mkv"
    dst = tmp_path / "copy.mkv"
    shutil.copy(src, dst)
    with VideoReader(src) as a, VideoReader(dst) as b:
        assert torch.equal(a.get_batch([100, 7]), b.get_batch([100, 7]))


def test_no_decodable_frame_is_a_decode_error(real_dir):
    # The packets demux, so opening succeeds; the first decode finds that nothing decodes.
    vr = VideoReader(real_dir / "androidx_media" / "vp9__invalid-bitstream.webm")
    with pytest.raises(VideoDecodeError, match="no frame decodes"):
        vr.get_batch([0])


@pytest.mark.parametrize("name", ["h264_bframes", "hevc", "mpeg4_bframes", "vp9_odd"])
def test_strided_batch_then_sequential_frames(clips, name):
    # A strided batch skips unwanted non-reference frames; frames asked for afterwards (some
    # of which were skipped while in flight) must still come out exactly, without a rescan.
    path, n = clips[name]
    with VideoReader(path) as vr:
        idx = list(range(1, n - 10, 3))
        assert numbers(vr.get_batch(idx)) == idx
        for i in range(idx[-1] - 2, n):
            assert frame_number(vr[i].numpy()) == i
        assert not vr._verified  # no fallback to decoding the whole file


def test_errors_pickle_with_path_and_reason():
    import pickle

    err = pickle.loads(pickle.dumps(FrameIndexError("/x/a.mp4", "frame 9 of 3")))
    assert isinstance(err, IndexError) and isinstance(err, VideoReadError)
    assert (err.path, err.reason, str(err)) == (
        "/x/a.mp4",
        "frame 9 of 3",
        "/x/a.mp4: frame 9 of 3",
    )


def test_frame_number_oracle_round_trips():
    from media import pattern

    for i in np.random.default_rng(0).integers(0, 4096, size=50).tolist() + [0, 4095]:
        img = pattern(i, 48, 64)
        assert frame_number(img) == i
        normalised = (torch.from_numpy(img).permute(2, 0, 1).float() - 127.5) / 127.5
        assert frame_number(normalised.numpy()) == i
    assert frame_number(pattern(5, 48, 64)) != frame_number(pattern(6, 48, 64))


def test_frame_indices_checks_and_plans_once():
    plan = frame_indices([5, 1, 5, -1], 10, "x.mp4")
    assert plan.distinct == [1, 5, 9] and len(plan) == 4
    frames = torch.tensor([10, 50, 90])  # one entry per distinct index
    assert plan.expand(frames).tolist() == [50, 10, 50, 90]
    assert frame_indices([0, 3, 7], 10).order is None  # sorted and distinct: nothing to expand
    assert frame_indices(np.int64(4), 10).scalar
    with pytest.raises(FrameIndexError, match="x.mp4: frame index 10 out of range for 10"):
        frame_indices([10], 10, "x.mp4")
    with pytest.raises(FrameIndexError):
        frame_indices([-11], 10)
    with pytest.raises(TypeError, match="integers"):
        frame_indices([1.5], 10)


def test_get_batch_decodes_each_distinct_frame_once(clips):
    path, n = clips["h264_bframes"]
    with VideoReader(path) as vr:
        plan = frame_indices([9, 2, 9, 2, 4], len(vr))
        distinct = vr.get_frames(plan)
        assert numbers(distinct) == [2, 4, 9]
        assert numbers(plan.expand(distinct)) == [9, 2, 9, 2, 4]
        assert torch.equal(vr.get_batch([9, 2, 9, 2, 4]), plan.expand(distinct))


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotate_frames_torch_numpy_and_view_agree(rotation):
    rng = np.random.default_rng(rotation)
    frames = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    turned = rotate_frames(frames, rotation)
    assert turned.shape[1:3] == rotated_shape(5, 7, rotation)
    assert turned.flags.c_contiguous
    strided = torch.from_numpy(frames).permute(0, 2, 1, 3).transpose(1, 2)  # non-contiguous
    assert torch.equal(rotate_frames(strided, rotation), torch.from_numpy(turned))
    out = np.empty_like(turned)
    unrotated_view(out, rotation)[...] = frames
    assert np.array_equal(out, turned)
    assert np.array_equal(rotate_frames(turned, (360 - rotation) % 360), frames)
    if rotation == 90:  # clockwise: the first row becomes the last column
        assert np.array_equal(turned[:, :, -1], frames[:, 0])
    with pytest.raises(ValueError, match="rotation=45"):
        rotate_frames(frames, 45)

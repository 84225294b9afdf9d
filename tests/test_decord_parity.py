"""pyvidfast against decord 0.6.0 itself (the CogVideoX reader): the reader on every MP4/MOV of
the dev corpus that decord opens and on generated rotated and edit-list-cut files, and the
SFTDataset procedure.

Each comparison runs decord; the tests skip only when decord cannot be imported. Frames must be
within 2 levels on >= 99.9% of pixels. A few frames per file keep the module fast.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from media import frame_number, make_clip
from media_editlist import CUTS, make_cut
from media_rotation import ROTATED, make_rotated
from test_sampling import reference_sft
from tolerance import fraction_within, pixels_agree

from pyvidfast.cogvideox import SFTDataset
from pyvidfast.io.errors import FrameIndexError
from pyvidfast.io.reader import VideoReader
from pyvidfast.transform.geometry import crop_offsets, rectangle_resize_size
from pyvidfast.transform.reference import resize_crop_normalize_reference

decord = pytest.importorskip("decord")

# Files whose frames differ from decord's for reasons other than orientation, measured (share of
# pixels within 2 levels): left out of the 99.9% rule here and reported, not hidden.
KNOWN_DIFFERENCES = {
    # decord's seek lands one frame late on this open-GOP HEVC clip: its frames 3..8 are the
    # frames 4..9 it decodes in order (test_open_gop_hevc_decodes_as_decord_in_order). CogVideoX's
    # get_batch(np.arange(start, end)) seeks to start too, so its SFT samples carry the error.
    "h265_video.mp4": "decord's seek returns the next frame (98% from frame 3 on)",
}


close_enough = fraction_within  # the suite's one rule (tests/tolerance.py)


def open_decord(path, **kwargs):
    """decord's reader, or None when decord cannot open or index the file."""
    try:
        return decord.VideoReader(str(path), **kwargs)
    except (RuntimeError, decord.DECORDError):  # DECORDError: its own open/index failures
        return None


@pytest.fixture(scope="module")
def rotated(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg CLI not found")
    folder = tmp_path_factory.mktemp("rotated")
    return {name: make_rotated(folder, name) for name in ROTATED}


@pytest.fixture(scope="module")
def cuts(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg CLI not found")
    folder = tmp_path_factory.mktemp("cuts")
    return {name: make_cut(folder, name) for name in CUTS}


def corpus(real_dir: Path) -> list[Path]:
    files = sorted(real_dir.glob("*/*.mp4")) + sorted(real_dir.glob("*/*.mov"))
    return [p for p in files if p.name not in KNOWN_DIFFERENCES]


def decord_in_order(path: Path, idx: list[int]) -> np.ndarray:
    """decord's frames ``idx`` (sorted) read in order from frame 0 by a fresh reader, as
    ``get_batch(range(...))`` does: on a file whose count includes discarded packets the one
    reading decord agrees with itself on (Note [padded count] in pyvidfast/io/indices.py)."""
    return decord.VideoReader(str(path)).get_batch(list(range(idx[-1] + 1))).asnumpy()[idx]


def check_reader(path: Path, ref) -> bool:
    """Same length, shape and frames as decord; False when decord cannot decode them."""
    with VideoReader(path) as vr:
        n = len(ref)
        assert len(vr) == n, path
        # decord's first timestamp is negative when it counts packets the edit list discards
        padded = float(ref.get_frame_timestamp(0)[0]) < 0
        assert padded == (vr.padded_from is not None), path
        assert vr.frame_shape == tuple(ref[0].shape), path
        assert vr.get_batch([]).shape == (0, *vr.frame_shape)
        # a forward batch, then a seek back to an earlier frame (decord reads one at a time)
        idx = sorted({0, 1 % n, n // 2, n - 1})
        try:
            ours = vr.get_batch(idx).numpy()
        except FrameIndexError:
            # on purpose: a frame that does not decode raises (decord returns a copy of an
            # earlier one or fails); len() stays as settled on open
            assert vr.num_decodable < len(vr) == n, path
            idx = sorted({0, 1 % n, n // 2, vr.num_decodable - 1})
            ours = vr.get_batch(idx).numpy()
        try:
            theirs = decord_in_order(path, idx) if padded else ref.get_batch(idx).asnumpy()
        except decord.DECORDError:  # decord opens the file but cannot decode these frames
            return False
        assert close_enough(ours, theirs) >= 0.999, path
        back = vr[idx[1]].numpy()
        expected = theirs[1] if padded else ref[idx[1]].asnumpy()
        assert close_enough(back, expected) >= 0.999, path
    return True


def test_reader_matches_decord_on_the_corpus(real_dir):
    compared = 0
    for path in corpus(real_dir):
        ref = open_decord(path)
        if ref is None:
            continue
        compared += check_reader(path, ref)
    assert compared >= 30  # the corpus has 40-odd MP4/MOV files decord opens


@pytest.mark.parametrize("name", sorted(ROTATED))
def test_reader_matches_decord_on_rotated_files(rotated, name):
    ref = open_decord(rotated[name])
    check_reader(rotated[name], ref)
    with VideoReader(rotated[name]) as vr:
        assert len(vr) == len(ref)
        assert vr.rotation in (0, 90, 180, 270)
        h, w, _ = vr.frame_shape
        assert (w, h) == (vr.width, vr.height)


def test_generated_files_cover_every_rotation(rotated):
    # guards the parity tests above against passing because nothing was rotated at all
    seen = {}
    for name, path in rotated.items():
        with VideoReader(path) as vr:
            seen[name] = vr.rotation
    assert set(seen.values()) == {0, 90, 180, 270}
    assert seen["mkv_tag_rot450"] == 90 and seen["mp4_matrix45"] == seen["mkv_tag_rot45"] == 0


def numbers(frames) -> list[int]:
    return [frame_number(f) for f in np.asarray(frames)]


@pytest.mark.parametrize("name", sorted(CUTS))
def test_reader_matches_decord_on_edit_list_cuts(cuts, name):
    path = cuts[name]
    ref = decord.VideoReader(str(path))
    assert check_reader(path, ref)
    n = len(ref)
    in_order = numbers(decord.VideoReader(str(path)).get_batch(list(range(n))).asnumpy())
    with av.open(str(path)) as container:  # FFmpeg with the edit list: the pictures
        pictures = [frame_number(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    # decord counts every packet, gives the pictures in order, then copies of the last one
    assert len(pictures) < n and in_order == pictures + [pictures[-1]] * (n - len(pictures))
    with VideoReader(path) as vr:
        assert vr.padded_from == len(pictures) and vr.num_decodable == n
        assert numbers(vr.get_batch(range(n))) == in_order
        assert numbers(vr.get_batch([n - 1, 0, n - 2])) == [in_order[-1], in_order[0], in_order[-2]]
        assert vr.get_avg_fps() == pytest.approx(ref.get_avg_fps())
        every = list(range(n))  # decord's timestamps: of every packet, the discarded first
        ours, theirs = vr.get_frame_timestamp(every), ref.get_frame_timestamp(every)
        np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_decord_disagrees_with_itself_after_a_seek_on_edit_list_cuts(cuts):
    # why the parity above takes decord's in-order reading (Note [padded count]): after a seek
    # decord numbers the picture by timestamps that include the discarded packets
    path = cuts["mp4_cut_closed_gop"]
    n = len(decord.VideoReader(str(path)))
    in_order = numbers(decord.VideoReader(str(path)).get_batch(list(range(n))).asnumpy())
    after_seek = [frame_number(decord.VideoReader(str(path))[i].asnumpy()) for i in (12, 24)]
    assert after_seek != [in_order[12], in_order[24]]
    assert after_seek == [12, 24] and in_order[12] == 18  # 6 frames discarded


def test_rotation_is_read_from_bytes_and_file_objects(rotated):
    path = rotated["mp4_rot90"]
    expected = decord.VideoReader(str(path))[3].asnumpy()
    with open(path, "rb") as f:
        f.read(0)
        from_file = VideoReader(f)[3].numpy()
    from_bytes = VideoReader(path.read_bytes())[3].numpy()
    assert from_file.shape == from_bytes.shape == expected.shape
    assert close_enough(from_file, expected) >= 0.999
    assert np.array_equal(from_file, from_bytes)


def test_decord_keywords(rotated):
    path = rotated["mp4_rot90"]
    with VideoReader(uri=str(path), ctx=decord.cpu(0), num_threads=1, fault_tol=-1) as vr:
        assert vr.num_threads == 1 and len(vr) == 12
    with pytest.raises(TypeError):
        VideoReader(path, width=32.5)
    with pytest.raises(ValueError):
        VideoReader(path, ctx=decord.cpu(0), device="cuda")


@pytest.mark.parametrize(
    "name, width, height",
    [
        ("mp4_rot90", 40, 72),
        ("mp4_rot270", 60, 40),
        ("mp4_rot180", -1, 30),
        ("mov_rot90", 64, 96),
        ("mkv_tag_rot90", 200, 150),
        ("mp4_rot270", 50, -1),  # the height kept: Note [decord chroma rows] in io/scaler.py
    ],
)
def test_width_height_resize_as_decord(rotated, name, width, height):
    # decord turns the frame upright, then scales it to width x height (a side < 1 is kept)
    ref = decord.VideoReader(str(rotated[name]), width=width, height=height)
    with VideoReader(rotated[name], width=width, height=height) as vr:
        idx = [0, 5, 11]
        theirs = ref.get_batch(idx).asnumpy()
        ours = vr.get_batch(idx).numpy()
        assert vr.frame_shape == theirs.shape[1:]
        assert close_enough(ours, theirs) >= 0.999


def test_open_gop_hevc_decodes_as_decord_in_order(real_dir):
    # Why h265_video.mp4 is left out above: the frames decode identically (decord reading in
    # order from the start gives pyvidfast's frames exactly); decord's seek to frame 5 returns
    # its frame 6 (CRA pictures with leading RASL frames; decord counts its keyframes in decode
    # order and seeks forward to the next one, whose leading frame is then dropped).
    path = real_dir / "torchcodec" / "h265_video.mp4"
    in_order = decord.VideoReader(str(path)).get_batch(list(range(10))).asnumpy()
    with VideoReader(path) as vr:
        assert np.array_equal(vr.get_batch(list(range(10))).numpy(), in_order)
        assert np.array_equal(vr[5].numpy(), in_order[5])
    assert np.array_equal(decord.VideoReader(str(path))[5].asnumpy(), in_order[6])


def test_ten_bit_frames_as_decord(real_dir):
    # 10-bit 4:2:0 takes swscale's generic path in decord's FFmpeg 4.1 even at the frame's own
    # size, with its own rounding of chroma rows (Note [decord chroma rows] in io/scaler.py);
    # every frame of both clips, and the last row on its own (where decord averages two rows)
    for name in ("h264_10bits.mp4", "h265_10bits.mp4"):
        path = real_dir / "torchcodec" / name
        theirs = decord.VideoReader(str(path)).get_batch(list(range(30))).asnumpy()
        with VideoReader(path) as vr:
            ours = vr.get_batch(list(range(30))).numpy()
        assert close_enough(ours, theirs) >= 0.999, name
        assert close_enough(ours[:, -1], theirs[:, -1]) >= 0.999, name


def reference_sample(path: Path, size: tuple[int, int], fps: float, m: int, skip: float):
    """CogVideoX SAT's SFTDataset.__getitem__ on decord: its indices (test_sampling), decord's
    frames for them, then resize_for_rectangle_crop(center) and (x - 127.5) / 127.5 with the
    torchvision-equivalent resize (pyvidfast.transform.reference)."""
    vr = decord.VideoReader(str(path))
    idx, num = reference_sft(len(vr), vr.get_avg_fps(), fps, m, skip)
    # the reference reads the whole range np.arange(start, end) and picks from it: decord gives
    # other frames for the picked indices alone on some files (Note [padded count]); the range
    # past the last picked index changes nothing before it
    first = int(idx[0])
    span = vr.get_batch(list(range(first, int(idx[-1]) + 1))).asnumpy()
    picked = span[np.asarray(idx, dtype=np.int64) - first]
    frames = torch.from_numpy(picked).permute(0, 3, 1, 2)
    resize_hw = rectangle_resize_size(frames.shape[2], frames.shape[3], size)
    top, left = crop_offsets(*resize_hw, size)
    out = resize_crop_normalize_reference(frames, resize_hw, top, left, size, torch.float32, "TCHW")
    return out, num


def sft_clips(real_dir: Path, generated: list[Path]) -> list[Path]:
    clips = [p for p in corpus(real_dir) if open_decord(p) is not None]
    return clips + generated


def test_sft_dataset_matches_the_decord_procedure(real_dir, rotated, cuts, tmp_path):
    size, fps, m, skip = (32, 48), 8, 5, 3
    compared = 0
    for k, path in enumerate(sft_clips(real_dir, [*rotated.values(), *cuts.values()])):
        folder = tmp_path / f"c{k}"
        folder.mkdir()
        (folder / "clip.mp4").symlink_to(path)  # the reference only scans *.mp4
        try:
            expected, num = reference_sample(path, size, fps, m, skip)
        except (IndexError, ValueError, ZeroDivisionError, RuntimeError):
            continue  # the reference cannot load this clip (too short, decord errors)
        item = SFTDataset(str(folder), list(size), fps, m, skip)[0]
        assert item["num_frames"] == num, path
        assert pixels_agree(item["mp4"], expected, normalised=True), path
        compared += 1
    assert compared >= 30


def test_file_object_at_an_offset_gets_the_rotation(rotated):
    # the display matrix is read from the file object, relative to where the video starts
    path = rotated["frag_mp4_rot90"]
    f = io.BytesIO(b"xx" + path.read_bytes())
    f.seek(2)
    expected = decord.VideoReader(str(path))[2].asnumpy()
    with VideoReader(f) as vr:
        assert vr.frame_shape == expected.shape
        assert close_enough(vr[2].numpy(), expected) >= 0.999


@pytest.mark.xfail(
    strict=True,
    reason="Note [padded count]: a range that starts at or past decord's second keyframe (in "
    "decode order) makes decord seek, and after a seek it misnumbers the pictures of a file "
    "whose count includes discarded packets; pyvidfast gives the in-order frames",
)
@pytest.mark.parametrize("clip, fps, skip", [("iibbibb", 1, 3), ("mp4_cut_closed_gop", 8, 12)])
def test_sft_on_edit_list_files_where_decord_seeks(real_dir, cuts, tmp_path, clip, fps, skip):
    path = cuts.get(clip, real_dir / "androidx_media" / "mp4__iibbibb_editlist_videoonly.mp4")
    (tmp_path / "clip.mp4").symlink_to(path)
    expected, num = reference_sample(path, (32, 48), fps, 5, skip)
    item = SFTDataset(str(tmp_path), [32, 48], fps, 5, skip)[0]
    assert item["num_frames"] == num  # the same indices: only the frames differ
    assert pixels_agree(item["mp4"], expected, normalised=True)


@pytest.mark.parametrize(
    "pix_fmt, width, height",
    [
        ("yuv444p", 64, 48),
        ("yuv444p", 321, 241),
        ("yuvj444p", 99, 67),
        ("yuv422p", 322, 240),
        ("yuvj422p", 64, 48),
    ],
)
def test_8bit_422_and_444_frames_equal_decords(tmp_path, pix_fmt, width, height):
    """8-bit 4:2:2 and 4:4:4 take the plain conversion (io/scaler.py): exactly decord's pixels."""
    path = str(make_clip(tmp_path / f"{pix_fmt}.mp4", 6, size=(width, height), pix_fmt=pix_fmt))
    with VideoReader(path) as reader:
        ours = reader.get_batch(list(range(6))).numpy()
    theirs = decord.VideoReader(path, ctx=decord.cpu(0)).get_batch(list(range(6))).asnumpy()
    assert np.array_equal(ours, theirs)

"""NvdecVideoReader against NVDEC's measured behaviour (the stand-in, on the CPU) and on NVDEC
(``needs_cuda``). The stand-in tests fail on the bugs the H200 showed: the old timestamp rule
(stamps equal to the index's pts), SimpleDecoder-style seeking, reading a frame after the next
Decode call, and making a decoder for a file below the size limits."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
import torch
from media import frame_number, make_clip
from media_editlist import make_cut
from tolerance import LEVELS as COLOUR_TOLERANCE
from tolerance import pixels_agree

from pyvidfast.io import nvdec
from pyvidfast.io.nvdec import DecoderKey, DecoderPool, NvdecUnavailableError
from pyvidfast.io.nvdec.packets import PacketSource
from pyvidfast.io.nvdec.standin import StandinDecoder, standin_pool
from pyvidfast.io.reader import VideoReader
from pyvidfast.io.video import Video, open_video
from pyvidfast.transform import yuv_to_rgb

NASA = "torchcodec/nasa_13013.mp4"


@pytest.fixture(scope="module")
def bframes(tmp_path_factory) -> Path:
    """x264 with B-frames (dts0 - pts0 = -1024 in the MP4's 1/12288 s, as measured on the
    H200 for generated x264 clips) and a keyframe every 12 frames."""
    d = tmp_path_factory.mktemp("bframes")
    return make_clip(d / "b.mp4", 40, fps=24, size=(96, 64), options={"bf": "2", "g": "12"})


def _standin_stamps(path: Path) -> tuple[list[int], list[int]]:
    """Every stamp the stand-in gives for the file fed from its start, and the CPU index's pts."""
    decoder = StandinDecoder(_key(path))
    stamps = []
    with VideoReader(path) as cpu:
        pts = cpu.frame_pts
        for packet in [*PacketSource(cpu).packets(None), None]:
            stamps += [f.stamp for f in decoder.decode(packet)]
    return stamps, pts


def _key(path: Path) -> DecoderKey:
    with av.open(str(path)) as c:
        return DecoderKey.of(nvdec.stream_format_of(c.streams.best("video")))


# ------------------------------------------------------------------ the stand-in itself


def test_standin_stamps_are_shifted_by_dts0_minus_pts0(bframes: Path, real_dir: Path):
    """Note [stamps]: what the H200 showed, so the old rule (stamps == pts) is wrong."""
    for path, shift in ((bframes, -1024), (real_dir / NASA, -2002)):
        stamps, pts = _standin_stamps(path)
        assert VideoReader(path).info.stamp_shift == shift
        assert stamps == [p + shift for p in pts]
        assert stamps != pts  # the old pts_agree rule rejected every such file


def test_standin_unlocks_a_frame_on_the_next_call(bframes: Path):
    decoder = StandinDecoder(_key(bframes))
    frames = []
    with VideoReader(bframes) as cpu:
        packets = PacketSource(cpu).packets(None)
        while not frames:
            frames = decoder.decode(next(packets))
        luma, _ = frames[0].planes(64, 96, torch.device("cpu"))
        before = luma.clone()
        decoder.decode(next(packets))
    assert not torch.equal(luma, before)  # the buffer was reused
    with pytest.raises(RuntimeError, match="unlocked by the next Decode call"):
        frames[0].planes(64, 96, torch.device("cpu"))


def test_standin_refuses_below_the_size_limit_and_av1(tmp_path: Path):
    clip = make_clip(tmp_path / "small.mp4", 6, codec="libx265", size=(128, 128))
    assert _key(clip) == DecoderKey("HEVC", 8, 128, 128)
    decoder = StandinDecoder(_key(clip))
    with VideoReader(clip) as cpu:
        packets = [*PacketSource(cpu).packets(None), None]
    assert [f for p in packets for f in decoder.decode(p)] == []
    with pytest.raises(RuntimeError, match="AV1"):
        StandinDecoder(DecoderKey("AV1", 8, 640, 360))


# ---------------------------------------------------------- the reader over the stand-in


def test_bframe_clip_stays_on_the_gpu_path_with_exact_numbers(bframes: Path):
    pool = standin_pool(2)
    with open_video(bframes, "cpu", pool=pool) as r:
        assert isinstance(r, Video) and r.on_gpu
        idx = [39, 0, 13, 13, 27, 1, 0]
        frames = r.get_batch(idx)
        assert [frame_number(f) for f in frames.numpy()] == idx
        assert r.on_gpu, r.fallback_reason  # the old timestamp rule fell back here
        with VideoReader(bframes) as cpu:
            diff = (frames.int() - cpu.get_batch(idx).int()).abs()
        assert diff.max().item() <= COLOUR_TOLERANCE
        lumas, chromas = r.get_batch_yuv([5, 2, 5])
        assert lumas[0] is lumas[2] and lumas[0].shape == (64, 96)
        assert chromas[1].shape == (32, 48, 2)
    assert pool.created == 1 and pool.reused == 1  # one decoder served both calls


def test_edit_list_cut_has_the_cpu_count_and_frames(tmp_path: Path):
    # decord's count of a file whose edit list discards packets (Note [padded count]): the
    # indices past the last picture repeat it on either path. The discarded packets hold the
    # first GOP's keyframe, which the packet feed leaves out, so this file reads on the CPU.
    path = make_cut(tmp_path, "mp4_cut_closed_gop")
    with open_video(path, "cpu", pool=standin_pool(1)) as r, VideoReader(path) as cpu:
        n = len(cpu)
        assert len(r) == n == cpu.padded_from + 6 and r.num_decodable == n
        idx = [n - 1, 0, cpu.padded_from, 13, cpu.padded_from - 1]
        assert [frame_number(f) for f in r.get_batch(idx).numpy()] == [47, 6, 47, 19, 47]
        assert r.get_batch_resized(idx, (16, 16)).shape == (5, 3, 16, 16)


def test_nasa_after_a_seek_into_the_later_gop(real_dir: Path):
    """nasa_13013.mp4 (two video streams; keyframes at 0 and 240): SimpleDecoder's index seek
    gave frames matching no CPU frame for 238, 241, 300 and raised for 385-389."""
    path = real_dir / NASA
    fed = []

    def recording(key):
        decoder = StandinDecoder(key)
        fed.append(decoder.fed)
        return decoder

    with open_video(path, "cpu", pool=DecoderPool(recording, 1)) as r, VideoReader(path) as cpu:
        assert r.get_key_indices() == [0, 240]
        for idx in ([241, 300, 385, 386, 387, 388, 389], list(range(238, 390, 7)) + [389]):
            for packets in fed:
                packets.clear()
            got = r.get_batch(idx)
            assert r.on_gpu, r.fallback_reason
            diff = (got.int() - cpu.get_batch(idx).int()).abs()
            assert diff.max().item() <= COLOUR_TOLERANCE, idx
        # the second batch starts at 238: fed from keyframe 0 (and on through the packet of
        # keyframe 240, which precedes 238's in decode order), then sought to keyframe 240
        keys = [p.pts for p in fed[0] if p.is_keyframe]
        assert fed[0][0].pts == 0 and keys == [0, r.numbering.pts[240], r.numbering.pts[240]]
        fed[0].clear()
        r.get_batch([300])
        assert fed[0][0].pts == r.numbering.pts[240]  # our index chose where to start


def test_an_approximate_mpeg_ts_seek_is_decoded_from_the_start(real_dir: Path):
    """MPEG-TS seeks land past the keyframe (or on nothing): the run is decoded again from the
    stream's start, whose first packet is not flagged as a keyframe, and numbered from 0."""
    path = real_dir / "androidx_media/ts__sample_h264.ts"
    with open_video(path, "cpu", pool=standin_pool(1)) as r, VideoReader(path) as cpu:
        assert r.get_key_indices() == [0, 10, 20]
        idx = [29, 15, 0]
        diff = (r.get_batch(idx).int() - cpu.get_batch(idx).int()).abs()
        assert r.on_gpu, r.fallback_reason
        assert diff.max().item() <= COLOUR_TOLERANCE


def test_a_wrong_stamp_rule_falls_back_instead_of_misnumbering(bframes: Path):
    """A decoder whose stamps are not ``pts + dts0 - pts0`` (here: plain pts, the rule the
    old reader demanded) is caught by the frame order check, not silently off by two."""

    shift = VideoReader(bframes).info.stamp_shift
    assert shift != 0

    class PlainStamps(StandinDecoder):
        def decode(self, packet):
            frames = super().decode(packet)
            for f in frames:
                f.stamp -= shift  # undo the measured shift: stamps equal the pts
            return frames

    with open_video(bframes, "cpu", pool=DecoderPool(PlainStamps, 1)) as r:
        assert [frame_number(f) for f in r.get_batch([3, 30]).numpy()] == [3, 30]
        assert not r.on_gpu and "numbering is not the CPU index's" in r.fallback_reason


def test_an_exception_on_one_file_is_its_cpu_fallback(bframes: Path, tmp_path: Path):
    class Failing(StandinDecoder):
        def decode(self, packet):
            raise RuntimeError("cuvidDecodePicture failed")

    pool = DecoderPool(Failing, 1)
    with open_video(bframes, "cpu", pool=pool) as r:
        assert [frame_number(f) for f in r.get_batch([7]).numpy()] == [7]
        assert (
            r.fallback_reason
            == "NVDEC failed on this file: RuntimeError: cuvidDecodePicture failed"
        )
    assert pool.dropped == 1 and pool.live == 0  # never reused


def test_files_outside_the_caps_go_to_the_cpu_before_a_decoder(tmp_path: Path, real_dir: Path):
    small = make_clip(tmp_path / "small.mp4", 6, codec="libx265", size=(128, 128))
    pool = standin_pool(1)
    for path, reason in (
        (small, "HEVC: 128x128 is below the NVDEC minimum 144x144"),
        (real_dir / "torchcodec/av1_video.mkv", "AV1: no NVDEC support on this GPU"),
    ):
        with open_video(path, "cpu", pool=pool) as r, VideoReader(path) as cpu:
            assert not r.on_gpu and r.fallback_reason == reason
            assert torch.equal(r.get_batch([1, 0, 1]), cpu.get_batch([1, 0, 1]))
            with pytest.raises(NvdecUnavailableError):
                r.get_batch_yuv([0])
    assert pool.created == 0


def test_bytes_and_resized_batches(bframes: Path):
    with open_video(bframes.read_bytes(), "cpu", pool=standin_pool(1)) as r:
        assert r.on_gpu
        out = r.get_batch_resized([3, 3, 9], (32, 48), out_dtype=torch.float32)
        with VideoReader(bframes) as cpu:
            want = cpu.get_batch_resized([3, 3, 9], (32, 48), out_dtype=torch.float32)
        assert out.shape == want.shape == (3, 3, 32, 48)
        assert (out - want).abs().max().item() <= 2 * COLOUR_TOLERANCE / 127.5
        assert torch.equal(out[0], out[1])


def test_both_backends_share_defaults_and_the_empty_batch(bframes: Path):
    """Issue 22: one signature, one default dtype, one answer to an empty index list (decord
    0.6.0's ``get_batch([])`` is an empty batch, not an error; tests/test_decord_parity.py)."""
    with open_video(bframes, "cpu", pool=standin_pool(1)) as r, VideoReader(bframes) as cpu:
        assert r.on_gpu
        assert (
            r.get_batch_resized([2], (16, 16)).dtype == cpu.get_batch_resized([2], (16, 16)).dtype
        )
        for layout in ("TCHW", "CTHW"):
            got = r.get_batch_resized([], (16, 24), layout=layout)
            want = cpu.get_batch_resized([], (16, 24), layout=layout)
            assert got.shape == want.shape and got.dtype == want.dtype and got.numel() == 0
        assert r.get_batch([]).shape == cpu.get_batch([]).shape == (0, 64, 96, 3)


def test_videoreader_is_the_cpu_reader_and_open_video_routes(real_dir: Path):
    path = real_dir / NASA
    assert type(open_video(path)) is VideoReader
    with pytest.raises(ValueError, match=r"open_video\(source, device=...\)"):
        VideoReader(path, device="cuda")
    with pytest.raises(ValueError, match="device='meta'"):
        open_video(path, device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(NvdecUnavailableError):
            open_video(path, device="cuda")


# ------------------------------------------------------------------------- on NVDEC

NVDEC_FILES = (
    "vpf/test.mp4",
    NASA,
    "torchcodec/bt709_full_range.mp4",
    "androidx_media/mp4__bt601.mp4",
    "androidx_media/mp4__h265_bframes.mp4",
    "androidx_media/mp4__sample_android_slow_motion.mp4",
    "decord/video_0.mov",
)


def _nvdec_files(real_dir: Path) -> list[Path]:
    files = [real_dir / n for n in NVDEC_FILES if (real_dir / n).exists()]
    assert len(files) >= 5, f"NVDEC tests need the real clips in {real_dir}"
    return files


@pytest.mark.needs_cuda
def test_nvdec_matches_the_cpu_reader(real_dir: Path):
    for path in _nvdec_files(real_dir):
        with VideoReader(path) as cpu, open_video(path, "cuda") as gpu:
            assert gpu.on_gpu, (path, gpu.fallback_reason)
            n = len(cpu)
            idx = [n - 1, 0, n // 2, 0, n // 3, n - 1]
            got = gpu.get_batch(idx)
            assert got.is_cuda and got.shape == (6, *cpu.frame_shape)
            assert pixels_agree(got, cpu.get_batch(idx)), path
            assert gpu.on_gpu, (path, gpu.fallback_reason)  # no numbering fallback happened


@pytest.mark.needs_cuda
def test_nvdec_exact_frame_numbering_with_bframes(tmp_path: Path):
    clip = make_clip(
        tmp_path / "n.mp4", 60, fps=24, size=(320, 240), options={"bf": "2", "g": "12"}
    )
    with open_video(clip, "cuda") as gpu:
        idx = [59, 0, 13, 13, 37, 1]
        frames = gpu.get_batch(idx).cpu().numpy()
        assert gpu.on_gpu, gpu.fallback_reason
        assert [frame_number(f) for f in frames] == idx


@pytest.mark.needs_cuda
def test_nvdec_nasa_after_a_seek(real_dir: Path):
    path = real_dir / NASA
    with VideoReader(path) as cpu, open_video(path, "cuda") as gpu:
        idx = [238, 241, 300, 385, 386, 387, 388, 389]
        got = gpu.get_batch(idx)
        assert gpu.on_gpu, gpu.fallback_reason
        assert pixels_agree(got, cpu.get_batch(idx))


@pytest.mark.needs_cuda
def test_nvdec_decoders_are_reused_per_format(tmp_path: Path):
    clips = [
        make_clip(tmp_path / f"{i}.mp4", 8, size=(320, 240), options={"bf": "2"}) for i in range(3)
    ]
    pool = DecoderPool(nvdec.decoder_pool(0).factory, size=1)
    for path in clips:
        with open_video(path, "cuda", pool=pool) as gpu:
            gpu.get_batch([0, 7])
            assert gpu.on_gpu, gpu.fallback_reason
    assert pool.created == 1 and pool.reused == 1  # one decoder served both calls


@pytest.mark.needs_cuda
def test_nvdec_av1_falls_back_on_hopper(real_dir: Path):
    path = real_dir / "torchcodec" / "av1_video.mkv"
    if torch.cuda.get_device_capability() not in nvdec.NO_AV1_CAPABILITIES:
        pytest.skip("this GPU decodes AV1")
    with open_video(path, "cuda") as gpu, VideoReader(path) as cpu:
        assert gpu.fallback_reason == "AV1: no NVDEC support on this GPU"
        assert torch.equal(gpu.get_batch([0, 2]).cpu(), cpu.get_batch([0, 2]))


@pytest.mark.needs_cuda
def test_nvdec_yuv_copies_outlive_the_next_decode(real_dir: Path):
    path = real_dir / "vpf" / "test.mp4"
    with open_video(path, "cuda") as gpu:
        lumas, chromas = gpu.get_batch_yuv([1, 0, 1])
        gpu.get_batch([20, 21])  # the decoder's buffers are rewritten
        assert gpu.on_gpu, gpu.fallback_reason
        rgb = yuv_to_rgb(lumas, chromas, matrix=gpu.format.matrix, full_range=gpu.format.full_range)
        assert torch.equal(rgb, gpu.get_batch([1, 0, 1]))


# ------------------------------------------------------------------------------ rotation


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotated_frames_are_upright_as_decord_turns_them(bframes: Path, tmp_path: Path, rotate):
    """The NVDEC path turns the decoder's planes by decord's rule (io/orientation.py), so its
    frames, resized or not, are decord's (the CogVideoX reference reader) within colour
    tolerance."""
    import subprocess

    decord = pytest.importorskip("decord")
    from pyvidfast.transform import resize_crop_normalize

    path = tmp_path / f"rot{rotate}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(bframes), "-c", "copy"]
        + ["-metadata:s:v:0", f"rotate={rotate}", str(path)],
        check=True,
    )
    idx = [30, 2, 2, 17]
    want = torch.from_numpy(decord.VideoReader(str(path)).get_batch(idx).asnumpy())
    with open_video(path, "cpu", pool=standin_pool(1)) as r:
        assert r.on_gpu and r.applied_rotation in (90, 180, 270)  # decord's reading of the tag
        got = r.get_batch(idx)
        assert got.shape == want.shape and r.frame_shape == tuple(want.shape[1:])
        assert (got.int() - want.int()).abs().max().item() <= COLOUR_TOLERANCE
        size = (40, 24)
        resized = r.get_batch_resized(idx, size, out_dtype=torch.float32)
    expected = resize_crop_normalize(want, size, out_dtype=torch.float32)
    assert (resized - expected).abs().max().item() <= 2 * COLOUR_TOLERANCE / 127.5

"""pyvidfast.io.nvdec: the lazy import and its error, the codec decisions, index planning, surface
views, colour tags and the decoder pool on the CPU; decoding on NVDEC under ``needs_cuda``."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from media import frame_number, make_clip

from pyvidfast.io import nvdec
from pyvidfast.io.errors import FrameIndexError
from pyvidfast.io.nvdec import (
    DecoderPool,
    NvdecUnavailableError,
    StreamFormat,
    gpu_decision,
    plan_indices,
    pts_agree,
    split_packed,
    split_planes,
    stream_color,
    stream_format_of,
)
from pyvidfast.io.reader import VideoReader
from pyvidfast.transform import yuv_to_rgb

# ---------------------------------------------------------------------- the lazy import


def _loader(missing: set[str]):
    def load(name: str):
        if name in missing:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()

    return load


def test_missing_nvcuvid_is_named():
    with pytest.raises(NvdecUnavailableError) as info:
        nvdec.nvdec_module(loader=_loader({"libnvcuvid.so.1"}), importer=lambda: None)
    msg = str(info.value)
    assert msg.startswith("NVDEC decoding needs the NVIDIA driver's libnvcuvid.so.1, which")
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility,video" in msg


def test_missing_encode_library_is_named_even_for_decoding():
    imported = []
    with pytest.raises(NvdecUnavailableError) as info:
        nvdec.nvdec_module(
            loader=_loader({"libnvidia-encode.so.1"}), importer=lambda: imported.append(1)
        )
    assert "driver's libnvidia-encode.so.1, which cannot be loaded" in str(info.value)
    assert not imported  # the library check comes before importing PyNvVideoCodec


def test_both_missing_are_both_named():
    with pytest.raises(NvdecUnavailableError, match="libnvcuvid.so.1 and libnvidia-encode.so.1"):
        nvdec.nvdec_module(loader=_loader(set(nvdec.DRIVER_LIBRARIES)), importer=lambda: None)


def test_missing_package_names_the_pip_extra():
    def importer():
        raise ModuleNotFoundError("No module named 'PyNvVideoCodec'")

    with pytest.raises(NvdecUnavailableError, match=r"pip install 'pyvidfast\[gpu\]'"):
        nvdec.nvdec_module(loader=_loader(set()), importer=importer)


def test_import_failure_is_chained_with_its_first_line():
    cause = RuntimeError("Driver version is too old\n\n=== TROUBLESHOOTING STEPS ===")

    def importer():
        raise cause

    with pytest.raises(NvdecUnavailableError) as info:
        nvdec.nvdec_module(loader=_loader(set()), importer=importer)
    assert "failed to import: Driver version is too old." in str(info.value)
    assert "TROUBLESHOOTING" not in str(info.value)
    assert info.value.__cause__ is cause


def test_this_machine_gets_the_one_error():
    missing = nvdec.missing_driver_libraries()
    if not missing:
        pytest.skip("this machine has the NVDEC driver libraries")
    for _ in range(2):  # cached: the same error both times
        with pytest.raises(NvdecUnavailableError, match=missing[0]):
            nvdec.nvdec_module()
    assert not nvdec.nvdec_available()


def test_importing_pyvidfast_does_not_import_pynvvideocodec():
    import subprocess
    import sys

    code = (
        "import sys, pyvidfast, pyvidfast.io.nvdec, pyvidfast.cogvideox.gpu, "
        "pyvidfast.curation.gpu; print('PyNvVideoCodec' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_reader_without_a_gpu_says_so(real_dir: Path):
    with pytest.raises(NvdecUnavailableError, match="torch sees no CUDA device"):
        nvdec.NvdecVideoReader(real_dir / "vpf" / "test.mp4", "cuda")
    assert isinstance(nvdec.open_reader(real_dir / "vpf" / "test.mp4", "cpu"), VideoReader)


# ------------------------------------------------------------------------ decisions


def _fmt(codec="h264", pix_fmt="yuv420p", w=1920, h=1080, matrix="bt709", full=False):
    chroma, depth = nvdec._pix_fmt_layout(pix_fmt)
    return StreamFormat(codec, pix_fmt, w, h, depth, chroma, matrix, full)


@pytest.mark.parametrize(
    "fmt, capability, ok",
    [
        (_fmt(), (9, 0), True),
        (_fmt("hevc", "yuv420p10le"), (9, 0), True),
        (_fmt("vp9"), (8, 0), True),
        (_fmt("libdav1d"), (9, 0), False),  # H100/H200: no AV1 NVDEC
        (_fmt("libdav1d"), (8, 0), False),  # A100
        (_fmt("libdav1d"), (8, 9), True),  # L4 / L40S decode AV1
        (_fmt("h264", "yuv420p10le"), (9, 0), False),  # High 10: no NVDEC decoder
        (_fmt("h264", "yuv444p"), (9, 0), False),
        (_fmt("hevc", "yuv422p10le"), (9, 0), False),
        (_fmt("mpeg4"), (9, 0), False),
        (_fmt("h263"), (9, 0), False),
        (_fmt("vvc", "yuv420p10le"), (9, 0), False),
        (_fmt(matrix="smpte240m"), (9, 0), False),
    ],
)
def test_gpu_decision_table(fmt, capability, ok):
    got, reason = gpu_decision(fmt, capability)
    assert got is ok
    assert bool(reason) is not ok


def test_checker_decides_on_decode_not_pixels():
    hevc444 = _fmt("hevc", "yuv444p")
    assert gpu_decision(hevc444, (9, 0))[0] is False
    assert gpu_decision(hevc444, (9, 0), for_pixels=False)[0] is True
    assert gpu_decision(_fmt("h264", "yuv444p"), (9, 0), for_pixels=False)[0] is False
    assert gpu_decision(_fmt(matrix="smpte240m"), (9, 0), for_pixels=False)[0] is True


def test_decoder_caps_win_over_the_table():
    caps = {"num_decoder_engines": 7, "width_max": 8192, "height_max": 8192, "width_min": 48}
    assert gpu_decision(_fmt("libdav1d"), (9, 0), caps)[0] is True
    assert gpu_decision(_fmt(), (9, 0), {**caps, "num_decoder_engines": 0})[0] is False
    assert gpu_decision(_fmt(), (9, 0), {})[0] is False
    ok, reason = gpu_decision(_fmt(w=9000, h=5000), (9, 0), caps)
    assert not ok and "exceeds" in reason
    assert gpu_decision(_fmt(w=32, h=32), (9, 0), caps)[0] is False


def test_engine_table():
    assert nvdec.engines_for_name("NVIDIA H100 80GB HBM3") == 7
    assert nvdec.engines_for_name("NVIDIA H200") == 7
    assert nvdec.engines_for_name("NVIDIA A100-SXM4-80GB") == 5
    assert nvdec.engines_for_name("NVIDIA L40S") == 3
    assert nvdec.engines_for_name("NVIDIA L4") == 4
    assert nvdec.engines_for_name("NVIDIA GeForce RTX 4090") is None


@pytest.mark.parametrize(
    "name, chroma, depth, ok_on_h100",
    [
        ("vpf/test.mp4", "420", 8, True),
        ("androidx_media/mp4__h265_bframes.mp4", "420", 8, True),
        ("androidx_media/mp4__hlg10-color-test.mp4", "420", 10, True),
        ("androidx_media/mkv__sample_av1.mkv", "420", 10, False),
        ("torchcodec/av1_video.mkv", "420", 8, False),
        ("androidx_media/vp9__roadtrip-vp92-10bit.webm", "420", 10, True),
        ("androidx_media/3gp__bbb_176x144_128kbps_15fps_h263.3gp", "420", 8, False),
    ],
)
def test_real_streams(real_dir: Path, name, chroma, depth, ok_on_h100):
    path = real_dir / name
    if not path.exists():
        pytest.skip(f"{name} not in the test data")
    with av.open(str(path)) as c:
        fmt = stream_format_of(c.streams.video[0])
    assert (fmt.chroma, fmt.bit_depth) == (chroma, depth)
    assert gpu_decision(fmt, (9, 0))[0] is ok_on_h100


# ---------------------------------------------------------------------------- colour


@pytest.mark.parametrize(
    "name, matrix, full",
    [
        ("torchcodec/bt709_full_range.mp4", "bt709", True),
        ("vpf/test.mp4", "bt709", False),
        ("androidx_media/mp4__bt601.mp4", "bt601", False),
        ("androidx_media/mp4__sample_android_slow_motion.mp4", "bt601", True),
        ("androidx_media/flv__sample.flv", "bt601", False),  # untagged: swscale's BT.601
        ("androidx_media/mp4__hlg10-color-test.mp4", "bt2020", False),
    ],
)
def test_stream_color_tags(real_dir: Path, name, matrix, full):
    with av.open(str(real_dir / name)) as c:
        fmt = stream_format_of(c.streams.video[0])
    assert (fmt.matrix, fmt.full_range) == (matrix, full)


def test_stream_color_rules():
    assert stream_color(1, 1, "yuv420p") == ("bt709", False)
    assert stream_color(None, None, "yuvj420p") == ("bt601", True)
    assert stream_color(5, 2, "yuv420p") == ("bt601", True)
    assert stream_color(10, 1, "yuv420p10le") == ("bt2020", False)


def _nv12_surface(frame: av.VideoFrame, pitch_pad: int, row_align: int) -> torch.Tensor:
    """What NVDEC hands back: one pitched buffer, luma rows (padded to the coded height), then
    interleaved UV rows, every row ``pitch`` bytes."""
    h, w = frame.height, frame.width
    ch, cw = (h + 1) // 2, (w + 1) // 2
    luma, u, v = (
        np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]
        for p in frame.reformat(format="yuv420p").planes
    )
    pitch = w + pitch_pad
    rows = -(-h // row_align) * row_align
    buf = np.full((rows + rows // 2, pitch), 77, np.uint8)
    buf[:h, :w] = luma
    uv = np.stack([u, v], -1).reshape(ch, 2 * cw)
    buf[rows : rows + ch, : 2 * cw] = uv
    return torch.from_numpy(buf)


@pytest.mark.parametrize(
    "name",
    [
        "vpf/test.mp4",  # BT.709 limited
        "torchcodec/bt709_full_range.mp4",  # BT.709 full
        "androidx_media/mp4__bt601.mp4",  # BT.601 limited
        "androidx_media/mp4__sample_android_slow_motion.mp4",  # BT.601 full (yuvj)
        "androidx_media/flv__sample.flv",  # untagged
    ],
)
def test_surface_views_and_tags_reproduce_the_cpu_reader(real_dir: Path, name):
    """The GPU path's colour decisions, on the CPU: the decoder's YUV in a pitched NV12 buffer,
    cut into views by ``split_packed``, converted with the stream's tags, equals what the CPU
    reader returns within 2 levels."""
    path = real_dir / name
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        fmt = stream_format_of(stream)
        frames = []
        for f in c.decode(stream):
            frames.append(f)
            if len(frames) == 3:
                break
    lumas, chromas = [], []
    for f in frames:
        surface = _nv12_surface(f, pitch_pad=64 + f.width % 7, row_align=16)
        y, uv = split_packed(surface, f.height, f.width)
        assert y.stride(0) == surface.stride(0) and y.data_ptr() == surface.data_ptr()
        lumas.append(y)
        chromas.append(uv)
    rgb = yuv_to_rgb(lumas, chromas, matrix=fmt.matrix, full_range=fmt.full_range)
    with VideoReader(path) as reader:
        want = reader.get_batch([0, 1, 2])
    diff = (rgb.int() - want.int()).abs()
    assert diff.max().item() <= 2, (name, diff.max().item(), diff.float().mean().item())


def test_split_planes_forms_and_odd_sizes():
    g = torch.Generator().manual_seed(0)
    h, w = 7, 9
    ch, cw = 4, 5
    pitch = 32
    luma = torch.randint(0, 256, (h + 1, pitch), dtype=torch.uint8, generator=g)
    uv = torch.randint(0, 256, (ch, pitch), dtype=torch.uint8, generator=g)
    y, c = split_planes(luma, uv, h, w)
    assert y.shape == (h, w) and c.shape == (ch, cw, 2)
    assert torch.equal(c[:, :, 0], uv[:, 0 : 2 * cw : 2]) and torch.equal(
        c[:, :, 1], uv[:, 1 : 2 * cw : 2]
    )
    assert c.data_ptr() == uv.data_ptr()  # a view
    # [h, w, 1] luma and [ch, cw, 2] chroma (per-plane __cuda_array_interface__ shapes)
    y3, c3 = split_planes(luma[:, :, None], uv[:, : 2 * cw].reshape(ch, cw, 2), h, w)
    assert torch.equal(y3, y) and torch.equal(c3, c)
    # 16-bit (P016)
    l16 = torch.randint(0, 1 << 15, (h, pitch), dtype=torch.int16, generator=g).view(torch.uint16)
    c16 = torch.randint(0, 1 << 15, (ch, pitch), dtype=torch.int16, generator=g).view(torch.uint16)
    y16, cc16 = split_planes(l16, c16, h, w)
    assert y16.dtype == torch.uint16 and cc16.shape == (ch, cw, 2)
    with pytest.raises(ValueError):
        split_planes(luma[:3], uv, h, w)
    with pytest.raises(ValueError):
        split_planes(luma, uv[:, : 2 * cw - 1], h, w)


def test_split_packed_uses_the_coded_height():
    h, w, coded, pitch = 1080, 1920, 1088, 2048
    buf = torch.zeros((coded * 3 // 2, pitch), dtype=torch.uint8)
    buf[coded:, :] = 200  # UV starts after the padded luma rows
    buf[1080:coded, :] = 9  # padding rows must not be read as chroma
    y, c = split_packed(buf, h, w)
    assert y.shape == (h, w) and c.shape == (540, 960, 2)
    assert int(c.min()) == 200
    y1, c1 = split_packed(buf[None], h, w)  # a [1, rows, pitch] export
    assert torch.equal(y1, y) and torch.equal(c1, c)
    with pytest.raises(ValueError):
        split_packed(buf[:100], h, w)


# --------------------------------------------------------------------------- indices


def test_plan_indices_repeats_order_negative():
    distinct, rows = plan_indices([5, 3, 5, -1, 3, 0], 10)
    assert distinct == [0, 3, 5, 9]
    assert [distinct[r] for r in rows] == [5, 3, 5, 9, 3, 0]
    distinct, rows = plan_indices(torch.tensor([2, 2, 2]), 3)
    assert distinct == [2] and rows == [0, 0, 0]
    assert plan_indices([], 4) == ([], [])


def test_plan_indices_rejects_bad_indices():
    with pytest.raises(FrameIndexError, match="frame index 10 out of range for 10 frames"):
        plan_indices([1, 10], 10)
    with pytest.raises(FrameIndexError):
        plan_indices([-11], 10)
    with pytest.raises(TypeError):
        plan_indices([1.5], 10)


class FakeSimpleDecoder:
    """PyNvVideoCodec's documented SimpleDecoder contract, frames standing for frame numbers:
    ``get_batch_frames_by_index`` drops duplicate and out-of-range indices (warning for the
    latter, as SimpleDecoder.py does) and returns the others in the order given;
    ``reconfigure_decoder`` points the decoder at a new source. Concurrency is tracked."""

    active = 0
    max_active = 0
    lock = threading.Lock()

    def __init__(self, source, frames: int = 10):
        self.source = source
        self.frames = frames
        self.reconfigures = 0
        time.sleep(0.005)  # creation is the expensive part

    def __len__(self):
        return self.frames

    def reconfigure_decoder(self, source):
        self.source = source
        self.reconfigures += 1

    def get_batch_frames_by_index(self, indices):
        seen, out = set(), []
        for i in indices:
            if not 0 <= i < self.frames:
                warnings.warn(f"Skipping index {i}: Out of valid range", stacklevel=2)
                continue
            if i not in seen:
                seen.add(i)
                out.append((self.source, i))
        return out


def test_raw_indices_lose_frames_and_the_plan_restores_them():
    dec = FakeSimpleDecoder("a.mp4")
    wanted = [3, 1, 3, 3, 0]
    assert len(dec.get_batch_frames_by_index(wanted)) == 3  # what the decoder alone gives
    distinct, rows = plan_indices(wanted, len(dec))
    got = dec.get_batch_frames_by_index(distinct)
    assert [got[r][1] for r in rows] == wanted


def _use(pool: DecoderPool, source: str, hold: float = 0.0):
    with pool.acquire(source) as dec:
        with FakeSimpleDecoder.lock:
            FakeSimpleDecoder.active += 1
            FakeSimpleDecoder.max_active = max(
                FakeSimpleDecoder.max_active, FakeSimpleDecoder.active
            )
        assert dec.source == source
        time.sleep(hold)
        with FakeSimpleDecoder.lock:
            FakeSimpleDecoder.active -= 1
        return dec


def test_pool_reuses_by_reconfiguring():
    pool = DecoderPool(FakeSimpleDecoder, size=3)
    decs = [_use(pool, f"{i}.mp4") for i in range(5)]
    assert pool.created == 1 and pool.reconfigured == 4
    assert all(d is decs[0] for d in decs) and decs[0].reconfigures == 4
    assert pool.live == 1 and pool.idle == 1


def test_pool_never_exceeds_its_size_under_threads():
    FakeSimpleDecoder.active = FakeSimpleDecoder.max_active = 0
    pool = DecoderPool(FakeSimpleDecoder, size=2)
    threads = [threading.Thread(target=_use, args=(pool, f"{i}.mp4", 0.01)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert FakeSimpleDecoder.max_active <= 2
    assert pool.created <= 2 and pool.created + pool.reconfigured == 12
    assert pool.live == pool.idle == pool.created


def test_pool_drops_a_decoder_that_failed():
    pool = DecoderPool(FakeSimpleDecoder, size=1)
    with pytest.raises(RuntimeError):
        with pool.acquire("bad.mp4"):
            raise RuntimeError("decode error")
    assert pool.live == 0 and pool.dropped == 1
    _use(pool, "good.mp4")  # the slot is free again: no deadlock, a fresh decoder
    assert pool.created == 2 and pool.reconfigured == 0

    def broken_factory(source):
        raise OSError("cannot create")

    pool = DecoderPool(broken_factory, size=1)
    for _ in range(2):  # a failed creation frees its slot too
        with pytest.raises(OSError):
            with pool.acquire("x.mp4"):
                pass
    assert pool.live == 0


def test_pts_agree():
    assert pts_agree([10, 20, 30], [10, 20, 30])
    assert not pts_agree([11, 21], [10, 20])  # frames off by one in a constant-rate clip
    assert not pts_agree([10, 25], [10, 20])
    assert not pts_agree([10, None], [10, 20])
    assert not pts_agree([10], [10, 20])


# ------------------------------------------------------------------------- on NVDEC

COLOUR_TOLERANCE = 2  # gpu.md: agreement within 2 levels on 8-bit content


def _nvdec_files(real_dir: Path) -> list[Path]:
    names = [
        "vpf/test.mp4",
        "torchcodec/nasa_13013.mp4",
        "torchcodec/bt709_full_range.mp4",
        "androidx_media/mp4__bt601.mp4",
        "androidx_media/mp4__h265_bframes.mp4",
        "androidx_media/mp4__sample_android_slow_motion.mp4",
        "decord/video_0.mov",
    ]
    files = [real_dir / n for n in names if (real_dir / n).exists()]
    assert len(files) >= 5, f"NVDEC tests need the real clips in {real_dir}"
    return files


@pytest.mark.needs_cuda
def test_nvdec_matches_the_cpu_reader(real_dir: Path):
    for path in _nvdec_files(real_dir):
        with VideoReader(path) as cpu, nvdec.NvdecVideoReader(path, "cuda") as gpu:
            assert gpu.on_gpu, (path, gpu.fallback_reason)
            assert len(gpu) == len(cpu) and gpu.get_avg_fps() == cpu.get_avg_fps()
            n = len(cpu)
            idx = [n - 1, 0, n // 2, 0, n // 3, n - 1]
            got = gpu.get_batch(idx)
            assert got.is_cuda and got.dtype == torch.uint8 and got.shape == (6, *cpu.frame_shape)
            diff = (got.cpu().int() - cpu.get_batch(idx).int()).abs()
            assert diff.max().item() <= COLOUR_TOLERANCE + 1, (path, diff.max().item())
            assert diff.float().mean().item() < 0.5, path
            assert gpu.on_gpu, (path, gpu.fallback_reason)  # no numbering fallback happened


@pytest.mark.needs_cuda
def test_nvdec_exact_frame_numbering(tmp_path: Path):
    clip = make_clip(
        tmp_path / "n.mp4", 60, fps=24, size=(320, 240), options={"bf": "2", "g": "12"}
    )
    with nvdec.NvdecVideoReader(clip, "cuda") as gpu:
        assert gpu.on_gpu, gpu.fallback_reason
        idx = [59, 0, 13, 13, 37, 1]
        frames = gpu.get_batch(idx).cpu().numpy()
        assert [frame_number(f) for f in frames] == idx


@pytest.mark.needs_cuda
def test_nvdec_decoders_are_reused_across_files(real_dir: Path):
    pool = nvdec.DecoderPool(nvdec.decoder_pool(0).factory, size=1)
    files = _nvdec_files(real_dir)
    for path in files:
        with nvdec.NvdecVideoReader(path, "cuda", pool=pool) as gpu:
            gpu.get_batch([0])
    assert pool.created == 1 and pool.reconfigured == len(files) - 1


@pytest.mark.needs_cuda
def test_av1_falls_back_on_hopper_once(real_dir: Path, caplog):
    path = real_dir / "torchcodec" / "av1_video.mkv"
    if torch.cuda.get_device_capability() not in nvdec.NO_AV1_CAPABILITIES:
        pytest.skip("this GPU decodes AV1")
    nvdec._warned.clear()
    with caplog.at_level("WARNING", logger="pyvidfast.io.nvdec"):
        for _ in range(2):
            with nvdec.NvdecVideoReader(path, "cuda") as gpu:
                assert not gpu.on_gpu and "AV1" in gpu.fallback_reason
                with VideoReader(path) as cpu:
                    assert torch.equal(gpu.get_batch([0, 2]).cpu(), cpu.get_batch([0, 2]))
    assert sum("reading on the CPU" in r.message for r in caplog.records) == 1


@pytest.mark.needs_cuda
def test_nvdec_yuv_views_are_owned_copies(real_dir: Path):
    path = real_dir / "vpf" / "test.mp4"
    with nvdec.NvdecVideoReader(path, "cuda") as gpu:
        lumas, chromas = gpu.get_batch_yuv([1, 0, 1])
        assert lumas[0].data_ptr() == lumas[2].data_ptr()
        rgb = yuv_to_rgb(lumas, chromas, matrix=gpu.format.matrix, full_range=gpu.format.full_range)
        assert torch.equal(rgb, gpu.get_batch([1, 0, 1]))


# ------------------------------------------- the reader's logic, with a stand-in decoder


class FakeFrame:
    """A NATIVE frame as PyNvVideoCodec gives it: ``__dlpack__`` (a pitched NV12 surface whose
    luma rows are padded to the coded height) and ``getPTS()``."""

    def __init__(self, frame: av.VideoFrame):
        self.surface = _nv12_surface(frame, pitch_pad=32, row_align=16)
        self.pts = frame.pts

    def __dlpack__(self, stream=None):
        return self.surface.__dlpack__()

    def __dlpack_device__(self):
        return self.surface.__dlpack_device__()

    def getPTS(self):  # noqa: N802
        return self.pts


class DecodingFake(FakeSimpleDecoder):
    """The SimpleDecoder contract over real decoded frames (PyAV), optionally off by ``skew``
    frames (what a decoder that numbers frames differently would return)."""

    def __init__(self, source, skew: int = 0, extra: int = 0):
        super().__init__(source)
        self.skew, self.extra = skew, extra
        self._load(source)

    def _load(self, source):
        with av.open(source) as c:
            self.decoded = list(c.decode(c.streams.video[0]))
        self.frames = len(self.decoded) + self.extra

    def reconfigure_decoder(self, source):
        super().reconfigure_decoder(source)
        self._load(source)

    def get_batch_frames_by_index(self, indices):
        kept = super().get_batch_frames_by_index(indices)
        return [FakeFrame(self.decoded[min(i + self.skew, len(self.decoded) - 1)]) for _, i in kept]


@pytest.fixture
def cpu_reader(monkeypatch):
    """NvdecVideoReader whose 'device' is the CPU and whose decoder is a stand-in: the index
    planning, timestamp verification, surface views, colour and fallback logic run for real."""
    monkeypatch.setattr(nvdec, "_cuda_device", lambda device: torch.device("cpu"))
    monkeypatch.setattr(
        nvdec.NvdecVideoReader, "_decide", lambda self: gpu_decision(self.format, (9, 0))
    )
    nvdec._warned.clear()
    return nvdec.NvdecVideoReader


@pytest.fixture(scope="module")
def numbered(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("numbered")
    return make_clip(d / "n.mp4", 40, fps=24, size=(96, 64), options={"bf": "2", "g": "12"})


def test_reader_restores_order_and_repeats(cpu_reader, numbered: Path):
    pool = DecoderPool(DecodingFake, size=2)
    with cpu_reader(numbered, "cuda", pool=pool) as r:
        assert r.on_gpu and len(r) == 40
        idx = [39, 0, 13, 13, 27, 1, 0]
        frames = r.get_batch(idx).numpy()
        assert [frame_number(f) for f in frames] == idx
        with VideoReader(numbered) as cpu:
            diff = (r.get_batch(idx).int() - cpu.get_batch(idx).int()).abs()
        assert diff.max().item() <= 2
        lumas, chromas = r.get_batch_yuv([5, 2, 5])
        assert lumas[0].data_ptr() == lumas[2].data_ptr() and lumas[0].shape == (64, 96)
        assert chromas[1].shape == (32, 48, 2)
    assert pool.created == 1 and pool.reconfigured == 2  # one decoder served all three calls


def test_reader_falls_back_when_numbering_differs(cpu_reader, numbered: Path, caplog):
    def skewed(source):
        return DecodingFake(source, skew=1)

    with caplog.at_level("WARNING", logger="pyvidfast.io.nvdec"):
        for _ in range(2):
            with cpu_reader(numbered, "cuda", pool=DecoderPool(skewed, 1)) as r:
                frames = r.get_batch([3, 7]).numpy()
                assert [frame_number(f) for f in frames] == [3, 7]  # the CPU reader's frames
                assert not r.on_gpu and "numbering differs" in r.fallback_reason
    assert sum("reading on the CPU" in rec.message for rec in caplog.records) == 1

    def longer(source):
        return DecodingFake(source, extra=2)

    with cpu_reader(numbered, "cuda", pool=DecoderPool(longer, 1)) as r:
        assert [frame_number(f) for f in r.get_batch([0]).numpy()] == [0]
        assert "NVDEC sees 42 frames" in r.fallback_reason


def test_reader_spills_bytes_for_reconfigure(cpu_reader, numbered: Path):
    pool = DecoderPool(DecodingFake, size=1)
    r = cpu_reader(numbered.read_bytes(), "cuda", pool=pool)
    spill = r._source
    assert isinstance(spill, str) and Path(spill).exists()
    assert [frame_number(f) for f in r.get_batch([2, 30]).numpy()] == [2, 30]
    r.close()
    assert not Path(spill).exists()


def test_reader_falls_back_for_av1_and_says_why(cpu_reader, real_dir: Path):
    path = real_dir / "torchcodec" / "av1_video.mkv"
    with cpu_reader(path, "cuda", pool=DecoderPool(DecodingFake, 1)) as r, VideoReader(path) as c:
        assert not r.on_gpu and "AV1" in r.fallback_reason
        assert torch.equal(r.get_batch([1, 0, 1]), c.get_batch([1, 0, 1]))
        with pytest.raises(NvdecUnavailableError):
            r.get_batch_yuv([0])


def test_videoreader_device_argument(real_dir):
    import pyvidfast

    path = real_dir / "torchcodec" / "nasa_13013.mp4"
    assert type(pyvidfast.VideoReader(path, device="cpu")).__name__ == "VideoReader"
    with pytest.raises(ValueError, match="device='meta'"):
        pyvidfast.VideoReader(path, device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(NvdecUnavailableError):
            pyvidfast.VideoReader(path, device="cuda")

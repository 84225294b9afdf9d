"""pyvidfast.io.nvdec: the lazy import and its error, the codec decisions, index planning, surface
views, colour tags and the decoder pool on the CPU; decoding on NVDEC under ``needs_cuda``."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from pyvidfast.io import nvdec
from pyvidfast.io.errors import FrameIndexError
from pyvidfast.io.nvdec import (
    NvdecUnavailableError,
    StreamFormat,
    gpu_decision,
    plan_indices,
    split_packed,
    split_planes,
    stream_color,
    stream_format_of,
)
from pyvidfast.io.reader import VideoReader
from pyvidfast.io.stream_format import pix_fmt_layout
from pyvidfast.io.video import open_video
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
    with pytest.raises(NvdecUnavailableError, match="^no CUDA device: torch "):
        nvdec.NvdecVideoReader(real_dir / "vpf" / "test.mp4", "cuda")
    with pytest.raises(NvdecUnavailableError):
        open_video(real_dir / "vpf" / "test.mp4", "cuda")
    assert isinstance(open_video(real_dir / "vpf" / "test.mp4", "cpu"), VideoReader)


# ------------------------------------------------------------------------ decisions


def _fmt(codec="h264", pix_fmt="yuv420p", w=1920, h=1080, matrix="bt709", full=False):
    chroma, depth = pix_fmt_layout(pix_fmt)
    return StreamFormat(codec, pix_fmt, w, h, depth, chroma, matrix, full)


@pytest.mark.parametrize(
    "fmt, capability, reason",
    [
        (_fmt(), (9, 0), ""),
        (_fmt("hevc", "yuv420p10le"), (9, 0), ""),
        (_fmt("vp9", w=640, h=360), (8, 0), ""),
        (_fmt("libdav1d"), (9, 0), "AV1: no NVDEC support on this GPU"),  # H100/H200
        (_fmt("libdav1d"), (8, 0), "AV1: no NVDEC support on this GPU"),  # A100
        (_fmt("libdav1d"), None, "AV1: no NVDEC support on this GPU"),  # GPU unknown
        (_fmt("libdav1d"), (8, 9), ""),  # L4 / L40S decode AV1
        (_fmt("h264", "yuv420p10le"), (9, 0), "H264: 10-bit is not decoded by NVDEC here"),
        (_fmt("vp9", "yuv420p10le"), (9, 0), "VP9: 10-bit is not decoded by NVDEC here"),
        (_fmt("h264", "yuv444p"), (9, 0), "H264 yuv444p: chroma 444 is not NV12/P016"),
        (_fmt("hevc", "yuv422p10le"), (9, 0), "HEVC yuv422p10le: chroma 422"),
        (_fmt("mpeg4"), (9, 0), "mpeg4: not decoded on NVDEC here"),
        (_fmt("h263"), (9, 0), "h263: not decoded on NVDEC here"),
        (_fmt(matrix="smpte240m"), (9, 0), "H264: colour matrix smpte240m"),
        # the H200's limits (Note [measured caps] in io/nvdec/caps.py), each reason naming codec
        # and limit
        (_fmt("hevc", w=128, h=128), (9, 0), "HEVC: 128x128 is below the NVDEC minimum 144x144"),
        (_fmt("hevc", w=144, h=144), (9, 0), ""),
        (_fmt("vp9", w=161, h=121), (9, 0), "VP9: 161x121 is below the NVDEC minimum 128x128"),
        (_fmt(w=48, h=16), (9, 0), ""),
        (_fmt(w=46, h=16), (9, 0), "H264: 46x16 is below the NVDEC minimum 48x16"),
        (_fmt(w=4096, h=4096), (9, 0), ""),
        (_fmt(w=4112, h=2160), (9, 0), "H264: 4112x2160 is above the NVDEC maximum 4096x4096"),
        (_fmt("hevc", w=8192, h=4320), (9, 0), ""),
    ],
)
def test_gpu_decision_table(fmt, capability, reason):
    ok, got = gpu_decision(fmt, capability)
    assert ok is (reason == "")
    assert got.startswith(reason) and bool(got) is not ok


def test_checker_decides_on_decode_not_pixels():
    hevc444 = _fmt("hevc", "yuv444p")
    assert gpu_decision(hevc444, (9, 0))[0] is False
    assert gpu_decision(hevc444, (9, 0), for_pixels=False)[0] is True
    assert gpu_decision(_fmt("h264", "yuv444p"), (9, 0), for_pixels=False)[0] is False
    assert gpu_decision(_fmt(matrix="smpte240m"), (9, 0), for_pixels=False)[0] is True


def test_decoder_caps_win_over_the_table():
    caps = {
        "num_decoder_engines": 7,
        "width_max": 8192,
        "height_max": 8192,
        "width_min": 48,
        "height_min": 16,
    }
    assert gpu_decision(_fmt("libdav1d"), (9, 0), caps).ok is True
    assert gpu_decision(_fmt(w=8000, h=4000), (9, 0), caps).ok is True  # beyond the table
    no = gpu_decision(_fmt(), (9, 0), {**caps, "num_decoder_engines": 0})
    assert no == (False, "H264 8-bit: GetDecoderCaps reports no NVDEC support")
    assert gpu_decision(_fmt(), (9, 0), {}).ok is False
    assert gpu_decision(_fmt(w=9000, h=5000), (9, 0), caps).reason == (
        "H264: 9000x5000 is above the NVDEC maximum 8192x8192"
    )
    assert gpu_decision(_fmt(w=32, h=32), (9, 0), caps).ok is False


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
        ("androidx_media/vp9__roadtrip-vp92-10bit.webm", "420", 10, False),  # 8-bit VP9 only
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

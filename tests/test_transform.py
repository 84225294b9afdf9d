"""resize_crop_normalize: native CPU kernel against the torch reference (the CogVideoX chain)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import pyvidfast._extension as ext
from pyvidfast.transform import crop_offsets, rectangle_resize_size, resize_crop_normalize
from pyvidfast.transform.reference import normalize, resize_uint8

needs_native = pytest.mark.skipif(not ext.has_native(), reason="pyvidfast._C not built")

OUT_DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.uint8]


def assert_close_u8(actual: torch.Tensor, expected: torch.Tensor, device: str = "cpu") -> None:
    """The one tolerance rule for uint8 results: >= 99.99% equal, never off by more than 1.

    Against torch's DEFAULT CPU kernels the native result is identical (see
    test_bit_exact_against_aten_without_fma). torch's AVX2/AVX512 kernels fuse multiply-adds; the
    native FMA mode follows them (Note [FMA mode] in csrc/transform/resize_weights.h) but still
    differs on a few pixels per million.
    """
    assert actual.dtype == expected.dtype == torch.uint8
    assert actual.shape == expected.shape
    diff = (actual.to("cpu", torch.int16) - expected.to("cpu", torch.int16)).abs()
    max_mismatch = {"cpu": 1e-4, "cuda": 1e-4}[device]
    assert diff.max().item() <= 1, f"max diff {diff.max().item()}"
    assert (diff > 0).double().mean().item() <= max_mismatch, (diff > 0).double().mean().item()


def rand_frames(t, h, w, seed=0, layout="THWC"):
    g = torch.Generator().manual_seed(seed)
    shape = (t, h, w, 3) if layout == "THWC" else (t, 3, h, w)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)


def reference_u8(frames_thwc, size, resize_hw=None, crop="center"):
    return resize_crop_normalize(
        frames_thwc,
        size,
        crop=crop,
        out_dtype=torch.uint8,
        resize_hw=resize_hw,
        backend="reference",
    )


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    "hw, resized, tl",
    [
        ((1080, 1920), (480, 853), (0, 66)),
        ((480, 640), (540, 720), (30, 0)),
        ((1920, 1080), (1280, 720), (400, 0)),
        ((480, 720), (480, 720), (0, 0)),
    ],
)
def test_rectangle_rule_spec_examples(hw, resized, tl):
    assert rectangle_resize_size(*hw, (480, 720)) == resized
    assert crop_offsets(*resized, (480, 720), "center") == tl


def test_rectangle_rule_matches_formula_everywhere():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        h, w, th, tw = (int(v) for v in rng.integers(1, 3000, size=4))
        rh, rw = rectangle_resize_size(h, w, (th, tw))
        if w / h > tw / th:
            assert (rh, rw) == (th, int(w * th / h))
        else:
            assert (rh, rw) == (int(h * tw / w), tw)
        assert rh >= th and rw >= tw


def test_crop_offsets_random_is_reproducible_and_covers_range():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = [crop_offsets(10, 12, (7, 8), "random", g1) for _ in range(200)]
    b = [crop_offsets(10, 12, (7, 8), "random", g2) for _ in range(200)]
    assert a == b
    assert {t for t, _ in a} == {0, 1, 2, 3} and {left for _, left in a} == {0, 1, 2, 3, 4}
    n1 = [crop_offsets(10, 12, (7, 8), "random", np.random.default_rng(5)) for _ in range(3)]
    assert len(set(n1)) == 1
    assert crop_offsets(10, 12, (7, 8), (3, 4)) == (3, 4)


# ---------------------------------------------------------------- native vs reference


CASES = [
    # (input h, w), size, resize_hw (None: the rectangle rule)
    ((1080, 1920), (480, 720), None),  # downscale both axes, crop width
    ((480, 640), (480, 720), None),  # upscale both axes, crop height
    ((1920, 1080), (480, 720), None),  # portrait
    ((480, 720), (480, 720), None),  # equal size: passthrough
    ((37, 53), (17, 29), None),  # odd sizes
    ((61, 47), (61, 30), (61, 33)),  # height kept, width resized
    ((40, 47), (50, 47), (55, 47)),  # width kept, height resized
    ((1, 1), (2, 2), None),  # tiny upscale
    ((2, 2), (1, 1), None),  # tiny downscale
    ((1, 1), (1, 1), None),
    ((5, 3), (7, 7), None),
    ((300, 400), (8, 9), None),  # large downscale factor: > 13 taps (generic tap loop)
    ((90, 160), (120, 150), None),  # mild upscale
    ((200, 210), (130, 150), None),
]


@needs_native
@pytest.mark.parametrize("hw, size, resize_hw", CASES)
def test_native_matches_reference_random_frames(hw, size, resize_hw):
    x = rand_frames(2, *hw, seed=hash(hw) % 1000)
    native = resize_crop_normalize(x, size, out_dtype=torch.uint8, resize_hw=resize_hw)
    ref = reference_u8(x, size, resize_hw)
    assert native.shape == (2, 3, *size)
    assert_close_u8(native, ref)


@needs_native
@pytest.mark.parametrize("out_dtype", OUT_DTYPES)
@pytest.mark.parametrize("layout", ["TCHW", "CTHW"])
def test_every_dtype_and_layout(out_dtype, layout):
    x = rand_frames(3, 96, 160, seed=1)
    size = (64, 80)
    out = resize_crop_normalize(x, size, out_dtype=out_dtype, layout=layout)
    u8 = resize_crop_normalize(x, size, out_dtype=torch.uint8)  # [T, 3, H, W]
    assert out.dtype == out_dtype and out.is_contiguous()
    expected = normalize(u8, out_dtype)  # exactly ((u8 - 127.5) / 127.5).to(out_dtype)
    if layout == "CTHW":
        assert out.shape == (3, 3, *size)
        expected = expected.permute(1, 0, 2, 3)
    else:
        assert out.shape == (3, 3, *size)
    assert torch.equal(out, expected)
    ref = resize_crop_normalize(x, size, out_dtype=torch.uint8, backend="reference")
    assert_close_u8(u8, ref)


@needs_native
@pytest.mark.parametrize("out_dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_normalisation_exact_for_all_256_levels(out_dtype):
    # Equal size: no resize, so every level reaches the normalisation unchanged.
    x = torch.arange(256, dtype=torch.uint8).repeat(2 * 16).reshape(2, 16, 16, 16)[..., :3]
    x = x.contiguous()
    out = resize_crop_normalize(x, (16, 16), out_dtype=out_dtype)
    expected = ((x.permute(0, 3, 1, 2).float() - 127.5) / 127.5).to(out_dtype)
    assert torch.equal(out, expected)
    assert torch.equal(
        out, resize_crop_normalize(x, (16, 16), out_dtype=out_dtype, backend="reference")
    )


@needs_native
def test_bit_exact_against_aten_without_fma(tmp_path):
    """With ATen's non-vectorised kernels (no FMA contraction) the result is identical.

    This pins the weight arithmetic (mixed float/double steps of ATen's
    _compute_indices_min_size_weights_aa) and the tap order, not just a tolerance.
    """
    script = textwrap.dedent(
        """
        import sys, torch
        from pyvidfast.transform import resize_crop_normalize
        g = torch.Generator().manual_seed(11)
        cases = [((2, 1080, 1920, 3), (480, 720)), ((2, 480, 640, 3), (480, 720)),
                 ((2, 1920, 1080, 3), (480, 720)), ((2, 37, 53, 3), (17, 29)),
                 ((2, 300, 400, 3), (8, 9))]
        for shape, size in cases:
            x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
            a = resize_crop_normalize(x, size, out_dtype=torch.uint8)
            b = resize_crop_normalize(x, size, out_dtype=torch.uint8, backend="reference")
            n = (a != b).sum().item()
            print(shape, size, n)
            if n:
                sys.exit(1)
        """
    )
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------- inputs


@needs_native
def test_non_contiguous_inputs():
    base = rand_frames(4, 70, 90, seed=2)
    size = (40, 50)
    expected = reference_u8(base.contiguous(), size)

    tchw = base.permute(0, 3, 1, 2).contiguous()  # planar memory
    channels_last_view = tchw.permute(0, 2, 3, 1)  # THWC view of planar memory
    assert not channels_last_view.is_contiguous()
    assert_close_u8(
        resize_crop_normalize(channels_last_view, size, out_dtype=torch.uint8), expected
    )
    # [T, 3, H, W] view of channels-last memory
    assert_close_u8(
        resize_crop_normalize(base.permute(0, 3, 1, 2), size, out_dtype=torch.uint8), expected
    )
    # RGBA memory sliced to RGB (pixel stride 4)
    rgba = torch.cat([base, torch.full_like(base[..., :1], 7)], dim=-1)
    assert_close_u8(resize_crop_normalize(rgba[..., :3], size, out_dtype=torch.uint8), expected)
    # sliced in time, height and width
    big = rand_frames(8, 150, 200, seed=4)
    sliced = big[::2, 3:143:2, 10:190]
    assert not sliced.is_contiguous()
    assert_close_u8(
        resize_crop_normalize(sliced, size, out_dtype=torch.uint8),
        reference_u8(sliced.contiguous(), size),
    )
    # exact equality between the strided and contiguous native runs
    for view in (channels_last_view, base.permute(0, 3, 1, 2), rgba[..., :3]):
        assert torch.equal(resize_crop_normalize(view, size), resize_crop_normalize(base, size))


@needs_native
def test_batched_equals_per_frame_and_thread_count_does_not_matter():
    x = rand_frames(5, 123, 211, seed=5)
    size = (64, 96)
    batched = resize_crop_normalize(x, size, out_dtype=torch.bfloat16, num_threads=3)
    for i in range(5):
        single = resize_crop_normalize(x[i : i + 1], size, out_dtype=torch.bfloat16, num_threads=1)
        assert torch.equal(batched[i : i + 1], single)
    assert torch.equal(
        batched, resize_crop_normalize(x, size, out_dtype=torch.bfloat16, num_threads=1)
    )
    # one frame split into many row bands
    assert torch.equal(
        resize_crop_normalize(x[:1], size, num_threads=8),
        resize_crop_normalize(x[:1], size, num_threads=1),
    )


@needs_native
def test_numpy_input():
    x = rand_frames(2, 50, 60, seed=6)
    out = resize_crop_normalize(x.numpy(), (30, 40))
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, resize_crop_normalize(x, (30, 40)))
    flipped = x.numpy()[:, ::-1]  # negative strides: copied, since torch cannot view them
    assert torch.equal(
        resize_crop_normalize(flipped, (30, 40)),
        resize_crop_normalize(torch.from_numpy(flipped.copy()), (30, 40)),
    )


def test_ambiguous_layout_rule_and_override():
    x = rand_frames(2, 3, 5, seed=7)  # [2, 3, 5, 3]: channels-last by the rule
    a = resize_crop_normalize(x, (3, 5), out_dtype=torch.uint8)
    assert torch.equal(a, x.permute(0, 3, 1, 2))
    b = resize_crop_normalize(x, (5, 3), out_dtype=torch.uint8, input_layout="TCHW")
    assert torch.equal(b, x)


def test_empty_time_axis():
    x = torch.zeros(0, 20, 30, 3, dtype=torch.uint8)
    for backend in ("auto", "reference"):
        out = resize_crop_normalize(x, (10, 12), backend=backend)
        assert out.shape == (0, 3, 10, 12)


def test_passthrough_returns_new_tensor():
    x = rand_frames(2, 12, 14, seed=8, layout="TCHW")
    for backend in ("auto", "reference"):
        out = resize_crop_normalize(x, (12, 14), out_dtype=torch.uint8, backend=backend)
        assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


# ---------------------------------------------------------------- crop


@needs_native
def test_crop_modes():
    x = rand_frames(2, 100, 160, seed=9)
    size = (60, 70)
    rh, rw = rectangle_resize_size(100, 160, size)  # (60, 96)
    full = resize_crop_normalize(x, (rh, rw), out_dtype=torch.uint8)
    center = resize_crop_normalize(x, size, out_dtype=torch.uint8)
    top, left = (rh - 60) // 2, (rw - 70) // 2
    assert torch.equal(center, full[..., top : top + 60, left : left + 70])
    explicit = resize_crop_normalize(x, size, crop=(0, 5), out_dtype=torch.uint8)
    assert torch.equal(explicit, full[..., 0:60, 5:75])
    r1 = resize_crop_normalize(
        x, size, crop="random", generator=torch.Generator().manual_seed(1), out_dtype=torch.uint8
    )
    r2 = resize_crop_normalize(
        x, size, crop="random", generator=torch.Generator().manual_seed(1), out_dtype=torch.uint8
    )
    assert torch.equal(r1, r2)
    t, lft = crop_offsets(rh, rw, size, "random", torch.Generator().manual_seed(1))
    assert torch.equal(r1, full[..., t : t + 60, lft : lft + 70])


# ---------------------------------------------------------------- real frames


def _decode(path, n):
    av = pytest.importorskip("av")
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == n:
                break
    return torch.from_numpy(np.stack(frames))


@needs_native
@pytest.mark.parametrize(
    "name",
    [
        "androidx_media/mp4__edit_list_positive_shift.mp4",  # 1920x1080
        "torchcodec/testsrc2.mp4",  # 1280x720
        "androidx_media/mp4__sample_portrait.mp4",  # 720x1080 portrait
        "vpf/test.mp4",  # 848x464
    ],
)
def test_real_frames(real_dir, name):
    frames = _decode(real_dir / name, 3)
    size = (480, 720)
    native = resize_crop_normalize(frames, size, out_dtype=torch.uint8)
    assert_close_u8(native, reference_u8(frames, size))
    f32 = resize_crop_normalize(frames, size, layout="CTHW")
    assert torch.equal(f32, normalize(native, torch.float32).permute(1, 0, 2, 3))


# ---------------------------------------------------------------- fallback


@needs_native
def test_fallback_when_extension_missing(tmp_path):
    """A fresh interpreter where ``import pyvidfast._C`` fails, as in a tree that was not built:
    the transform falls back to the reference, and asking for native names the cause."""
    x = rand_frames(2, 90, 120, seed=10)
    native = resize_crop_normalize(x, (64, 64), out_dtype=torch.uint8)
    torch.save({"x": x, "native": native}, tmp_path / "io.pt")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["pyvidfast._C"] = None  # the import fails with ImportError
        import torch
        import pyvidfast._extension as ext
        from pyvidfast.transform import resize_crop_normalize
        data = torch.load({str(tmp_path / "io.pt")!r})
        assert not ext.has_native()
        fallback = resize_crop_normalize(data["x"], (64, 64), out_dtype=torch.uint8)
        assert (fallback.int() - data["native"].int()).abs().max() <= 1
        try:
            resize_crop_normalize(data["x"], (64, 64), backend="native")
        except ext.NativeUnavailableError as exc:
            assert "could not be imported" in str(exc) and exc.__cause__ is not None
        else:
            raise AssertionError("backend='native' did not raise")
        torch.save(fallback, {str(tmp_path / "fallback.pt")!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fallback = torch.load(tmp_path / "fallback.pt")
    assert_close_u8(native, fallback)
    assert torch.equal(fallback, reference_u8(x, (64, 64)))


def test_reference_resize_is_torchvision_chain():
    x = rand_frames(1, 40, 50, seed=12, layout="TCHW")
    out = resize_uint8(x, (20, 30))
    manual = torch.nn.functional.interpolate(
        x.float(), size=(20, 30), mode="bicubic", align_corners=False, antialias=True
    )
    assert torch.equal(out, manual.clamp(0, 255).round().to(torch.uint8))
    assert resize_uint8(x, (40, 50)) is x


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(frames=torch.zeros(2, 8, 8, 3)), TypeError, "frames.dtype"),
        (dict(frames=np.zeros((2, 8, 8, 3), np.float32)), TypeError, "frames.dtype"),
        (dict(frames=[[1, 2]]), TypeError, "frames"),
        (dict(frames=torch.zeros(8, 8, dtype=torch.uint8)), ValueError, "4-D"),
        (dict(frames=torch.zeros(2, 8, 8, 4, dtype=torch.uint8)), ValueError, "channels"),
        (dict(size=(0, 4)), ValueError, "size=(0, 4)"),
        (dict(size=(-2, 4)), ValueError, "size=(-2, 4)"),
        (dict(size=(4,)), TypeError, "size"),
        (dict(size=(4.0, 4)), TypeError, "size"),
        (dict(crop=(7, 0)), ValueError, "crop=(7, 0)"),
        (dict(crop=(-1, 0)), ValueError, "crop=(-1, 0)"),
        (dict(crop="middle"), ValueError, "crop='middle'"),
        (dict(crop=(1.5, 0)), TypeError, "crop"),
        (dict(out_dtype=torch.int32), ValueError, "out_dtype=torch.int32"),
        (dict(out_dtype="float32"), TypeError, "out_dtype='float32'"),
        (dict(layout="NCHW"), ValueError, "layout='NCHW'"),
        (dict(input_layout="HWC"), ValueError, "input_layout"),
        (dict(num_threads=0), ValueError, "num_threads=0"),
        (dict(num_threads=1.5), TypeError, "num_threads=1.5"),
        (dict(backend="gpu"), ValueError, "backend"),
        (dict(crop="random", generator=42), TypeError, "generator=42"),
        (dict(frames=torch.zeros(2, 8, 0, 3, dtype=torch.uint8)), ValueError, "height and width"),
    ],
)
def test_bad_arguments(kwargs, exc, words):
    args = dict(frames=torch.zeros(2, 8, 8, 3, dtype=torch.uint8), size=(4, 4))
    args.update(kwargs)
    with pytest.raises(exc) as info:
        resize_crop_normalize(**args)
    assert words in str(info.value)


@needs_native
def test_native_rechecks_arguments():
    mod = ext.native()
    src = torch.zeros(1, 8, 8, 3, dtype=torch.uint8)
    dst = torch.empty(1, 3, 4, 4)
    good = dict(
        src_ptr=src.data_ptr(),
        src_sizes=(1, 8, 8),
        src_strides=src.stride(),
        resize_hw=(8, 8),
        crop_tl=(0, 0),
        crop_hw=(4, 4),
        dst_ptr=dst.data_ptr(),
        dst_strides=dst.stride(),
        out_dtype="float32",
        fma=False,
        num_threads=1,
    )
    mod.resize_crop_normalize(**good)
    for bad, words in [
        (dict(crop_tl=(5, 0)), "crop top=5"),
        (dict(crop_tl=(0, -1)), "crop left=-1"),
        (dict(crop_hw=(0, 4)), "size must be positive"),
        (dict(resize_hw=(8, -3)), "resize_w=-3"),
        (dict(out_dtype="int8"), "out_dtype=int8"),
        (dict(num_threads=0), "num_threads=0"),
        (dict(src_sizes=(1, 0, 8)), "height=0"),
        (dict(dst_strides=(48, 16, 4, 2)), "dst_stride_w=2"),
    ]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(")):
            mod.resize_crop_normalize(**{**good, **bad})


@needs_native
@pytest.mark.skipif(ext.has_native() and ext.native().has_cuda(), reason="CUDA was built")
def test_cuda_entry_point_says_not_built():
    with pytest.raises(RuntimeError, match="CUDA support was not built"):
        ext.native().resize_crop_normalize_workspace_bytes(
            src_sizes=(1, 8, 8), resize_hw=(8, 8), crop_tl=(0, 0), crop_hw=(4, 4)
        )

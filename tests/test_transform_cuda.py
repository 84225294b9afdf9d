"""resize_crop_normalize on CUDA: the same op as on CPU (same weight code, same arithmetic).

Every test needs a GPU (needs_cuda): skipped on CPU machines, failing instead under
PYVIDFAST_REQUIRE_CUDA=1.
"""

from __future__ import annotations

import pytest
import torch

from pyvidfast.transform import resize_crop_normalize

pytestmark = pytest.mark.needs_cuda

OUT_DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.uint8]


def assert_close_u8(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """>= 99.99% of the pixels equal and none off by more than 1 (the issue's rule)."""
    assert actual.dtype == expected.dtype == torch.uint8 and actual.shape == expected.shape
    diff = (actual.cpu().to(torch.int16) - expected.cpu().to(torch.int16)).abs()
    assert diff.max().item() <= 1
    assert (diff > 0).double().mean().item() <= 1e-4


def rand_frames(t, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=g)


CASES = [
    ((1080, 1920), (480, 720), None),
    ((720, 1280), (480, 720), None),
    ((480, 640), (480, 720), None),
    ((1920, 1080), (480, 720), None),
    ((480, 720), (480, 720), None),
    ((37, 53), (17, 29), None),
    ((61, 47), (61, 30), (61, 33)),
    ((40, 47), (50, 47), (55, 47)),
    ((1, 1), (2, 2), None),
    ((2, 2), (1, 1), None),
    ((300, 400), (8, 9), None),
]


@pytest.mark.parametrize("hw, size, resize_hw", CASES)
def test_cuda_matches_cpu_op(hw, size, resize_hw):
    x = rand_frames(3, *hw, seed=sum(hw))
    cpu = resize_crop_normalize(x, size, out_dtype=torch.uint8, resize_hw=resize_hw)
    gpu = resize_crop_normalize(x.cuda(), size, out_dtype=torch.uint8, resize_hw=resize_hw)
    assert gpu.is_cuda
    assert_close_u8(gpu, cpu)
    # Same weights and the same operation order: identical in practice.
    assert torch.equal(gpu.cpu(), cpu)
    ref = resize_crop_normalize(
        x, size, out_dtype=torch.uint8, resize_hw=resize_hw, backend="reference"
    )
    assert_close_u8(gpu, ref)


@pytest.mark.parametrize("out_dtype", OUT_DTYPES)
@pytest.mark.parametrize("layout", ["TCHW", "CTHW"])
def test_cuda_dtypes_and_layouts(out_dtype, layout):
    x = rand_frames(4, 200, 300, seed=1)
    cpu = resize_crop_normalize(x, (120, 150), out_dtype=out_dtype, layout=layout)
    gpu = resize_crop_normalize(x.cuda(), (120, 150), out_dtype=out_dtype, layout=layout)
    assert gpu.dtype == out_dtype and gpu.shape == cpu.shape and gpu.is_contiguous()
    assert torch.equal(gpu.cpu(), cpu)


def test_cuda_non_contiguous_and_batched():
    base = rand_frames(6, 90, 160, seed=2).cuda()
    size = (64, 96)
    expected = resize_crop_normalize(base.cpu(), size)
    planar = base.permute(0, 3, 1, 2).contiguous()
    for view in (
        planar.permute(0, 2, 3, 1),
        base.permute(0, 3, 1, 2),
        torch.cat([base, base[..., :1]], -1)[..., :3],
    ):
        assert torch.equal(resize_crop_normalize(view, size).cpu(), expected)
    sliced = rand_frames(8, 150, 200, seed=3).cuda()[::2, 5:145, 7:]
    assert torch.equal(
        resize_crop_normalize(sliced, size).cpu(), resize_crop_normalize(sliced.cpu(), size)
    )
    batched = resize_crop_normalize(base, size)
    for i in range(base.shape[0]):
        assert torch.equal(batched[i : i + 1], resize_crop_normalize(base[i : i + 1], size))


def test_cuda_runs_on_the_current_stream():
    x = rand_frames(4, 360, 640, seed=4).cuda()
    expected = resize_crop_normalize(x.cpu(), (240, 320))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        out = resize_crop_normalize(x, (240, 320))
    stream.synchronize()
    assert torch.equal(out.cpu(), expected)


def test_cuda_empty_and_errors():
    out = resize_crop_normalize(
        torch.zeros(0, 20, 30, 3, dtype=torch.uint8, device="cuda"), (10, 12)
    )
    assert out.shape == (0, 3, 10, 12) and out.is_cuda
    with pytest.raises(ValueError, match="crop=\\(50, 0\\)"):
        resize_crop_normalize(
            torch.zeros(1, 20, 30, 3, dtype=torch.uint8, device="cuda"), (10, 12), crop=(50, 0)
        )

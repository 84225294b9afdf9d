"""The GPU dataset path: ``SFTDataset(device=...)`` through a plain DataLoader, ``VideoDataset``'s
device, ``GpuBatchLoader``; on the CPU over the measured NVDEC stand-in (injected through the
public ``decoder_pool`` seam), on NVDEC under ``needs_cuda``. Same frames as the CPU dataset,
within the colour tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from media import make_clip
from tolerance import pixels_agree

from pyvidfast.cogvideox import SFTDataset
from pyvidfast.cogvideox.clips import ClipSpec, load_clip, sft_rule
from pyvidfast.cogvideox.gpu import GpuBatchLoader
from pyvidfast.io.nvdec import NvdecUnavailableError
from pyvidfast.io.nvdec.standin import standin_pool
from pyvidfast.io.video import open_video
from pyvidfast.sampling import SamplingError, sft_indices

SIZE = (48, 72)


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sft")
    videos, labels = root / "videos", root / "labels"
    videos.mkdir()
    labels.mkdir()
    specs = [("long24", 160, 24), ("long30", 200, 30), ("medium", 70, 30), ("short", 30, 24)]
    for i, (name, frames, fps) in enumerate(specs):
        make_clip(
            videos / f"{name}.mp4", frames, fps=fps, size=(96 + 16 * i, 64), options={"bf": "2"}
        )
        (labels / f"{name}.txt").write_text(f"caption of {name}\nsecond line\n")
    return videos


def test_requests_reuse_the_datasets_listing_and_rule(sft_dir: Path):
    ds = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3)
    reqs = ds.requests()
    assert [r.source for r in reqs] == ds.video_paths
    assert [r.caption for r in reqs] == ds.captions
    loader = GpuBatchLoader.from_sft_folder(str(sft_dir), SIZE, 8, 17, 3, batch_size=3)
    assert [r.source for r in loader.requests] == ds.video_paths
    assert [r.caption for r in loader.requests] == ds.captions
    for n, fps in ((160, 24.0), (70, 30.0), (30, 24.0)):
        assert reqs[0].rule(n, fps) == sft_indices(n, fps, 8, 17, 3)
    with pytest.raises(SamplingError):
        sft_rule(8, 49, 3)(4, 24.0)


def test_batches_and_order(sft_dir: Path):
    loader = GpuBatchLoader.from_sft_folder(str(sft_dir), SIZE, 8, 17, 3, batch_size=3)
    assert len(loader) == 2
    loader.drop_last = True
    assert len(loader) == 1
    assert loader._order() == [0, 1, 2, 3]
    many = GpuBatchLoader(loader.requests * 10, 4, SIZE, 8, shuffle=True, seed=5)
    first = many._order()
    assert sorted(first) == list(range(40)) and first != list(range(40))
    again = GpuBatchLoader(loader.requests * 10, 4, SIZE, 8, shuffle=True, seed=5)
    assert again._order() == first  # seed + epoch decide the order
    many._epoch += 1
    assert many._order() != first
    assert loader.out_dtype is torch.bfloat16


def test_arguments_are_checked(sft_dir: Path):
    reqs = []
    with pytest.raises(ValueError, match="batch_size"):
        GpuBatchLoader(reqs, 0, SIZE, 8)
    with pytest.raises(ValueError, match="on_error"):
        GpuBatchLoader(reqs, 1, SIZE, 8, on_error="ignore")
    with pytest.raises(ValueError, match="layout"):
        GpuBatchLoader(reqs, 1, SIZE, 8, layout="NCHW")
    with pytest.raises(ValueError, match="out_dtype"):
        GpuBatchLoader(reqs, 1, SIZE, 8, out_dtype="int8")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_without_nvdec_the_error_is_clear(sft_dir: Path):
    loader = GpuBatchLoader.from_sft_folder(str(sft_dir), SIZE, 8, 17, 3, batch_size=2)
    with pytest.raises(NvdecUnavailableError):
        next(iter(loader))


# ------------------------------------------------------------------------- on the GPU


def _tolerance(dtype: torch.dtype) -> float:
    # 2 levels of colour conversion (gpu.md) + 1 of resize rounding, in normalised units, plus
    # the output dtype's rounding at |x| <= 1.
    return 3 / 127.5 + {torch.bfloat16: 2**-8, torch.float16: 2**-11, torch.float32: 0}[dtype]


@pytest.mark.needs_cuda
@pytest.mark.parametrize("dtype, layout", [(torch.bfloat16, "TCHW"), (torch.float32, "CTHW")])
def test_batches_match_the_cpu_dataset(sft_dir: Path, dtype, layout):
    ds = SFTDataset(
        sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3, out_dtype=dtype, layout=layout
    )
    loader = GpuBatchLoader.from_sft_dataset(ds, batch_size=3, num_threads=2, prefetch=1)
    seen = 0
    for batch in loader:
        b = batch["mp4"]
        assert b.is_cuda and b.dtype == dtype
        for j in range(b.shape[0]):
            item = ds[seen + j]
            assert batch["txt"][j] == item["txt"]
            assert int(batch["num_frames"][j]) == item["num_frames"]
            diff = (b[j].float().cpu() - item["mp4"].float()).abs()
            assert diff.max().item() <= _tolerance(dtype), (seen + j, diff.max().item())
        seen += b.shape[0]
    assert seen == len(ds)


@pytest.mark.needs_cuda
def test_gpu_clip_picks_the_datasets_frames(tmp_path: Path):
    # Frames whose pixels encode their number: the GPU sample's frames are exactly the CPU ones.
    clip = make_clip(tmp_path / "n.mp4", 120, fps=24, size=(320, 240), options={"bf": "2"})
    rule, spec = sft_rule(8, 17, 3), ClipSpec((240, 320), torch.float32)
    with open_video(clip, "cuda") as gpu_reader, open_video(clip) as cpu_reader:
        gpu, num = load_clip(gpu_reader, rule, spec)
        assert gpu_reader.on_gpu, gpu_reader.fallback_reason
        cpu, want_num = load_clip(cpu_reader, rule, spec)
    assert num == want_num
    assert (gpu.cpu() - cpu).abs().max().item() <= _tolerance(torch.float32)


@pytest.mark.needs_cuda
def test_no_memory_growth(sft_dir: Path):
    ds = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3)
    loader = GpuBatchLoader.from_sft_dataset(ds, batch_size=2, out_dtype=torch.bfloat16)
    loader.requests = loader.requests * 25
    held = []
    for k, batch in enumerate(loader):
        del batch
        torch.cuda.synchronize()
        if k in (5, len(loader) - 1):
            held.append(torch.cuda.memory_allocated())
    assert held[1] <= held[0] * 1.05 + (1 << 20)


def test_dataloader_over_the_standin_gives_the_cpu_datasets_batches(sft_dir: Path):
    """A plain DataLoader(num_workers=0) over SFTDataset on the NVDEC path (the measured
    stand-in, so the B-frame stamps, seeking and surfaces are NVDEC's) calls ``__getitems__``
    once per batch and gives the CPU dataset's batches."""
    from torch.utils.data import DataLoader

    kwargs = dict(fps=8, max_num_frames=17, skip_frms_num=3)
    cpu = SFTDataset(sft_dir, SIZE, **kwargs)
    pool = standin_pool(2)
    gpu = SFTDataset(sft_dir, SIZE, **kwargs, decoder_pool=pool)
    calls = []
    getitems = gpu.__getitems__
    gpu.__getitems__ = lambda idx: calls.append(list(idx)) or getitems(idx)
    seen = 0
    for batch in DataLoader(gpu, batch_size=3, num_workers=0):
        for j in range(batch["mp4"].shape[0]):
            item = cpu[seen + j]
            assert batch["txt"][j] == item["txt"]
            assert int(batch["num_frames"][j]) == item["num_frames"]
            diff = (batch["mp4"][j] - item["mp4"]).abs().max().item()
            assert diff <= _tolerance(torch.float32), (seen + j, diff)
        seen += batch["mp4"].shape[0]
    assert seen == len(cpu) and calls == [[0, 1, 2], [3]]
    assert pool.created >= 1 and pool.dropped == 0


def test_batch_loader_over_the_standin_keeps_order_and_values(sft_dir: Path):
    cpu = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3)
    loader = GpuBatchLoader.from_sft_dataset(
        cpu, batch_size=3, device="cpu", pool=standin_pool(2), prefetch=1
    )
    seen = 0
    for batch in loader:
        for j in range(batch["mp4"].shape[0]):
            item = cpu[seen + j]
            assert batch["txt"][j] == item["txt"]
            diff = (batch["mp4"][j] - item["mp4"]).abs().max().item()
            assert diff <= _tolerance(torch.float32)
        seen += batch["mp4"].shape[0]
    assert seen == len(cpu) and loader.skipped == []


def test_videodataset_takes_the_device(tmp_path: Path):
    from pyvidfast.cogvideox import VideoDataset

    with pytest.raises(NvdecUnavailableError) if not torch.cuda.is_available() else _nothing():
        ds = VideoDataset(str(tmp_path / "none-{0..1}.tar"), SIZE, 9, 8, device="cuda")
        assert ds.device.type == "cuda"
        open_video(make_clip(tmp_path / "a.mp4", 10), ds.device)


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


def test_dataset_device_cuda_without_gpu_raises_the_nvdec_error(sft_dir: Path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    ds = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3, device="cuda")
    with pytest.raises(NvdecUnavailableError):
        ds[0]
    with pytest.raises(NvdecUnavailableError):
        ds.__getitems__([0, 1])


@pytest.mark.needs_cuda
def test_dataset_device_cuda_equals_cpu_items(sft_dir: Path):
    cpu = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3)
    gpu = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3, device="cuda")
    for i in range(len(cpu)):
        a, b = cpu[i], gpu[i]
        assert b["mp4"].is_cuda and b["num_frames"] == a["num_frames"] and b["txt"] == a["txt"]
        assert pixels_agree(b["mp4"], a["mp4"], normalised=True)


# ------------------------------------------- what the device script runs, on the CPU


def _benchmarks():
    import sys

    folder = str(Path(__file__).resolve().parents[1] / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)


def test_sweep_indices_reach_into_the_later_gop():
    _benchmarks()
    from nvdec_sweep import sweep_indices

    nasa = sweep_indices(390, [0, 240])
    assert len(nasa) == 6 and {238, 240, 241, 389} <= set(nasa)
    assert sweep_indices(40, [0]) == [0, 39, 20, 13]
    assert sweep_indices(1, [0]) == [0]


def test_sweep_over_the_standin(real_dir: Path, tmp_path: Path):
    """The device script's sweep, on the CPU over the measured stand-in: nasa stays on the
    NVDEC path through a seek into its later GOP and agrees; AV1 falls back, saying why."""
    import json

    _benchmarks()
    from nvdec_sweep import main

    files = [real_dir / "torchcodec/nasa_13013.mp4", real_dir / "torchcodec/av1_video.mkv"]
    assert main(["--standin", "--out", str(tmp_path), *map(str, files)]) == 0
    result = json.loads((tmp_path / "nvdec_sweep_standin.json").read_text())
    nasa, av1 = result["files"]
    assert nasa["on_gpu"] and nasa["agrees"] and 238 in nasa["indices"]
    assert not av1["on_gpu"] and av1["fallback_reason"] == "AV1: no NVDEC support on this GPU"
    assert result["summary"]["disagreeing"] == []


def test_bench_gpu_dataset_cpu_side(sft_dir: Path):
    _benchmarks()
    import bench_gpu_dataset as bench

    ds = SFTDataset(sft_dir, SIZE, fps=8, max_num_frames=17, skip_frms_num=3)
    assert bench.loader_rate(ds, workers=0) > 0
    per_clip = bench.frames_decoded_per_clip(ds.video_paths)
    assert 17 <= per_clip <= 200
    run = {"rate": 30.0, "memory": {200: (5, 9), 2000: (5, 9)}, "fallbacks": []}
    args = type("Args", (), {"clips": 2, "seconds": 1.0, "batch_size": 2, "workers": 16})
    cpu = {"ours_cpu": 10.0, "decord_reference": 5.0}
    r = bench.summarize(args, run, 25.0, cpu, 40.0, 7, -1024)
    assert r["speedup_vs_ours_cpu"] == 3.0 and r["speedup_vs_decord"] == 6.0
    assert r["fraction_of_ceiling"] == 0.75 and r["memory_growth_bytes"] == 0
    assert len(bench.table_rows(r)) == 6

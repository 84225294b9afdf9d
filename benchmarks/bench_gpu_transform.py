"""How fast is the fused GPU path (NV12 / RGB -> resize -> crop -> normalise, one launch) against
PyTorch's CUDA chain, and what fraction of the device-to-device copy bandwidth does it reach?

One sample is 49 frames of 1080p (NVDEC-style NV12 surfaces with a 2048-byte pitch, or uint8 RGB)
to 480x720 bfloat16 TCHW, the CogVideoX training tensor. Baselines, measured in the same run:
  torch_chain_rgb   uint8 RGB -> float -> F.interpolate(bicubic, antialias=True) -> clamp ->
                    round -> crop -> (x - 127.5) / 127.5 -> bf16 (CogVideoX's chain on the GPU);
  torch_chain_nv12  the same preceded by NV12 -> RGB in torch ops (the reference conversion);
  copy              a device-to-device copy (Tensor.copy_) of a 256 MiB buffer: bytes/s counted
                    as bytes read + bytes written, as for the kernels.
Achieved bandwidth of a kernel = (bytes of its input + bytes of its output) / time. Targets from
issue 6: >= 5x torch_chain, >= 50% of the copy bandwidth for the NV12 -> bf16 case.

    python benchmarks/bench_gpu_transform.py [--frames 49] [--repeats 20]

Times are CUDA-event medians (warm-up first); host_us is the wall time of the Python call alone
(planning, the table upload, the launch), which overlaps GPU work in a pipeline.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from common import print_table, write_results

from pyvidfast import has_cuda
from pyvidfast.transform import resize_crop_normalize, yuv_resize_crop_normalize
from pyvidfast.transform.color import resize_crop_normalize_fused
from pyvidfast.transform.geometry import crop_offsets, rectangle_resize_size
from pyvidfast.transform.reference import yuv_to_rgb_reference

SIZE = (480, 720)
PITCH = 2048  # NVDEC surfaces are pitched; 2048 bytes for a 1920-wide 8-bit frame


def cuda_time(fn, repeats: int) -> dict:
    """Median / min GPU time of fn() (CUDA events around each call, after two warm-ups)."""
    fn()
    fn()
    torch.cuda.synchronize()
    times, host = [], []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        t0 = time.perf_counter()
        fn()
        host.append(time.perf_counter() - t0)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "host_us": round(statistics.median(host) * 1e6, 1),
        "runs": repeats,
    }


def nv12_batch(t: int, h: int, w: int, seed: int = 0):
    """t frames of smooth random content as NV12 planes in pitched device buffers."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    # Low-frequency content (upsampled noise) so that the colour and resize work on image-like
    # values rather than white noise; the speed does not depend on it.
    base = torch.rand((t, 3, h // 16 + 1, w // 16 + 1), device="cuda", generator=g)
    yuv = F.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    yuv = (yuv * 219 + 16).round().to(torch.uint8)
    luma = torch.zeros((t, h, PITCH), dtype=torch.uint8, device="cuda")
    luma[:, :, :w] = yuv[:, 0]
    chroma = torch.zeros((t, (h + 1) // 2, PITCH), dtype=torch.uint8, device="cuda")
    uv = torch.stack([yuv[:, 1, ::2, ::2], yuv[:, 2, ::2, ::2]], -1)  # [t, h/2, w/2, 2]
    chroma[:, :, :w] = uv.reshape(t, (h + 1) // 2, w)
    ys = [luma[i, :, :w] for i in range(t)]
    cs = [chroma[i, :, :w].unflatten(1, ((w + 1) // 2, 2)) for i in range(t)]
    return ys, cs


def torch_chain(rgb_thwc: torch.Tensor, out_dtype=torch.bfloat16) -> torch.Tensor:
    """CogVideoX's resize -> crop -> normalise written in torch ops on the GPU."""
    t, h, w, _ = rgb_thwc.shape
    rh, rw = rectangle_resize_size(h, w, SIZE)
    top, left = crop_offsets(rh, rw, SIZE, "center")
    x = rgb_thwc.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(rh, rw), mode="bicubic", align_corners=False, antialias=True)
    x = x.clamp_(0, 255).round_()
    x = x[..., top : top + SIZE[0], left : left + SIZE[1]]
    return ((x - 127.5) / 127.5).to(out_dtype)


def torch_nv12_to_rgb(ys, cs) -> torch.Tensor:
    return torch.stack([yuv_to_rgb_reference(y, c, "bt709", False) for y, c in zip(ys, cs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not has_cuda():
        sys.exit(
            "bench_gpu_transform: needs a CUDA GPU and pyvidfast built with CUDA "
            "(PYVIDFAST_CUDA=ON); nothing was measured."
        )

    t, h, w = args.frames, 1080, 1920
    ys, cs = nv12_batch(t, h, w)
    rgb = torch_nv12_to_rgb(ys, cs)  # [t, h, w, 3] uint8, the RGB the other paths start from
    out_elems = t * 3 * SIZE[0] * SIZE[1]
    nv12_bytes = t * (h * w + ((h + 1) // 2) * ((w + 1) // 2) * 2)
    rgb_bytes = rgb.numel()
    bf16_bytes = out_elems * 2

    # Correctness in the same run: every path against the torch chain, in uint8.
    ref_u8 = resize_crop_normalize(rgb, SIZE, out_dtype=torch.uint8, backend="reference")
    checks = {
        "fused_nv12": yuv_resize_crop_normalize(ys, cs, SIZE, out_dtype=torch.uint8),
        "fused_rgb": resize_crop_normalize_fused(rgb, SIZE, out_dtype=torch.uint8),
        "three_launch_rgb": resize_crop_normalize(rgb, SIZE, out_dtype=torch.uint8),
    }
    mismatch = {
        k: {
            "max_abs_diff": int((v.int() - ref_u8.int()).abs().max().item()),
            "fraction_differing": float((v != ref_u8).double().mean().item()),
        }
        for k, v in checks.items()
    }
    del checks, ref_u8

    copy_src = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    copy_dst = torch.empty_like(copy_src)
    timings = {
        "copy": (cuda_time(lambda: copy_dst.copy_(copy_src), args.repeats), 2 * copy_src.numel()),
        "fused_nv12": (
            cuda_time(lambda: yuv_resize_crop_normalize(ys, cs, SIZE), args.repeats),
            nv12_bytes + bf16_bytes,
        ),
        "fused_rgb": (
            cuda_time(
                lambda: resize_crop_normalize_fused(rgb, SIZE, out_dtype=torch.bfloat16),
                args.repeats,
            ),
            rgb_bytes + bf16_bytes,
        ),
        "three_launch_rgb": (
            cuda_time(
                lambda: resize_crop_normalize(rgb, SIZE, out_dtype=torch.bfloat16), args.repeats
            ),
            rgb_bytes + bf16_bytes,
        ),
        "torch_chain_rgb": (
            cuda_time(lambda: torch_chain(rgb), args.repeats),
            rgb_bytes + bf16_bytes,
        ),
        "torch_chain_nv12": (
            cuda_time(lambda: torch_chain(torch_nv12_to_rgb(ys, cs)), max(3, args.repeats // 4)),
            nv12_bytes + bf16_bytes,
        ),
    }
    # A mixed batch (1080p and 720p clips in one launch), for the batched path's cost.
    y2, c2 = nv12_batch(t, 720, 1280, seed=1)
    timings["fused_nv12_mixed_1080p_720p"] = (
        cuda_time(lambda: yuv_resize_crop_normalize(ys + y2, cs + c2, SIZE), args.repeats),
        nv12_bytes + t * (720 * 1280 * 3 // 2) + 2 * bf16_bytes,
    )

    copy_bw = timings["copy"][1] / timings["copy"][0]["median_s"]
    chain_rgb = timings["torch_chain_rgb"][0]["median_s"]
    chain_nv12 = timings["torch_chain_nv12"][0]["median_s"]
    rows = []
    for name, (tm, nbytes) in timings.items():
        bw = nbytes / tm["median_s"]
        rows.append(
            {
                "path": name,
                "median_us": round(tm["median_s"] * 1e6, 1),
                "min_us": round(tm["min_s"] * 1e6, 1),
                "host_us": tm["host_us"],
                "GB/s": round(bw / 1e9, 1),
                "of_copy_bw": round(bw / copy_bw, 3),
                "vs_torch_chain_rgb": round(chain_rgb / tm["median_s"], 2),
                "vs_torch_chain_nv12": round(chain_nv12 / tm["median_s"], 2),
                "bytes": nbytes,
                "timing": tm,
            }
        )
    fused = next(r for r in rows if r["path"] == "fused_nv12")
    targets = {
        "speedup_vs_torch_chain_rgb >= 5": fused["vs_torch_chain_rgb"] >= 5,
        "fraction_of_copy_bandwidth >= 0.5": fused["of_copy_bw"] >= 0.5,
    }
    gpu = torch.cuda.get_device_name()
    name = "bench_gpu_transform_" + re.sub(r"[^A-Za-z0-9]+", "_", gpu).strip("_").lower()
    path = write_results(
        name,
        {
            "question": __doc__.splitlines()[0],
            "frames": t,
            "source": f"{h}x{w}",
            "size": SIZE,
            "out_dtype": "bfloat16",
            "cuda_device": gpu,
            "torch_cuda": torch.version.cuda,
            "mismatch_vs_torch_chain_u8": mismatch,
            "targets_met": targets,
            "rows": rows,
        },
    )
    print(f"wrote {path}")
    print("mismatch vs torch chain (uint8):", mismatch)
    print("targets (fused_nv12, issue 6):", targets)
    columns = ["path", "median_us", "min_us", "host_us", "GB/s", "of_copy_bw"]
    print_table(rows, [*columns, "vs_torch_chain_nv12", "vs_torch_chain_rgb"])


if __name__ == "__main__":
    main()

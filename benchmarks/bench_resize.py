"""How much faster is pyvidfast's resize -> crop -> normalise than the torch chain it replaces?

The baseline is CogVideoX's chain as torchvision runs it on uint8 frames (float32 bicubic
F.interpolate with antialias, clamp, round, uint8, crop, (x - 127.5) / 127.5), i.e.
pyvidfast.transform.reference, in the same process with the same thread count. One sample is 49
frames to 480x720. On a CUDA machine the CUDA kernel is also compared with the same torch chain on
the GPU.

    python benchmarks/bench_resize.py [--threads N] [--repeats R] [--frames T]

Columns: speedup = median wall time ratio (the headline), best_speedup = ratio of the fastest
runs, cpu_time_ratio = ratio of median process CPU time (all threads; less sensitive to other
jobs on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from common import print_table, write_results

from pyvidfast import has_cuda
from pyvidfast.transform import resize_crop_normalize

CASES = [("1920x1080", 1080, 1920), ("1280x720", 720, 1280)]
DTYPES = [("float32", torch.float32), ("bfloat16", torch.bfloat16)]
SIZE = (480, 720)


def _frames(t: int, h: int, w: int, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=g).to(device)


def _interleaved(ours, base, repeats: int) -> tuple[dict, dict]:
    """Time both alternately (after one warm-up each) so both see the same machine load.

    The figures have common.time_it's shape (median_s, min_s, max_s, runs) plus the median CPU
    time of the process (all threads), which a machine shared with other jobs disturbs less than
    the wall time.
    """
    ours()
    base()
    wall: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for i, fn in enumerate((ours, base)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[i].append(time.perf_counter() - t0)
            cpu[i].append(time.process_time() - c0)
    return tuple(
        {
            "median_s": statistics.median(w),
            "min_s": min(w),
            "max_s": max(w),
            "runs": repeats,
            "median_cpu_s": statistics.median(c),
        }
        for w, c in zip(wall, cpu)
    )


def _row(device, name, dname, threads, ours, base, mismatch) -> dict:
    return {
        "device": device,
        "input": name,
        "out_dtype": dname,
        "threads": threads,
        "pyvidfast_s": round(ours["median_s"], 5),
        "torch_s": round(base["median_s"], 5),
        "speedup": round(base["median_s"] / ours["median_s"], 2),
        "best_speedup": round(base["min_s"] / ours["min_s"], 2),
        "cpu_time_ratio": round(base["median_cpu_s"] / ours["median_cpu_s"], 2),
        "u8_mismatch": f"{mismatch:.2e}",
        "pyvidfast": ours,
        "torch": base,
    }


def _mismatch(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.cpu() != b.cpu()).double().mean().item()


def bench_cpu(args) -> list[dict]:
    torch.set_num_threads(args.threads)
    rows = []
    for name, h, w in CASES:
        x = _frames(args.frames, h, w, "cpu")
        u8 = resize_crop_normalize(x, SIZE, out_dtype=torch.uint8, num_threads=args.threads)
        ref_u8 = resize_crop_normalize(x, SIZE, out_dtype=torch.uint8, backend="reference")
        for dname, dtype in DTYPES:
            ours, base = _interleaved(
                lambda x=x, dtype=dtype: resize_crop_normalize(
                    x, SIZE, out_dtype=dtype, num_threads=args.threads
                ),
                lambda x=x, dtype=dtype: resize_crop_normalize(
                    x, SIZE, out_dtype=dtype, backend="reference"
                ),
                args.repeats,
            )
            rows.append(
                _row(
                    "cpu",
                    f"{args.frames}x{name}",
                    dname,
                    args.threads,
                    ours,
                    base,
                    _mismatch(u8, ref_u8),
                )
            )
    return rows


def bench_cuda(args) -> list[dict]:
    rows = []

    def synced(fn):
        def run():
            fn()
            torch.cuda.synchronize()

        return run

    for name, h, w in CASES:
        x = _frames(args.frames, h, w, "cuda")
        u8 = resize_crop_normalize(x, SIZE, out_dtype=torch.uint8)
        ref_u8 = resize_crop_normalize(x, SIZE, out_dtype=torch.uint8, backend="reference")
        for dname, dtype in DTYPES:
            ours, base = _interleaved(
                synced(lambda x=x, dtype=dtype: resize_crop_normalize(x, SIZE, out_dtype=dtype)),
                synced(
                    lambda x=x, dtype=dtype: resize_crop_normalize(
                        x, SIZE, out_dtype=dtype, backend="reference"
                    )
                ),
                max(args.repeats, 10),
            )
            rows.append(
                _row("cuda", f"{args.frames}x{name}", dname, "-", ours, base, _mismatch(u8, ref_u8))
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=49)
    args = parser.parse_args()

    rows = bench_cpu(args)
    write_results(
        "bench_resize_cpu",
        {"question": __doc__.splitlines()[0], "size": SIZE, "threads": args.threads, "rows": rows},
    )
    if has_cuda():
        cuda_rows = bench_cuda(args)
        write_results(
            "bench_resize_cuda",
            {"question": __doc__.splitlines()[0], "size": SIZE, "rows": cuda_rows},
        )
        rows += cuda_rows
    else:
        print("CUDA: skipped (no CUDA device or pyvidfast built without CUDA)")
    columns = ["device", "input", "out_dtype", "threads", "pyvidfast_s", "torch_s", "u8_mismatch"]
    print_table(rows, [*columns, "cpu_time_ratio", "best_speedup", "speedup"])


if __name__ == "__main__":
    main()

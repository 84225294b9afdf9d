"""How much faster is pyvidfast's resize -> crop -> normalise than the torch chain it replaces?

The baseline is CogVideoX's chain as torchvision runs it on uint8 frames (float32 bicubic
F.interpolate with antialias, clamp, round, uint8, crop, (x - 127.5) / 127.5), i.e.
pyvidfast.transform.reference, in the same process with the same thread count. One sample is 49
frames to 480x720. On a CUDA machine the CUDA kernel is also compared with the same torch chain on
the GPU.

    python benchmarks/bench_resize.py [--threads N] [--repeats R] [--frames T]
"""

from __future__ import annotations

import argparse
import os

import torch
from common import print_table, time_it, write_results

from pyvidfast import has_cuda
from pyvidfast.transform import resize_crop_normalize

CASES = [("1920x1080", 1080, 1920), ("1280x720", 720, 1280)]
DTYPES = [("float32", torch.float32), ("bfloat16", torch.bfloat16)]
SIZE = (480, 720)


def _frames(t: int, h: int, w: int, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=g).to(device)


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
            ours = time_it(
                lambda x=x, dtype=dtype: resize_crop_normalize(
                    x, SIZE, out_dtype=dtype, num_threads=args.threads
                ),
                repeats=args.repeats,
            )
            base = time_it(
                lambda x=x, dtype=dtype: resize_crop_normalize(
                    x, SIZE, out_dtype=dtype, backend="reference"
                ),
                repeats=args.repeats,
            )
            rows.append(
                {
                    "device": "cpu",
                    "input": f"{args.frames}x{name}",
                    "out_dtype": dname,
                    "threads": args.threads,
                    "pyvidfast_s": round(ours["median_s"], 4),
                    "torch_s": round(base["median_s"], 4),
                    "speedup": round(base["median_s"] / ours["median_s"], 2),
                    "u8_mismatch": f"{_mismatch(u8, ref_u8):.2e}",
                    "pyvidfast": ours,
                    "torch": base,
                }
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
            ours = time_it(
                synced(lambda x=x, dtype=dtype: resize_crop_normalize(x, SIZE, out_dtype=dtype)),
                repeats=max(args.repeats, 10),
            )
            base = time_it(
                synced(
                    lambda x=x, dtype=dtype: resize_crop_normalize(
                        x, SIZE, out_dtype=dtype, backend="reference"
                    )
                ),
                repeats=max(args.repeats, 10),
            )
            rows.append(
                {
                    "device": "cuda",
                    "input": f"{args.frames}x{name}",
                    "out_dtype": dname,
                    "threads": "-",
                    "pyvidfast_s": round(ours["median_s"], 5),
                    "torch_s": round(base["median_s"], 5),
                    "speedup": round(base["median_s"] / ours["median_s"], 2),
                    "u8_mismatch": f"{_mismatch(u8, ref_u8):.2e}",
                    "pyvidfast": ours,
                    "torch": base,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
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
    print_table(rows, [*columns, "speedup"])


if __name__ == "__main__":
    main()

"""How many CogVideoX SFT items per second: pyvidfast's SFTDataset vs the reference procedure?

Reference = CogVideoX SAT ``SFTDataset.__getitem__`` (``pyvidfast.bench.reference``): decord 0.6.0
``VideoReader`` + ``get_batch`` over the whole index range, last-frame padding, then
torchvision's uint8 antialiased bicubic resize written out in torch (torchvision's video modules
no longer import), the centre crop and ``(x - 127.5) / 127.5``. Both run in this process with the
same torch thread count, on real 720p/1080p clips from ../shared/testdata/real plus generated
1080p H.264 clips (10 s, B-frames) in a temp dir. Also reports how far apart the two samples are.

    python benchmarks/bench_cogvideox.py [--threads 2] [--repeats 3] [--gen-seconds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from common import REAL_DIR, print_table, write_results

from pyvidfast.bench.reference import reference_item

REAL_CLIPS = [  # 720p and 1080p clips long enough to sample from
    "androidx_media/mp4__edit_list_positive_shift.mp4",  # 1080p30, 270 frames: long branch
    "androidx_media/mp4__sample_fragmented_seekable_multiple_sidx.mp4",  # 1080p30, 600 frames
    "torchcodec/testsrc2.mp4",  # 720p30, 60 frames: medium branch
    "torchcodec/bt709_full_range.mp4",  # 720p30, 30 frames: short branch
]


def make_1080p_clip(path: Path, seconds: float, fps: int) -> Path:
    """Moving, textured 1080p H.264 (x264 veryfast: CABAC, 3 B-frames, keyframe every 250)."""
    h, w = 1080, 1920
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    diag = ((x + y) % 256 > 128).astype(np.uint8) * 180
    noise = np.random.default_rng(0).integers(0, 40, size=(h, w + 4096), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(int(seconds * fps)):
            t = i / fps
            img = np.empty((h, w, 3), dtype=np.uint8)
            img[..., 0] = (127 + 100 * np.sin(x / 97 + 2 * t)).astype(np.uint8)
            img[..., 1] = (127 + 100 * np.cos(y / 61 - 3 * t)).astype(np.uint8)
            shift = (8 * i) % 4096
            img[..., 2] = noise[:, shift : shift + w] + np.roll(diag, 40 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# ---- the benchmark ---------------------------------------------------------------------------


def interleaved(ref, ours, repeats: int) -> tuple[dict, dict]:
    """Alternate the two (after one warm-up each) so that load from other processes on a shared
    machine hits both alike; wall and process CPU seconds (all threads), medians."""
    ref(), ours()
    runs: dict[str, dict[str, list[float]]] = {"ref": {"wall": [], "cpu": []}}
    runs["ours"] = {"wall": [], "cpu": []}
    for _ in range(repeats):
        for key, fn in (("ref", ref), ("ours", ours)):
            w, c = time.perf_counter(), time.process_time()
            fn()
            runs[key]["wall"].append(time.perf_counter() - w)
            runs[key]["cpu"].append(time.process_time() - c)
    return tuple(
        {
            "median_s": statistics.median(runs[k]["wall"]),
            "min_s": min(runs[k]["wall"]),
            "cpu_median_s": statistics.median(runs[k]["cpu"]),
            "runs": repeats,
        }
        for k in ("ref", "ours")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (both sides)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gen-seconds", type=float, default=10.0, help="0: real clips only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from pyvidfast import _extension
    from pyvidfast.cogvideox import SFTDataset

    params = dict(video_size=[480, 720], fps=8, max_num_frames=49, skip_frms_num=3)
    rows, records = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        names = []
        for rel in REAL_CLIPS:
            if (REAL_DIR / rel).exists():
                name = rel.replace("/", "__").removesuffix(".mp4") + ".mp4"
                os.symlink(REAL_DIR / rel, folder / name)
                names.append(name)
        if args.gen_seconds > 0:
            t0 = time.perf_counter()
            for fps in (24, 30):
                name = f"generated_1080p{fps}_{args.gen_seconds:g}s.mp4"
                make_1080p_clip(folder / name, args.gen_seconds, fps)
                names.append(name)
            print(f"generated clips in {time.perf_counter() - t0:.1f}s")
        ds = SFTDataset(str(folder), **params)
        order = {os.path.basename(p): i for i, p in enumerate(ds.video_paths)}
        for name in names:
            i = order[name]
            path = ds.video_paths[i]
            ours = ds[i]
            ref = reference_item(path, **params)
            assert ours["num_frames"] == ref["num_frames"], name
            # compare on the uint8 pixel grid: |a - b| * 127.5 levels
            diff = ((ours["mp4"] - ref["mp4"]).abs() * 127.5).round()
            t_ref, t_ours = interleaved(
                lambda p=path: reference_item(p, **params), lambda i=i: ds[i], args.repeats
            )
            with av.open(path) as c:
                s = c.streams.video[0]
                desc = f"{s.codec_context.name} {s.width}x{s.height}@{float(s.average_rate):.4g}"
            rec = {
                "clip": name,
                "video": desc,
                "num_frames": ours["num_frames"],
                "reference_s": t_ref["median_s"],
                "pyvidfast_s": t_ours["median_s"],
                "speedup": t_ref["median_s"] / t_ours["median_s"],
                "cpu_speedup": t_ref["cpu_median_s"] / t_ours["cpu_median_s"],
                "max_level_diff": int(diff.max()),
                "within_2_levels": float((diff <= 2).float().mean()),
                "reference": t_ref,
                "pyvidfast": t_ours,
            }
            records.append(rec)
            print(
                f"{name}: reference {rec['reference_s']:.3f}s, pyvidfast {rec['pyvidfast_s']:.3f}s"
            )
            rows.append(
                {
                    "clip": name[:44],
                    "video": desc,
                    "ref items/s": f"{1 / rec['reference_s']:.2f}",
                    "pvf items/s": f"{1 / rec['pyvidfast_s']:.2f}",
                    "speedup": f"{rec['speedup']:.1f}x",
                    "cpu ratio": f"{rec['cpu_speedup']:.1f}x",
                    "max diff": rec["max_level_diff"],
                    "<=2 levels": f"{100 * rec['within_2_levels']:.3f}%",
                }
            )
    total_ref = sum(r["reference_s"] for r in records)
    total_ours = sum(r["pyvidfast_s"] for r in records)
    cpu_ref = sum(r["reference"]["cpu_median_s"] for r in records)
    cpu_ours = sum(r["pyvidfast"]["cpu_median_s"] for r in records)
    summary = {
        "items": len(records),
        "reference_items_per_s": len(records) / total_ref,
        "pyvidfast_items_per_s": len(records) / total_ours,
        "speedup": total_ref / total_ours,
        "speedup_best_runs": sum(r["reference"]["min_s"] for r in records)
        / sum(r["pyvidfast"]["min_s"] for r in records),
        "cpu_seconds_ratio": cpu_ref / cpu_ours,
        "max_level_diff": max(r["max_level_diff"] for r in records),
        "min_within_2_levels": min(r["within_2_levels"] for r in records),
    }
    out = write_results(
        "bench_cogvideox",
        {
            "question": "CogVideoX SFT items/s: pyvidfast SFTDataset vs decord + torch reference",
            "params": params,
            "threads": args.threads,
            "native_resize": _extension.has_native()
            and hasattr(_extension.native(), "resize_crop_normalize"),
            "summary": summary,
            "clips": records,
        },
    )
    print(f"results: {out}")
    print(
        f"over the set: {summary['speedup']:.2f}x items/s (medians), "
        f"{summary['speedup_best_runs']:.2f}x (best runs), "
        f"{summary['cpu_seconds_ratio']:.2f}x fewer CPU seconds; threads={args.threads}"
    )
    rows.append(
        {
            "clip": "ALL (items/s over the set)",
            "ref items/s": f"{summary['reference_items_per_s']:.2f}",
            "pvf items/s": f"{summary['pyvidfast_items_per_s']:.2f}",
            "speedup": f"{summary['speedup']:.1f}x",
            "cpu ratio": f"{summary['cpu_seconds_ratio']:.1f}x",
            "max diff": summary["max_level_diff"],
            "<=2 levels": f"{100 * summary['min_within_2_levels']:.3f}%",
        }
    )
    cols = ["clip", "video", "ref items/s", "pvf items/s", "speedup", "cpu ratio", "max diff"]
    cols.append("<=2 levels")
    print_table(rows, cols)


if __name__ == "__main__":
    main()

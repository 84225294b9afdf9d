"""Does every real clip NVDEC can take stay on the GPU, with the CPU reader's pixels? (issue 11)

For every video of the real corpus (``PROBE.csv``): open it with ``open_video(device)``, record
whether it is read on NVDEC (``on_gpu``) or why not (``fallback_reason``), and compare 6 frames
with the CPU reader: first, last, middle, a third, and, where the file has a later keyframe, the
frames around it (two before, the keyframe, one after), which needs a seek into a later GOP
(nasa_13013.mp4: 238-241 around keyframe 240, plus 389, its last). A file agrees when at least
99.9% of the pixels differ by at most 2 levels, on every frame, and stays on the GPU throughout.

``--standin`` runs the same sweep on the CPU over the measured NVDEC stand-in (the CPU suite
runs it on a few files); ``--device cuda`` is the real run (benchmarks/gpu_verify.sh).

    python benchmarks/nvdec_sweep.py [--device cuda | --standin] [--out DIR] [files ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from common import REAL_DIR, print_table, write_results

TOLERANCE = 2  # levels, gpu.md
AGREEMENT = 0.999  # fraction of pixels within TOLERANCE


@dataclass
class FileResult:
    file: str
    on_gpu: bool = False
    fallback_reason: str = ""
    indices: list[int] = field(default_factory=list)
    within_tolerance: list[float] = field(default_factory=list)  # per index
    max_diff: int = -1
    agrees: bool = False
    error: str = ""
    compared_with: str = "cpu"


def sweep_indices(length: int, keys: list[int]) -> list[int]:
    """Six frames: the ends, the middle, a third and the neighbourhood of a later keyframe."""
    later = [k for k in keys if 2 <= k < length - 1]
    picks = [0, length - 1, length // 2, length // 3]
    if later:
        k = later[-1]
        picks = [k - 2, k + 1, k, length - 1, 0, length // 2]
    seen: list[int] = []
    for i in picks:
        if 0 <= i < length and i not in seen:
            seen.append(i)
    return seen[:6]


def compare(path: Path, device: str, pool=None) -> FileResult:
    """One file: NVDEC (or its stand-in) against the CPU reader."""
    from pyvidfast.io.errors import VideoReadError
    from pyvidfast.io.video import open_video

    result = FileResult(str(path))
    try:
        with open_video(path) as cpu, open_video(path, device, pool=pool) as gpu:
            result.indices = sweep_indices(len(cpu), cpu.get_key_indices())
            got = gpu.get_batch(result.indices).cpu()
            want = cpu.get_batch(result.indices)
            result.on_gpu, result.fallback_reason = gpu.on_gpu, gpu.fallback_reason
    except VideoReadError as exc:  # the CPU reader cannot read it either: not NVDEC's case
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    want = _upright(want, got, getattr(gpu, "applied_rotation", 0), result)
    if got.shape != want.shape:
        result.error = f"shape {tuple(got.shape)} != CPU {tuple(want.shape)}"
        return result
    diff = (got.int() - want.int()).abs()
    result.max_diff = int(diff.max()) if diff.numel() else 0
    result.within_tolerance = [
        float((d <= TOLERANCE).float().mean()) if d.numel() else 1.0 for d in diff
    ]
    result.agrees = all(f >= AGREEMENT for f in result.within_tolerance)
    return result


def _upright(want: torch.Tensor, got: torch.Tensor, rotation: int, result: FileResult):
    """The CPU frames as the NVDEC reader turned its own (decord's rule): until the CPU reader
    turns frames upright itself (branch rot), they are turned here; whichever of the two agrees
    more is compared, and ``compared_with`` says which."""
    if not rotation:
        return want
    from pyvidfast.io.orientation import rotate_frames

    turned = rotate_frames(want, rotation)

    def score(frames: torch.Tensor) -> float:
        if frames.shape != got.shape:
            return -1.0
        return float(((frames.int() - got.int()).abs() <= TOLERANCE).float().mean())

    best = max((want, "cpu"), (turned, "cpu turned upright"), key=lambda c: score(c[0]))
    result.compared_with = best[1]
    return best[0]


def corpus(real_dir: Path) -> list[Path]:
    """Every file of PROBE.csv that has a video stream (the rest have nothing to decode)."""
    with open(real_dir / "PROBE.csv") as f:
        rows = list(csv.DictReader(f))
    return [real_dir / r["file"] for r in rows if r["codec"] and (real_dir / r["file"]).exists()]


def summarize(results: list[FileResult]) -> dict:
    on_gpu = [r for r in results if r.on_gpu]
    return {
        "files": len(results),
        "on_gpu": len(on_gpu),
        "on_gpu_agreeing": sum(r.agrees for r in on_gpu),
        "fallbacks": {r.file: r.fallback_reason for r in results if not r.on_gpu and not r.error},
        "unreadable": {r.file: r.error for r in results if r.error},
        "disagreeing": [r.file for r in results if not r.error and not r.agrees],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="default: the real corpus (PROBE.csv)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--standin", action="store_true", help="the measured stand-in, on CPU")
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    pool, device = None, args.device
    if args.standin:
        from pyvidfast.io.nvdec.standin import standin_pool

        pool, device = standin_pool(2), "cpu"
    files = [Path(f) for f in args.files] or corpus(REAL_DIR)
    results = [compare(path, device, pool) for path in files]
    summary = summarize(results)
    name = "nvdec_sweep_standin" if args.standin else "nvdec_sweep"
    out = write_results(
        name,
        {
            "question": "real clips NVDEC takes: on the GPU throughout and equal to the CPU reader",
            "device": device if not args.standin else "cpu (measured NVDEC stand-in)",
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "summary": summary,
            "files": [asdict(r) for r in results],
        },
        Path(args.out) if args.out else None,
    )
    print(f"wrote {out}")
    rows = [
        {
            "file": Path(r.file).name[:40],
            "gpu": "yes" if r.on_gpu else "no",
            "agrees": "yes" if r.agrees else "NO",
            "max": r.max_diff,
            "why not": (r.fallback_reason or r.error)[:60],
        }
        for r in results
    ]
    print_table(rows, ["file", "gpu", "agrees", "max", "why not"])
    print(
        f"{summary['on_gpu']}/{summary['files']} on the GPU, {summary['on_gpu_agreeing']} of "
        f"them agreeing; {len(summary['disagreeing'])} disagreeing"
    )
    return 0 if not summary["disagreeing"] else 1


if __name__ == "__main__":
    sys.exit(main())

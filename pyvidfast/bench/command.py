"""The ``pyvidfast bench`` subcommand (parser and run)."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register", "run"]

DESCRIPTION = """\
Measure, side by side on a sample of YOUR videos and on this machine: metadata (`info`, header
vs --exact-frames, files/s), integrity checking (`pyvidfast check` vs `ffmpeg -f null` one job per
core, files/s), decoding (frames/s: pyvidfast's CPU reader, NVDEC when a GPU is present, decord
and torchcodec when installed) and the CogVideoX sample path (clips/s and MB/s of SFTDataset
through a DataLoader with 1..N workers, the GPU loader, and CogVideoX's own decord procedure when
decord is installed). Reports peak host RSS and GPU memory, the machine and the codec/resolution
mix of the sample. Writes OUTPUT/bench.json, OUTPUT/bench.md and, with matplotlib installed
(pip install 'pyvidfast[report]'), OUTPUT/bench_throughput.png and OUTPUT/bench_scaling.png.
Each tool runs in its own process within its share of --seconds (the whole command, imports
included, stays within it) and measures as many files of the shuffled sample as it finishes;
a tool that crashes, is missing or finishes no file in its share is named with its reason (on a
busy machine, raise --seconds). The output ends with a verdict: the fastest option per task on
this sample and machine, by how much, and what was not measured and why. What FFmpeg and decord
print themselves goes to OUTPUT/bench.log, not the terminal."""

EPILOG = """\
examples:
  pyvidfast bench videos/ --seconds 120
  pyvidfast bench dataset.csv --max-files 500 --output bench_out
  pyvidfast bench 'shards/{000000..000009}.tar' --workers 0,2,4,8"""


def _workers(text: str) -> list[int]:
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 0,1,2,4, got {text!r}") from None
    if not counts or counts[0] < 0:
        raise argparse.ArgumentTypeError(f"worker counts must be >= 0, got {text!r}")
    return counts


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to the ``pyvidfast`` command."""
    parser = subparsers.add_parser(
        "bench",
        help="throughput of every loader and checker on your own videos",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source",
        help="a folder of videos (searched recursively; a CogVideoX SFT folder is one), a "
        "CSV/Parquet table with a 'path' column, or WebDataset shards (.tar, a folder of them, "
        "or a brace pattern)",
    )
    parser.add_argument("--output", "-o", default="pyvidfast-bench", help="output folder")
    parser.add_argument(
        "--seconds", type=float, default=300, help="wall-clock budget for all tools (default 300)"
    )
    parser.add_argument(
        "--max-files",
        type=int,
        default=200,
        help="files drawn at random (fixed seed) from the source (default 200; 0: all)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="DataLoader worker counts, comma-separated; 0 = in the main process (default: 1,2,4,... up to the cores)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sample")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``pyvidfast bench``."""
    from pyvidfast.bench.machine import process_age
    from pyvidfast.bench.output import write_outputs
    from pyvidfast.bench.runner import BenchOptions, default_workers, run_bench

    if args.seconds <= 0 or args.max_files < 0:
        print("bench: --seconds must be > 0 and --max-files >= 0", file=sys.stderr)
        return 2
    options = BenchOptions(
        seconds=args.seconds,
        max_files=args.max_files or None,
        workers=args.workers or default_workers(),
        seed=args.seed,
        progress=not args.no_progress,
    )
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as exc:
        print(
            f"bench: cannot use {args.output!r} as the output folder: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    options.log = os.path.join(args.output, "bench.log")
    options.spent = process_age()  # the interpreter's start and imports count against --seconds
    try:
        report = run_bench(args.source, options)
    except (FileNotFoundError, KeyError) as exc:
        print(f"bench: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    paths = write_outputs(report, args.output)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    print(f"wrote log: {options.log}")
    with open(paths["markdown"]) as f:  # ends with the verdict
        print()
        print(f.read(), end="")
    if not report["results"]:
        print("bench: the source has no video file to measure", file=sys.stderr)
        return 1
    return 0

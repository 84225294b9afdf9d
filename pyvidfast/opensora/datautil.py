"""Drop-in for Open-Sora's ``python -m tools.datasets.datautil`` (the flags users combine).

    python -m pyvidfast.opensora.datautil dataset.csv --info --remove-empty-caption
    # -> dataset_info_noempty.csv, next to dataset.csv

Steps run in a fixed order whatever the flag order, and the output name gets one suffix per
step in that order (``STEPS``). ``--info`` reads container headers instead of decoding every
frame to RGB (see ``pyvidfast/opensora/info.py``).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

from pyvidfast.io.errors import RemoteIOError
from pyvidfast.io.storage import apply_storage_argument, exists
from pyvidfast.io.storage import sizes as file_sizes
from pyvidfast.opensora.info import add_info_from_args, add_run_arguments, summarize
from pyvidfast.parallel.interrupt import run_command
from pyvidfast.parallel.outputs import outputs_ready
from pyvidfast.parallel.table import output_path, read_tables, write_table

__all__ = ["STEPS", "output_suffixes", "process", "remove_empty_caption", "main"]


def remove_empty_caption(data: pd.DataFrame) -> pd.DataFrame:
    """Keep rows whose ``text`` is a non-empty string (NaN and "" dropped, "  " kept).

    Open-Sora: ``data[data["text"].str.len() > 0]`` then ``~isna()``. Raises ``KeyError``
    without a ``text`` column (Open-Sora asserts it).
    """
    if "text" not in data.columns:
        raise KeyError("--remove-empty-caption needs a 'text' column")
    keep = data["text"].map(lambda t: isinstance(t, str) and len(t) > 0)
    return data[keep.astype(bool)]


def file_size_mib(path: str) -> float:
    """Size in MiB as a float (Open-Sora's ``--filesize``); NaN for a missing file."""
    return file_sizes([path])[0] / 1024 / 1024


# (flag attribute, name suffix): the order steps run in and suffixes are appended in.
STEPS = [
    ("info", lambda a: "_info"),
    ("ext", lambda a: "_ext"),
    ("remove_empty_caption", lambda a: "_noempty"),
    ("remove_path_duplication", lambda a: "_noduppath"),
    ("relpath", lambda a: "_relpath"),
    ("abspath", lambda a: "_abspath"),
    ("filesize", lambda a: "_filesize"),
    ("fsmax", lambda a: f"_fsmax{a.fsmax}"),
    ("fmin", lambda a: f"_fmin{a.fmin}"),
    ("fmax", lambda a: f"_fmax{a.fmax}"),
    ("fpsmax", lambda a: f"_fpsmax{a.fpsmax}"),
    ("hwmax", lambda a: f"_hwmax{a.hwmax}"),
    ("shuffle", lambda a: f"_shuffled_seed{a.seed}"),
    ("head", lambda a: f"_first_{a.head}_data"),
]


def _enabled(args: argparse.Namespace, flag: str) -> bool:
    value = getattr(args, flag)
    return value is not None and value is not False


def output_suffixes(args: argparse.Namespace) -> list[str]:
    """The name suffixes of the steps ``args`` enables, in step order."""
    return [suffix(args) for flag, suffix in STEPS if _enabled(args, flag)]


def _need(data: pd.DataFrame, column: str, flag: str) -> None:
    if column not in data.columns:
        raise KeyError(f"{flag} needs a '{column}' column (run --info first)")


def process(data: pd.DataFrame, args: argparse.Namespace) -> tuple[pd.DataFrame, list[dict]]:
    """Apply the enabled steps in ``STEPS`` order; returns the table and the --info rows."""
    rows: list[dict] = []
    if args.info:
        data, rows = add_info_from_args(data, args)
    if args.ext:
        _need(data, "path", "--ext")
        data = data[data["path"].map(lambda p: exists(str(p))).astype(bool)]
    if args.remove_empty_caption:
        data = remove_empty_caption(data)
    if args.remove_path_duplication:
        _need(data, "path", "--remove-path-duplication")
        data = data.drop_duplicates(subset=["path"])
    if args.relpath is not None:
        _need(data, "path", "--relpath")
        data = data.assign(path=data["path"].map(lambda p: os.path.relpath(str(p), args.relpath)))
    if args.abspath is not None:
        _need(data, "path", "--abspath")
        data = data.assign(path=data["path"].map(lambda p: os.path.join(args.abspath, str(p))))
    if args.filesize:
        _need(data, "path", "--filesize")
        sizes = file_sizes([str(p) for p in data["path"]])
        data = data.assign(filesize=[size / 1024 / 1024 for size in sizes])
    if args.fsmax is not None:
        _need(data, "filesize", "--fsmax")
        data = data[data["filesize"] <= args.fsmax]
    if args.fmin is not None:
        _need(data, "num_frames", "--fmin")
        data = data[data["num_frames"] >= args.fmin]
    if args.fmax is not None:
        _need(data, "num_frames", "--fmax")
        data = data[data["num_frames"] <= args.fmax]
    if args.fpsmax is not None:
        _need(data, "fps", "--fpsmax")
        # Open-Sora keeps NaN fps (images) here.
        data = data[(data["fps"] <= args.fpsmax) | data["fps"].isna()]
    if args.hwmax is not None:
        _need(data, "resolution", "--hwmax")
        data = data[data["resolution"] <= args.hwmax]
    if args.shuffle:
        data = data.sample(frac=1, random_state=np.random.RandomState(args.seed))
        data = data.reset_index(drop=True)
    if args.head is not None:
        data = data.head(args.head)
    return data, rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pyvidfast.opensora.datautil",
        description="Open-Sora's datautil: add info columns and filter a CSV/Parquet table of "
        "videos (columns 'path' and 'text'). Steps run in this order whatever the flag order: "
        + ", ".join(f"--{f.replace('_', '-')}" for f, _ in STEPS)
        + ". The output <base><suffixes>.<format> goes next to the first input.",
    )
    parser.add_argument("input", nargs="+", help="CSV or Parquet files (globs; missing skipped)")
    parser.add_argument("--output", default=None, help="output path (overrides the naming)")
    parser.add_argument(
        "--format", default="csv", choices=["csv", "parquet"], help="output format (default csv)"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed for --shuffle (default 42)")
    parser.add_argument(
        "--info",
        action="store_true",
        help="add num_frames, height, width, aspect_ratio, fps, resolution (suffix _info)",
    )
    add_run_arguments(parser)
    _add_filter_arguments(parser)
    return parser


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filtering and path steps, in ``STEPS`` order."""
    parser.add_argument(
        "--ext", action="store_true", help="keep rows whose path exists (suffix _ext)"
    )
    parser.add_argument(
        "--remove-empty-caption",
        action="store_true",
        help="drop rows whose text is NaN or empty; whitespace is kept (suffix _noempty)",
    )
    parser.add_argument(
        "--remove-path-duplication",
        action="store_true",
        help="keep the first row of each path (suffix _noduppath)",
    )
    parser.add_argument(
        "--relpath", default=None, help="make paths relative to this root (suffix _relpath)"
    )
    parser.add_argument(
        "--abspath", default=None, help="prefix paths with this root (suffix _abspath)"
    )
    parser.add_argument(
        "--filesize",
        action="store_true",
        help="add a 'filesize' column in MiB, float (suffix _filesize)",
    )
    parser.add_argument(
        "--fsmax", type=float, default=None, help="keep filesize <= N MiB (suffix _fsmaxN)"
    )
    parser.add_argument("--fmin", type=int, default=None, help="keep num_frames >= N (_fminN)")
    parser.add_argument("--fmax", type=int, default=None, help="keep num_frames <= N (_fmaxN)")
    parser.add_argument(
        "--fpsmax", type=float, default=None, help="keep fps <= F or NaN fps (suffix _fpsmaxF)"
    )
    parser.add_argument(
        "--hwmax", type=int, default=None, help="keep resolution (h*w) <= N (suffix _hwmaxN)"
    )
    parser.add_argument(
        "--shuffle",
        action="store_true",
        help="shuffle the rows with --seed (suffix _shuffled_seedS)",
    )
    parser.add_argument(
        "--head", type=int, default=None, help="keep the first N rows (suffix _first_N_data)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_storage_argument(args)
    try:
        data, paths = read_tables(args.input)
    except FileNotFoundError as exc:
        print(f"datautil: {exc}", file=sys.stderr)
        return 2
    print(f"Loaded {len(data)} samples from {', '.join(paths)}.")
    out = output_path(paths, output_suffixes(args), args.format, args.output)
    if not outputs_ready("datautil", [out], paths):
        return 2
    try:
        data, rows = process(data, args)
    except KeyError as exc:
        print(f"datautil: {exc.args[0]}", file=sys.stderr)
        return 2
    except RemoteIOError as exc:  # --ext / --filesize: unreachable is not missing
        print(f"datautil: {exc} (rerun when the storage answers)", file=sys.stderr)
        return 1
    if args.info:
        print(summarize(rows), file=sys.stderr)
    print(f"Filtered number of samples: {len(data)}.")
    write_table(data, out)
    print(f"Saved {len(data)} samples to {out}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("datautil", main))

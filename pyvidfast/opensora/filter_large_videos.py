"""Drop-in for the guide's ``python -m tools.datasets.filter_large_videos IN.csv N``.

Adds ``file_size`` (bytes, ``os.path.getsize``; empty for a missing file) and keeps the rows with
``file_size < N * 1024 * 1024`` (MiB, strict; missing files dropped). Writes
``<IN without .csv>_le{N}MB.csv``, the name the guide documents (the original script's double
replace, which gives ``_le50M_le50M.csv``, is not copied).
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from pyvidfast.io.errors import RemoteIOError
from pyvidfast.io.storage import add_storage_argument, apply_storage_argument
from pyvidfast.io.storage import sizes as file_sizes
from pyvidfast.parallel.interrupt import run_command
from pyvidfast.parallel.outputs import outputs_ready
from pyvidfast.parallel.table import read_table, with_suffix, write_table

__all__ = ["add_file_size", "filter_large_videos", "output_name", "main"]


def add_file_size(data: pd.DataFrame) -> pd.DataFrame:
    """Add ``file_size`` in bytes from ``path`` (NaN when the file is missing; a URL's size
    from its object store, where an unreachable one raises ``RemoteIOError``)."""
    if "path" not in data.columns:
        raise KeyError("filter_large_videos needs a 'path' column")
    sizes = file_sizes([str(p) for p in data["path"]])
    return data.assign(file_size=pd.Series(sizes, index=data.index, dtype="float64"))


def filter_large_videos(data: pd.DataFrame, max_mib: float) -> pd.DataFrame:
    """Add ``file_size`` and keep rows with ``file_size < max_mib * 1024 * 1024`` (strict)."""
    data = add_file_size(data)
    return data[data["file_size"] < max_mib * 1024 * 1024]


def output_name(path: str, limit: str) -> str:
    """``dir/x.csv``, ``50`` -> ``dir/x_le50MB.csv``."""
    return with_suffix(path, f"_le{limit}MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyvidfast.opensora.filter_large_videos",
        description="Keep rows whose file is smaller than N MiB; adds a 'file_size' column "
        "(bytes) and writes <IN>_le{N}MB.csv. Missing files are dropped.",
    )
    parser.add_argument("input", help="CSV (or Parquet) with a 'path' column")
    parser.add_argument("limit", help="size limit N in MiB (float allowed); keep < N MiB")
    add_storage_argument(parser)
    args = parser.parse_args(argv)
    apply_storage_argument(args)
    try:
        limit = float(args.limit)
    except ValueError:
        parser.error(f"limit must be a number, got {args.limit!r}")
    if not os.path.isfile(args.input):
        print(f"filter_large_videos: no such file: {args.input}", file=sys.stderr)
        return 2
    out = output_name(args.input, args.limit)
    if not outputs_ready("filter_large_videos", [out], [args.input]):
        return 2
    data = read_table(args.input)
    try:
        kept = filter_large_videos(data, limit)
    except KeyError as exc:
        print(f"filter_large_videos: {exc.args[0]}", file=sys.stderr)
        return 2
    except RemoteIOError as exc:  # not a missing file: dropping the row would be wrong
        print(f"filter_large_videos: {exc} (rerun when the storage answers)", file=sys.stderr)
        return 1
    write_table(kept, out)
    print(f"Kept {len(kept)} of {len(data)} rows (< {args.limit} MiB); saved to {out}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("filter_large_videos", main))

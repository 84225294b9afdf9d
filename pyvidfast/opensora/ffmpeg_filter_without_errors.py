"""Drop-in for the guide's ``python -m tools.datasets.ffmpeg_filter_without_errors IN.csv``.

Keeps the rows whose ``path + ".err"`` (written by ``ffmpeg -v error -i P -f null - 2> P.err``)
is missing or empty, and writes ``IN`` with ``.csv`` replaced by ``_withouterror.csv``. Unlike
the original, the input row order is kept.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from pyvidfast.parallel.table import read_table, with_suffix, write_table

__all__ = ["has_no_errors", "filter_without_errors", "output_name", "main"]


def has_no_errors(path: str) -> bool:
    """True when ``path.err`` is missing or empty."""
    try:
        return os.path.getsize(f"{path}.err") == 0
    except OSError:
        return True


def filter_without_errors(data: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``.err`` file is missing or empty, in input order."""
    if "path" not in data.columns:
        raise KeyError("ffmpeg_filter_without_errors needs a 'path' column")
    keep = [has_no_errors(str(p)) for p in data["path"]]
    return data[pd.Series(keep, index=data.index, dtype=bool)]


def output_name(path: str) -> str:
    """``dir/x.csv`` -> ``dir/x_withouterror.csv``."""
    return with_suffix(path, "_withouterror")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyvidfast.opensora.ffmpeg_filter_without_errors",
        description="Keep rows whose <path>.err file (from ffmpeg_check_parallel.sh) is missing "
        "or empty; writes <IN>_withouterror.csv in the input row order.",
    )
    parser.add_argument("input", help="CSV (or Parquet) with a 'path' column")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.input):
        print(f"ffmpeg_filter_without_errors: no such file: {args.input}", file=sys.stderr)
        return 2
    data = read_table(args.input)
    try:
        kept = filter_without_errors(data)
    except KeyError as exc:
        print(f"ffmpeg_filter_without_errors: {exc.args[0]}", file=sys.stderr)
        return 2
    out = write_table(kept, output_name(args.input))
    print(f"Kept {len(kept)} of {len(data)} rows without ffmpeg errors; saved to {out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drop-in for the guide's ``python -m tools.datasets.ffmpeg_filter_without_errors IN.csv``.

Keeps the rows whose ``path + ".err"`` (written by ``ffmpeg -v error -i P -f null - 2> P.err``)
is empty, and writes ``IN`` with ``.csv`` replaced by ``_withouterror.csv``. Unlike the original,
the input row order is kept, and a row whose ``.err`` is missing is dropped, not kept: a missing
``.err`` means the check never recorded a verdict for that file (a read-only folder, a check that
did not reach it), and keeping it would let a corrupt file through. ``--keep-unchecked`` restores
the original's rule; either way the command says how many rows had no ``.err``.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from pyvidfast.io.storage import is_remote
from pyvidfast.parallel.interrupt import run_command
from pyvidfast.parallel.outputs import outputs_ready
from pyvidfast.parallel.table import read_table, with_suffix, write_table

__all__ = ["err_file", "err_status", "filter_without_errors", "output_name", "main"]


def err_file(path: str, err_dir: str | None = None) -> str:
    """Where the ``.err`` of video ``path`` is: beside it (``P.err``, where Open-Sora's
    ffmpeg_check_parallel.sh writes it) or, with ``err_dir``, under that folder at the video's
    absolute path (``/data/v/a.mp4`` -> ``ERR_DIR/data/v/a.mp4.err``: no two videos share one)."""
    if err_dir is None:
        return f"{path}.err"
    if is_remote(path):  # s3://bucket/a.mp4 -> ERR_DIR/s3/bucket/a.mp4.err
        return os.path.join(err_dir, path.replace("://", "/", 1) + ".err")
    return os.path.join(err_dir, os.path.abspath(path).lstrip(os.sep) + ".err")


def err_status(path: str, err_dir: str | None = None) -> str:
    """``"ok"`` (``.err`` empty), ``"errors"`` (not empty) or ``"unchecked"`` (no ``.err``)."""
    try:
        return "ok" if os.path.getsize(err_file(path, err_dir)) == 0 else "errors"
    except OSError:
        return "unchecked"


def filter_without_errors(
    data: pd.DataFrame, keep_unchecked: bool = False, err_dir: str | None = None
) -> pd.DataFrame:
    """Rows whose ``.err`` file (``err_file``) is empty (or missing, with ``keep_unchecked``),
    in input order."""
    if "path" not in data.columns:
        raise KeyError("ffmpeg_filter_without_errors needs a 'path' column")
    allowed = {"ok", "unchecked"} if keep_unchecked else {"ok"}
    keep = [err_status(str(p), err_dir) in allowed for p in data["path"]]
    return data[pd.Series(keep, index=data.index, dtype=bool)]


def unchecked_warning(
    data: pd.DataFrame, keep_unchecked: bool, err_dir: str | None = None
) -> str | None:
    """The line that says how many rows have no ``.err`` file, or None when all have one."""
    missing = [str(p) for p in data["path"] if err_status(str(p), err_dir) == "unchecked"]
    if not missing:
        return None
    verb = "kept (--keep-unchecked)" if keep_unchecked else "dropped"
    return (
        f"ffmpeg_filter_without_errors: {len(missing)} rows have no .err file (never checked), "
        f"{verb}; e.g. {err_file(missing[0], err_dir)}"
    )


def output_name(path: str) -> str:
    """``dir/x.csv`` -> ``dir/x_withouterror.csv``."""
    return with_suffix(path, "_withouterror")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyvidfast.opensora.ffmpeg_filter_without_errors",
        description="Keep rows whose <path>.err file (from ffmpeg_check_parallel.sh or "
        "`pyvidfast check --write-err`) is empty; writes <IN>_withouterror.csv in the input row "
        "order. Rows without a .err file are dropped unless --keep-unchecked.",
    )
    parser.add_argument("input", help="CSV (or Parquet) with a 'path' column")
    parser.add_argument(
        "--keep-unchecked",
        action="store_true",
        help="keep rows whose .err file is missing, as the original script does (default: drop "
        "them, since no check recorded a verdict for them)",
    )
    parser.add_argument(
        "--err-dir",
        default=None,
        metavar="DIR",
        help="read the .err files from DIR, where `pyvidfast check --err-dir DIR` writes them "
        "(DIR/<absolute video path>.err; DIR/s3/bucket/key.err for s3://bucket/key), instead of "
        "beside the videos (needed for remote videos)",
    )
    args = parser.parse_args(argv)
    if not os.path.isfile(args.input):
        print(f"ffmpeg_filter_without_errors: no such file: {args.input}", file=sys.stderr)
        return 2
    out = output_name(args.input)
    if not outputs_ready("ffmpeg_filter_without_errors", [out], [args.input]):
        return 2
    data = read_table(args.input)
    remote = next((str(p) for p in data.get("path", []) if is_remote(str(p))), None)
    if remote is not None and args.err_dir is None:
        print(
            f"ffmpeg_filter_without_errors: {remote} is remote and has no .err beside it: "
            "pass the --err-dir DIR that `pyvidfast check --err-dir DIR` wrote",
            file=sys.stderr,
        )
        return 2
    try:
        kept = filter_without_errors(data, args.keep_unchecked, args.err_dir)
    except KeyError as exc:
        print(f"ffmpeg_filter_without_errors: {exc.args[0]}", file=sys.stderr)
        return 2
    warning = unchecked_warning(data, args.keep_unchecked, args.err_dir)
    if warning:
        print(warning, file=sys.stderr)
    write_table(kept, out)
    print(f"Kept {len(kept)} of {len(data)} rows without ffmpeg errors; saved to {out}.")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("ffmpeg_filter_without_errors", main))

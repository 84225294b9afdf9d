"""CSV / Parquet tables the Open-Sora way: inputs, output names, writing.

Open-Sora's datautil expands each input as a glob, skips the ones that match nothing, reads
``.csv`` with ``pd.read_csv`` and ``.parquet`` with ``pd.read_parquet`` and concatenates them.
The output goes next to the first input, named after the inputs' base names (cut at the first
dot, joined with ``+``) plus one suffix per step, e.g. ``dataset_info_noempty.csv``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

import pandas as pd

from pyvidfast.parallel.outputs import write_atomically

FORMATS = ("csv", "parquet")


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Glob-expand ``inputs`` in order; patterns and paths that match nothing are skipped."""
    paths: list[str] = []
    for pattern in inputs:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        paths.extend(p for p in matches if os.path.isfile(p))
    return paths


def read_table(path: str) -> pd.DataFrame:
    """Read one ``.csv`` or ``.parquet`` file (by extension; anything else is read as CSV).

    A 0-byte CSV gives an empty table (no columns) rather than pandas' EmptyDataError, so the
    caller reports the missing column instead of crashing.
    """
    if str(path).lower().endswith(".parquet"):
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def read_tables(inputs: Iterable[str]) -> tuple[pd.DataFrame, list[str]]:
    """Read and concatenate every existing input; returns the table and the files read.

    Raises ``FileNotFoundError`` when no input exists (saying so when an input is a folder).
    """
    inputs = list(inputs)
    paths = expand_inputs(inputs)
    if not paths:
        folders = [p for p in inputs if os.path.isdir(p)]
        if folders:
            raise FileNotFoundError(
                f"{folders[0]!r} is a folder; the inputs are CSV/Parquet tables with a 'path' "
                f"column: give the files, or a glob such as {os.path.join(folders[0], '*.csv')!r}"
            )
        raise FileNotFoundError(f"no input file found among {inputs}")
    frames = [read_table(p) for p in paths]
    data = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return data, paths


def base_name(paths: Iterable[str]) -> str:
    """Input base names cut at their first dot, joined with ``+`` (``a.csv, b.x.csv`` -> ``a+b``)."""
    return "+".join(os.path.basename(p).split(".")[0] for p in paths)


def output_path(
    paths: list[str], suffixes: Iterable[str], fmt: str = "csv", output: str | None = None
) -> str:
    """Where datautil writes: ``output`` if given, else ``<dir of first>/<base><suffixes>.<fmt>``."""
    if output:
        return output
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    name = base_name(paths) + "".join(suffixes)
    return os.path.join(os.path.dirname(paths[0]), f"{name}.{fmt}")


def write_table(data: pd.DataFrame, path: str) -> str:
    """Write ``data`` without its index: Parquet when ``path`` ends in ``.parquet``, else CSV.

    Atomic (``outputs.write_atomically``): a failed or killed write leaves ``path`` as it was.
    """
    path = str(path)
    if path.lower().endswith(".parquet"):
        return write_atomically(path, lambda temp: data.to_parquet(temp, index=False))
    return write_atomically(path, lambda temp: data.to_csv(temp, index=False))


def with_suffix(path: str, suffix: str) -> str:
    """``dir/x.csv`` + ``_le50MB`` -> ``dir/x_le50MB.csv`` (the extension is kept)."""
    root, ext = os.path.splitext(path)
    if ext.lower() not in (".csv", ".parquet"):
        root, ext = path, ".csv"
    return f"{root}{suffix}{ext}"

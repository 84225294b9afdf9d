"""The tables a report reads: the kept rows and, when present, the rejected rows beside them.

Accepted inputs are the outputs of ``pyvidfast info`` / datautil ``--info`` (info columns),
``pyvidfast check`` (``ok`` and ``error_kind``: the rows that failed become the rejected rows)
and ``pyvidfast prepare`` (``<base>_rejected.csv`` beside the kept table, with ``step``,
``reason`` and ``error_kind``). A table without info columns gets them from ``compute_info``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "ReportData",
    "caption_words",
    "durations",
    "file_sizes_mb",
    "load_report_data",
    "rejected_path_for",
]

INFO = ["num_frames", "height", "width", "aspect_ratio", "fps", "resolution"]


@dataclass
class ReportData:
    """What the page shows: kept rows (with info columns) and rejected rows (maybe empty)."""

    table_path: str
    kept: pd.DataFrame
    rejected: pd.DataFrame
    rejected_path: str | None
    info_computed: bool = False  # the table had no info columns; they were measured here


def rejected_path_for(table_path: str) -> str:
    """``<base>_rejected<ext>``, the name ``prepare`` gives the dropped rows."""
    root, ext = os.path.splitext(table_path)
    return f"{root}_rejected{ext}"


def _read(path: str) -> pd.DataFrame:
    from pyvidfast.parallel.table import read_table

    return read_table(path)


def _with_info(data: pd.DataFrame, progress: bool) -> tuple[pd.DataFrame, bool]:
    if data.empty or "path" not in data.columns or all(c in data.columns for c in INFO[:5]):
        return data, False
    from pyvidfast.opensora.info import compute_info

    rows = compute_info([str(p) for p in data["path"]], progress=progress)
    data = data.copy()
    for column in INFO:
        data[column] = [r[column] for r in rows]
    return data, True


def _split_check_table(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A ``pyvidfast check`` table: ok rows are kept, the others rejected at step ``check``."""
    ok = data["ok"].astype(str).str.lower().isin(["true", "1", "1.0"])
    rejected = data[~ok].copy()
    rejected["step"] = "check"
    rejected["reason"] = rejected.get("error", "").fillna("").astype(str)
    return data[ok].copy(), rejected


def load_report_data(table_path: str, progress: bool = False) -> ReportData:
    """Read ``table_path`` and its ``_rejected`` table (when present).

    Raises FileNotFoundError when ``table_path`` is not a file (missing, or a folder).
    """
    if os.path.isdir(table_path):
        raise FileNotFoundError(
            f"{table_path!r} is a folder; report reads one table, a CSV/Parquet file such as "
            "the one `pyvidfast prepare`, `check` or `datautil` wrote"
        )
    if not os.path.isfile(table_path):
        raise FileNotFoundError(f"no such table {table_path!r}")
    kept = _read(table_path)
    rejected_path = rejected_path_for(table_path)
    if os.path.isfile(rejected_path):
        rejected = _read(rejected_path)
    elif "ok" in kept.columns and "error_kind" in kept.columns:
        kept, rejected, rejected_path = (*_split_check_table(kept), None)
    else:
        rejected, rejected_path = pd.DataFrame(), None
    kept, computed = _with_info(kept, progress)
    return ReportData(table_path, kept, rejected, rejected_path, computed)


def file_sizes_mb(data: pd.DataFrame) -> list[float]:
    """File sizes in MiB: the ``file_size`` column when present, else the files on disk."""
    if "file_size" in data.columns:
        return [float(s) / 2**20 for s in data["file_size"] if s == s]
    sizes = []
    for p in data.get("path", []):
        if isinstance(p, str) and os.path.isfile(p):
            sizes.append(os.path.getsize(p) / 2**20)
    return sizes


def durations(data: pd.DataFrame) -> list[float]:
    """Seconds per row (``num_frames / fps``) where both are known."""
    if "num_frames" not in data.columns or "fps" not in data.columns:
        return []
    out = []
    for n, fps in zip(data["num_frames"], data["fps"]):
        n, fps = float(n), float(fps)
        if math.isfinite(n) and math.isfinite(fps) and fps > 0 and n > 0:
            out.append(n / fps)
    return out


def caption_words(data: pd.DataFrame) -> list[int]:
    """Words per caption (``text`` column), for the rows that have a caption."""
    if "text" not in data.columns:
        return []
    return [len(t.split()) for t in data["text"] if isinstance(t, str)]

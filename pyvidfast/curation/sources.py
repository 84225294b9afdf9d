"""Published dataset CSVs -> the ``path, text`` table Open-Sora's tools read.

- OpenVid-1M (``OpenVid-1M.csv``): ``path = <root>/video/<video>``, ``text = caption``; the
  ``caption`` column becomes ``text``, the other columns follow unchanged.
- MiraData v1 (``miradata_v1_330k.csv``): ``path = <root>/<file_path>``, ``text`` = one caption
  column (``short_caption`` unless told otherwise); all columns follow unchanged.
"""

from __future__ import annotations

import os

import pandas as pd

SOURCES = ("openvid", "miradata")
MIRADATA_CAPTIONS = (
    "short_caption",
    "dense_caption",
    "background_caption",
    "main_object_caption",
    "style_caption",
    "camera_caption",
)

__all__ = ["MIRADATA_CAPTIONS", "SOURCES", "from_miradata", "from_openvid", "import_table"]


def _require(data: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise KeyError(
            f"not a {source} table: missing column(s) {missing} (has {list(data.columns)})"
        )


def _join(root: str, names: pd.Series) -> list:
    return [os.path.join(root, str(n)) if isinstance(n, str) and n else n for n in names]


def from_openvid(data: pd.DataFrame, root: str) -> pd.DataFrame:
    """OpenVid-1M's table with ``path`` and ``text`` first (``caption`` renamed to ``text``)."""
    _require(data, ["video", "caption"], "OpenVid-1M")
    rest = data.drop(columns=["caption"])
    out = pd.DataFrame(
        {"path": _join(os.path.join(root, "video"), data["video"])}, index=data.index
    )
    out["text"] = data["caption"]
    return pd.concat([out, rest.drop(columns=["path", "text"], errors="ignore")], axis=1)


def from_miradata(data: pd.DataFrame, root: str, caption: str = "short_caption") -> pd.DataFrame:
    """MiraData's table with ``path`` and ``text`` (= ``caption`` column) first."""
    _require(data, ["file_path", caption], "MiraData")
    out = pd.DataFrame({"path": _join(root, data["file_path"])}, index=data.index)
    out["text"] = data[caption]
    return pd.concat([out, data.drop(columns=["path", "text"], errors="ignore")], axis=1)


def import_table(
    data: pd.DataFrame, source: str, root: str, caption: str | None = None
) -> pd.DataFrame:
    """Map a ``source`` ("openvid" or "miradata") table to ``path, text, ...``."""
    if source == "openvid":
        return from_openvid(data, root)
    if source == "miradata":
        return from_miradata(data, root, caption or "short_caption")
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}")

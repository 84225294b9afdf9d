"""`pyvidfast report`: one self-contained HTML page about a dataset table and its rejections.

``write_report(table, output)`` reads the table (and its ``_rejected`` table), draws the charts
(``charts``: PNG with matplotlib, SVG without), the contact sheet (``thumbs``) and writes the
page (``page``). Names load on first use.
"""

from __future__ import annotations

import importlib

__all__ = ["write_report"]


def __getattr__(name: str):
    if name == "write_report":
        return importlib.import_module("pyvidfast.report.command").write_report
    raise AttributeError(f"module 'pyvidfast.report' has no attribute {name!r}")

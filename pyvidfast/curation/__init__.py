"""Curation: FFmpeg-exact integrity checking and the one-pass Open-Sora ``prepare`` pipeline.

``check_files(paths)`` gives, per file, the verdict of ``ffmpeg -v error -i P -f null -``
without running ffmpeg; ``prepare(table)`` does Open-Sora's info, empty-caption, size and
integrity steps in one pass; both run on a local process pool or a Ray cluster and resume from a
journal after a kill. Names are imported on first use, so ``python -m pyvidfast.curation.check``
does not import its own module twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Bound eagerly: the function shares its name with its module, and importing the module (as the
# CLI does) would otherwise leave the module, not the function, under this name.
from pyvidfast.curation.prepare import PrepareResult, prepare

_EXPORTS = {
    "KINDS": "pyvidfast.curation.integrity",
    "check_file": "pyvidfast.curation.integrity",
    "check_files": "pyvidfast.curation.check",
    "err_text": "pyvidfast.curation.check",
    "make_sample_dataset": "pyvidfast.curation.sample_data",
    "import_table": "pyvidfast.curation.sources",
}

__all__ = [
    "KINDS",
    "PrepareResult",
    "check_file",
    "check_files",
    "err_text",
    "import_table",
    "make_sample_dataset",
    "prepare",
]

if TYPE_CHECKING:
    from pyvidfast.curation.check import check_files, err_text
    from pyvidfast.curation.integrity import KINDS, check_file
    from pyvidfast.curation.sample_data import make_sample_dataset
    from pyvidfast.curation.sources import import_table


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyvidfast.curation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

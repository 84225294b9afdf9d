"""`pyvidfast bench`: what each loader and checker gives on the user's own videos and machine.

``run_bench(source, BenchOptions(...))`` measures metadata, integrity checking, decoding and the
CogVideoX sample path on a sample of ``source`` and returns the content of ``bench.json``;
``write_outputs`` writes it with a Markdown table and PNG plots. ``machine`` holds the machine
description and resource counters that ``benchmarks/`` shares. Names load on first use, so
``benchmarks/common.py`` importing ``machine`` does not pull in the loaders.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BenchOptions": "pyvidfast.bench.runner",
    "run_bench": "pyvidfast.bench.runner",
    "write_outputs": "pyvidfast.bench.output",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pyvidfast.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

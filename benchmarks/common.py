"""Shared benchmark helpers: machine description, timing, JSON results.

Every benchmark answers one question, compares against its baseline in the same run, prints a
short table last and writes JSON with the machine beside the figures (``write_results``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The measuring code lives in the package, shared with `pyvidfast bench`; re-exported here so
# the scripts keep importing it from common.
from pyvidfast.bench.machine import cpu_seconds, machine_info, peak_rss_mb, time_it

__all__ = [
    "REAL_DIR",
    "RESULTS_DIR",
    "cpu_seconds",
    "in_fresh_process",
    "machine_info",
    "peak_rss_mb",
    "print_table",
    "time_it",
    "write_results",
]

# PYVIDFAST_RESULTS_DIR redirects the JSON (gpu_verify.sh's dry run writes under $OUT, not here).
RESULTS_DIR = Path(
    os.environ.get("PYVIDFAST_RESULTS_DIR") or Path(__file__).resolve().parent / "results"
)

# The real test clips: ../shared/testdata/real beside the checkout, or PYVIDFAST_TESTDATA.
REAL_DIR = Path(
    os.environ.get("PYVIDFAST_TESTDATA")
    or Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
)


def write_results(name: str, results: dict, out_dir: Path | None = None) -> Path:
    """Write ``results`` with the machine description to ``<out_dir>/<name>.json``."""
    out_dir = Path(out_dir or RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    payload["machine"] = machine_info()
    payload.update(results)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Print rows as an aligned text table (the last thing a benchmark prints)."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def in_fresh_process(script: str, mode: str, paths: list[str]) -> dict:
    """``python script --worker mode LIST`` in a child process (its own imports, caches and peak
    RSS), ``paths`` handed over in a temporary JSON file; the JSON the child prints."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(paths, f)
    try:
        command = [sys.executable, script, "--worker", mode, f.name]
        out = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)

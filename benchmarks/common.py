"""Shared benchmark helpers: machine description, timing, JSON results.

Every benchmark answers one question, compares against its baseline in the same run, prints a
short table last and writes JSON with the machine beside the figures (``write_results``).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The real test clips: ../shared/testdata/real beside the checkout, or PYVIDFAST_TESTDATA.
REAL_DIR = Path(
    os.environ.get("PYVIDFAST_TESTDATA")
    or Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real"
)


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (ffmpeg jobs, pool workers).

    On a shared machine wall time swings with other users' load; CPU seconds per file do not.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu() -> dict | None:
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,clocks.max.sm,clocks.video",
                "--format=csv,noheader",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    name, driver, sm_clock, video_clock = (s.strip() for s in out.splitlines()[0].split(","))
    return {"name": name, "driver": driver, "max_sm_clock": sm_clock, "video_clock": video_clock}


def machine_info() -> dict:
    """CPU model and count, GPU and driver (if any), and the library versions that matter."""
    import torch

    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": _gpu(),
        "versions": {
            d: _version(d)
            for d in ("pyvidfast", "torch", "numpy", "av", "decord", "pandas", "pynvvideocodec")
        },
    }


def time_it(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> dict:
    """Median, min and max wall time of ``fn()`` in seconds over ``repeats`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs": repeats,
    }


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

"""The machine a measurement ran on, and the resources it used.

``machine_info`` (CPU model and count, GPU and driver, library versions) goes beside every
figure `pyvidfast bench` and the scripts in ``benchmarks/`` write; ``cpu_seconds``,
``peak_rss_mb`` and ``gpu_peak_mb`` are the resource counters they report.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

__all__ = [
    "cpu_seconds",
    "gpu_peak_mb",
    "machine_info",
    "peak_rss_mb",
    "process_age",
    "time_it",
]

LIBRARIES = (
    "pyvidfast",
    "torch",
    "numpy",
    "av",
    "decord",
    "torchcodec",
    "pandas",
    "pynvvideocodec",
)


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (ffmpeg jobs, pool workers).

    On a shared machine wall time swings with other users' load; CPU seconds per file do not.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Peak RSS (MiB) of this process or of the largest child it waited for (pool workers).

    VmHWM is this process's own peak since its exec (ru_maxrss can carry the forking parent's).
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    except OSError:
        pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def process_age() -> float:
    """Seconds since this process started (0 where /proc is missing): the interpreter's start
    and imports count against a wall-clock budget too."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)


def gpu_peak_mb() -> float | None:
    """Peak CUDA memory torch allocated in this process (MiB), None without a GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


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
        "versions": {d: _version(d) for d in LIBRARIES},
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

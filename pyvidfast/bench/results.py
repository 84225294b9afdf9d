"""What one measurement of `pyvidfast bench` found: a typed row of bench.json."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

from pyvidfast.bench.isolate import report_progress
from pyvidfast.bench.machine import cpu_seconds, gpu_peak_mb, peak_rss_mb

__all__ = ["Budget", "Measurement", "checkpoint", "finish"]


@dataclass
class Measurement:
    """Throughput of one tool on the sample.

    ``items`` are what ``unit`` counts (files, frames or clips) done in ``seconds`` of wall time
    over ``files`` files of ``bytes`` bytes; ``failures`` are files the tool could not process
    (they count in ``files`` and ``seconds``). ``skipped`` says why a tool did not run.
    """

    group: str  # "info", "check", "decode" or "sample"
    tool: str
    unit: str  # "files/s", "frames/s" or "clips/s"
    workers: int = 1
    files: int = 0
    items: int = 0
    seconds: float = 0.0
    bytes: int = 0
    failures: int = 0
    cpu_seconds: float = 0.0
    peak_rss_mb: float | None = None
    gpu_peak_mb: float | None = None
    skipped: str | None = None
    note: str = ""
    startup_seconds: float | None = None  # sample path: latency of the first (untimed) clip

    @property
    def rate(self) -> float | None:
        """``items`` per second (None when nothing was timed)."""
        return self.items / self.seconds if self._timed() else None

    @property
    def mb_per_s(self) -> float | None:
        """Input MiB read per second."""
        return self.bytes / 2**20 / self.seconds if self._timed() else None

    def _timed(self) -> bool:
        return self.seconds > 0 and self.files > 0 and not self.skipped

    def to_dict(self) -> dict:
        out = asdict(self)
        out["rate"] = self.rate
        out["mb_per_s"] = self.mb_per_s
        return out


class Budget:
    """A wall-clock allowance: ``over()`` once ``seconds`` have passed since it was made."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def over(self) -> bool:
        return self.elapsed() >= self.seconds


def finish(m: Measurement, t0: float, c0: float, end: float | None = None) -> Measurement:
    """Stamp ``m`` with the wall seconds from ``t0`` to ``end`` (default: now), the CPU seconds
    since ``c0`` and the peak memory."""
    m.seconds = (end or time.perf_counter()) - t0
    m.cpu_seconds = cpu_seconds() - c0
    m.peak_rss_mb = peak_rss_mb()
    m.gpu_peak_mb = gpu_peak_mb()
    return m


def checkpoint(m: Measurement, t0: float, c0: float) -> None:
    """Report what ``m`` holds so far to the parent (kept if the child is killed at its limit)."""
    report_progress(finish(replace(m), t0, c0))

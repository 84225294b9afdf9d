"""What one measurement of `pyvidfast bench` found: a typed row of bench.json."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

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
    # (files, items, seconds) each time a file (or a chunk of files) was done: the rate over
    # the first N files, the same files for every tool of a group (``same_files_rate``)
    progress: list = field(default_factory=list)
    same_files: int | None = None
    same_files_rate: float | None = None

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


def checkpoint(m: Measurement, t0: float, c0: float, file_done: bool = True) -> None:
    """Report what ``m`` holds so far to the parent (kept if the child is killed at its limit);
    ``file_done`` marks a file boundary in ``m.progress``."""
    if file_done:
        m.progress.append((m.files, m.items, round(time.perf_counter() - t0, 6)))
    report_progress(finish(replace(m, progress=list(m.progress)), t0, c0))


def compare_same_files(results: list[Measurement]) -> None:
    """Set ``same_files`` and ``same_files_rate`` for each group: the rate of every tool over
    the first N files of the sample, N being the most that every tool of the group finished
    (tools stop at different files; comparing them on different files would mislead)."""
    groups: dict[str, list[Measurement]] = {}
    for m in results:
        if m.progress and not m.skipped:
            groups.setdefault(m.group, []).append(m)
    for members in groups.values():
        n = min(m.progress[-1][0] for m in members)
        for m in members:
            files, items, seconds = next(p for p in m.progress if p[0] >= n)
            m.same_files = files
            m.same_files_rate = items / seconds if seconds > 0 else None

"""`pyvidfast bench`: every tool on the same sample, within one wall-clock budget.

The budget (``seconds``) is shared out among the measurements by weight, each slice computed
from what is left when it starts, so a slow step shortens the later ones instead of the run
overrunning. Each measurement runs in a forked child (``isolate``) that stops starting work at
the end of its slice and is killed a little after it; a killed child's row holds the files it
finished, and a measurement that fails, crashes or finishes nothing is a row with its reason.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from pyvidfast.bench import loaders, measures
from pyvidfast.bench.isolate import run_isolated
from pyvidfast.bench.loaders import SampleParams
from pyvidfast.bench.machine import gpu_peak_mb, machine_info, peak_rss_mb
from pyvidfast.bench.results import Budget, Measurement, compare_same_files
from pyvidfast.bench.sources import Sample, load_sample

__all__ = ["BenchOptions", "Step", "default_workers", "plan", "run_bench"]

SCHEMA = "pyvidfast.bench/1"


def default_workers(cpus: int | None = None) -> list[int]:
    """1, 2, 4, ... up to the core count, and the core count itself."""
    cpus = cpus or os.cpu_count() or 1
    counts, n = [], 1
    while n < cpus:
        counts.append(n)
        n *= 2
    return [*counts, cpus]


@dataclass
class BenchOptions:
    seconds: float = 300.0
    max_files: int | None = 200
    workers: list[int] = field(default_factory=default_workers)
    seed: int = 0
    params: SampleParams = field(default_factory=SampleParams)
    progress: bool = True
    spent: float = 0.0  # seconds of the budget already used by the caller (imports)
    log: str | None = None  # where the measuring processes' stdout/stderr go (None: inherited)


@dataclass
class Step:
    """One measurement to run: ``fn(*args, budget)`` returns a ``Measurement`` (or the mix)."""

    name: str  # the tool, as its Measurement names it
    group: str
    weight: float
    fn: Any
    args: tuple
    unit: str = ""
    workers: int = 1
    missing: str | None = None  # why the tool cannot run here: a row, no process


def _gpu_loader(folder: str, budget: Budget, params: SampleParams) -> Measurement:
    from pyvidfast.io.nvdec import nvdec_available

    if not nvdec_available():
        m = Measurement("sample", "pyvidfast GpuBatchLoader", "clips/s", workers=0)
        m.skipped = "no CUDA GPU with NVDEC here"
        return m
    return loaders.gpu_loader(folder, budget, params)


def _decode(paths: list[str], budget: Budget, tool: str) -> Measurement:
    missing = measures.decoder_missing(tool)
    if missing:
        m = Measurement("decode", tool, "frames/s")
        m.skipped = missing
        return m
    return measures.decode(paths, budget, tool)


def _reference(folder: str, budget: Budget, params: SampleParams) -> Measurement:
    from pyvidfast.bench.reference import decord_available

    if not decord_available():
        m = Measurement("sample", "reference (decord + torch)", "clips/s", workers=0)
        m.skipped = "decord is not installed"
        return m
    return loaders.reference(folder, budget, params)


def _module_missing(module: str) -> str | None:
    import importlib.util

    return None if importlib.util.find_spec(module) else f"{module} is not installed"


def _sample_steps(folder: str, options: BenchOptions, no_gpu: str | None) -> list[Step]:
    p, sample = options.params, "sample"
    steps = [
        Step("pyvidfast SFTDataset", sample, 2.0, loaders.sft_dataloader, (folder, p, w))
        for w in options.workers
    ]
    for step, w in zip(steps, options.workers):
        step.unit, step.workers = "clips/s", w
    decord = _module_missing("decord")
    steps.append(Step("reference (decord + torch)", sample, 2.0, _reference, (folder, p)))
    steps.append(Step("pyvidfast GpuBatchLoader", sample, 2.0, _gpu_loader, (folder, p)))
    for step, missing in zip(steps[-2:], (decord, no_gpu and f"{no_gpu} with NVDEC here")):
        step.unit, step.workers, step.missing = "clips/s", 0, missing
    return steps


def plan(paths: list[str], folder: str, options: BenchOptions) -> list[Step]:
    """The measurements, in the order they run: the cheap stream mix and header read, then the
    sample path (the question most users bring), decoding, checking and exact counts. Weights
    are shares of the budget: a clip on the sample path costs far more than a header read."""
    import torch

    cpus = os.cpu_count() or 1
    no_gpu = None if torch.cuda.is_available() else "no CUDA GPU"
    steps = [
        Step("stream mix", "info", 0.3, measures.stream_mix, (paths,)),
        Step("pyvidfast info (header)", "info", 0.3, measures.info, (paths, False), "files/s"),
        *_sample_steps(folder, options, no_gpu),
    ]
    for tool, (_, device, module) in measures.DECODERS.items():
        missing = _module_missing(module) or (no_gpu if device == "cuda" else None)
        steps.append(Step(tool, "decode", 0.8, _decode, (paths, tool), "frames/s", 1, missing))
    check = measures.check_pyvidfast
    steps += [
        Step("pyvidfast check", "check", 1.0, check, (paths, cpus), "files/s", cpus),
        Step("ffmpeg -f null", "check", 1.0, measures.check_ffmpeg, (paths, cpus), "files/s", cpus),
        Step("pyvidfast info --exact-frames", "info", 0.7, measures.info, (paths, True), "files/s"),
    ]
    return steps


def _measure(fn, args: tuple, budget: Budget, log: str | None = None):
    """Every measure's signature: ``fn(paths_or_folder, budget, *options)``, run in the child.

    With ``log``, the child's file descriptors 1 and 2 go to that file first: FFmpeg and decord
    write their own messages there (``moov atom not found``, decord's warnings), and so do the
    processes the measurement starts, while the parent's progress bar keeps the terminal.
    """
    if log is not None:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    return fn(args[0], budget, *args[1:])


def _outcome(step: Step, status: str, value: Any, partial: Any) -> Measurement:
    """The row of a step: its result, the partial result of a killed child, or the reason."""
    if status == "ok":
        return value
    if isinstance(partial, Measurement):
        partial.note = f"{partial.note}; {value}: the file in progress is not counted".lstrip("; ")
        return partial
    if status == "timeout":
        value = f"no file finished in {value.removeprefix('killed after ')} (raise --seconds)"
    skipped = f"{status}: {value}"
    return Measurement(step.group, step.name, step.unit, step.workers, skipped=skipped)


def _run_steps(
    steps: list[Step], total: Budget, bar, log: str | None = None
) -> tuple[list[Measurement], dict]:
    results: list[Measurement] = []
    mix: dict = {}
    for i, step in enumerate(steps):
        if bar is not None:
            bar.update(1 if i else 0)
        if step.missing:
            results.append(Measurement(step.group, step.name, step.unit, step.workers))
            results[-1].skipped = step.missing
            continue
        rest = [s for s in steps[i:] if not s.missing]
        left = max(total.seconds - total.elapsed(), 0.0)
        share = left * step.weight / sum(s.weight for s in rest)
        if bar is not None:
            bar.set_postfix_str(f"{step.name} x{step.workers} ({share:.0f}s)")
        # The child stops starting work at its share and is killed a little after it, never so
        # late that the steps after it would have less than a second each.
        limit = min(share + max(1.5, 0.25 * share), max(left - 1.0 * (len(rest) - 1), share))
        # A budget already spent (a busy machine's start-up) still gives each tool a chance:
        # the run then ends late by at most a few seconds a tool, and bench.md says so.
        share, limit = max(share, 1.0), max(limit, 2.5)
        budget = Budget(share)
        args = (step.fn, step.args, budget, log)
        sys.stdout.flush()  # or the forked child would write the parent's buffer to its log
        sys.stderr.flush()
        status, value, partial = run_isolated(_measure, args, limit)
        if step.fn is measures.stream_mix:
            mix = value if status == "ok" else partial or {"error": f"{status}: {value}"}
        else:
            results.append(_outcome(step, status, value, partial))
    if bar is not None:
        bar.update(1)
    compare_same_files(results)
    return results, mix


def _source_dict(sample: Sample) -> dict:
    return {
        "source": sample.source,
        "kind": sample.kind,
        "total_files": sample.total,
        "sampled_files": len(sample.paths),
        "missing_files": sample.missing,
        "sampled_bytes": sample.bytes,
    }


def _preload() -> None:
    """Import what the measurements use once, here: each forked child then starts warm instead
    of spending its share of the budget on imports."""
    import pyvidfast.cogvideox  # noqa: F401
    import pyvidfast.curation.check  # noqa: F401
    import pyvidfast.io.probe  # noqa: F401
    import pyvidfast.io.reader  # noqa: F401
    import pyvidfast.opensora.info  # noqa: F401
    from pyvidfast.bench.output import plots_available

    if plots_available():  # the plots are drawn at the end, within the budget
        from pyvidfast.bench.plots import pyplot

        pyplot()


def run_bench(source: str, options: BenchOptions) -> dict:
    """Measure every installed tool on a sample of ``source``; the content of bench.json."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # The budget covers everything from here; some is kept for the outputs (drawing the plots).
    total = Budget(options.seconds - options.spent - max(4.0, 0.15 * options.seconds))
    _preload()
    if options.log is not None:
        open(options.log, "w").close()  # this run's messages only
    with tempfile.TemporaryDirectory(prefix="pyvidfast-bench-") as work:
        sample = load_sample(source, options.max_files, options.seed, work)
        folder = os.path.join(work, "sft")
        loaders.link_sft_folder(sample.paths, folder)
        source_info = _source_dict(sample)
        steps = plan(sample.paths, folder, options) if sample.paths else []
        bar = None
        if options.progress and steps:
            from tqdm import tqdm

            bar = tqdm(total=len(steps), desc="bench", unit="step", file=sys.stderr)
        try:
            results, mix = _run_steps(steps, total, bar, options.log)
        finally:
            if bar is not None:
                bar.close()
    return {
        "schema": SCHEMA,
        "when": started,
        "budget_s": options.seconds,
        "startup_s": round(options.spent, 3),  # before run_bench: interpreter start, imports
        "measure_budget_s": round(total.seconds, 3),  # what the measurements were given
        "elapsed_s": round(total.elapsed(), 3),  # what they took
        "source": source_info,
        "params": {**options.params.kwargs(), "workers": options.workers, "seed": options.seed},
        "machine": machine_info(),
        "mix": mix,
        "peak_rss_mb": peak_rss_mb(),
        "gpu_peak_mb": gpu_peak_mb(),
        "results": [m.to_dict() for m in results],
        "log": options.log,
        "log_lines": _count_lines(options.log),
    }


def _count_lines(path: str | None) -> int:
    if path is None:
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)

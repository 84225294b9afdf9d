"""Where the per-file work runs: a local process pool (default) or a Ray cluster.

The unit of work is ``run_task((path, with_info, threads, with_check))``: the integrity decode
of one file and, for ``prepare``, its Open-Sora info row, in one worker, so each file is read
once. Both
engines kill a file that runs past its timeout (the local pool kills and replaces the worker
process, Ray force-cancels the task) and turn a dead worker into a ``crash`` failure, and both
report each result as it finishes so the caller can journal it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from pyvidfast.curation.integrity import check_file
from pyvidfast.parallel.options import ENGINES
from pyvidfast.parallel.pool import map_with_timeout
from pyvidfast.parallel.ray_loop import map_on_ray

DEVICES = ("cpu", "cuda")

Task = tuple[str, bool, int, bool]
OnResult = Callable[[str, dict], None]


def failure(kind: str, line: str, with_info: bool) -> dict:
    """A failed result for a file the worker could not finish (timeout, crash, ...)."""
    result: dict[str, Any] = {
        "ok": False,
        "error_kind": kind,
        "error_lines": [line],
        "decoded_frames": 0,
        "header_frames": 0,
    }
    if with_info:
        from pyvidfast.opensora.info import ERROR_COLUMN, INFO_COLUMNS

        result["info"] = dict(zip(INFO_COLUMNS, (0, 0, 0, math.nan, math.nan, math.nan)))
        result["info"][ERROR_COLUMN] = line
    return result


def run_task(task: Task) -> dict:
    """One file: the integrity verdict and/or ``info`` (Open-Sora's row), as asked."""
    path, with_info, threads, with_check = task
    result: dict[str, Any] = check_file(path, threads=threads) if with_check else {}
    if with_info:
        from pyvidfast.opensora.info import video_info

        result["info"] = video_info(path)
    return result


def _as_result(value: Any, task: Task) -> dict:
    if isinstance(value, dict):
        return value
    line = f"{task[0]}: checker error: {type(value).__name__}: {value}"[:300]
    return failure("crash", line, task[1])


def timed_out(task: Task, timeout: float) -> dict:
    """The failed result of a task killed after ``timeout`` seconds."""
    return failure("timeout", f"{task[0]}: no verdict within {timeout:g}s, killed", task[1])


def run_local(
    tasks: Sequence[Task], on_result: OnResult, workers: int | None, timeout: float | None
) -> None:
    """Run ``tasks`` on ``workers`` local processes (default: one per CPU)."""

    def crashed(task: Task, code: int | None) -> dict:
        return failure("crash", f"{task[0]}: worker died (exit code {code})", task[1])

    map_with_timeout(
        run_task,
        list(tasks),
        num_workers=workers,
        timeout=timeout,
        on_timeout=lambda task: timed_out(task, timeout),
        on_crash=crashed,
        on_result=lambda i, value: on_result(tasks[i][0], _as_result(value, tasks[i])),
    )


def run_ray(
    tasks: Sequence[Task],
    on_result: OnResult,
    workers: int | None,
    timeout: float | None,
    address: str | None = None,
) -> None:
    """Run ``tasks`` as Ray tasks (one CPU each) on the cluster at ``address``.

    Joins a running Ray instance if this process already has one, else ``ray.init(address)``
    (None starts a local one). At most ``workers`` (default: the cluster's CPUs) tasks are in
    flight, so a task's timeout counts from when it can start.
    """

    def crashed(task: Task, exc: BaseException) -> dict:
        return failure("crash", f"{task[0]}: ray task failed: {exc}"[:300], task[1])

    map_on_ray(
        run_task,
        list(tasks),
        lambda i, value: on_result(tasks[i][0], _as_result(value, tasks[i])),
        workers,
        timeout,
        lambda task: timed_out(task, timeout),
        crashed,
        address=address,
    )


def run(
    tasks: Sequence[Task],
    on_result: OnResult,
    engine: str = "local",
    workers: int | None = None,
    timeout: float | None = None,
    address: str | None = None,
    device: str = "cpu",
) -> None:
    """Run ``tasks`` on ``engine`` ("local" or "ray"), calling ``on_result(path, result)``.

    ``device="cuda"`` decodes video on NVDEC (``gpu_check.run_cuda``; Ray tasks request GPUs).
    """
    if not tasks:
        return
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cuda":
        from pyvidfast.curation.gpu_check import run_cuda

        run_cuda(tasks, on_result, engine, workers, timeout, address)
    elif engine == "local":
        run_local(tasks, on_result, workers, timeout)
    elif engine == "ray":
        run_ray(tasks, on_result, workers, timeout, address)
    else:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")

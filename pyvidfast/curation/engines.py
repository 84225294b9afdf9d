"""Where the per-file work runs: a local process pool (default) or a Ray cluster.

The unit of work is ``run_task(Task(path, with_info, threads, with_check))`` (tasks.py): the
integrity decode of one file and, for ``prepare``, its Open-Sora info row, in one worker, so each
file is read once. Both engines kill a file that runs past its timeout (the local pool kills and replaces the worker
process, Ray force-cancels the task) and turn a dead worker into a ``crash`` failure, and both
report each result as it finishes so the caller can journal it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from pyvidfast.curation.tasks import OnResult, Task, as_result, failure, run_task

ENGINES = ("local", "ray")
DEVICES = ("cpu", "cuda")
DEFAULT_TIMEOUT = 600.0  # seconds per file

__all__ = ["DEVICES", "ENGINES", "OnResult", "Task", "failure", "run", "run_task"]


def run_local(
    tasks: Sequence[Task], on_result: OnResult, workers: int | None, timeout: float | None
) -> None:
    """Run ``tasks`` on ``workers`` local processes (default: one per CPU)."""
    from pyvidfast.opensora.pool import map_with_timeout

    def timed_out(task: Task) -> dict:
        line = f"{task.path}: no verdict within {timeout:g}s, killed"
        return failure("timeout", line, task.with_info)

    def crashed(task: Task, code: int | None) -> dict:
        return failure("crash", f"{task.path}: worker died (exit code {code})", task.with_info)

    map_with_timeout(
        run_task,
        list(tasks),
        num_workers=workers,
        timeout=timeout,
        on_timeout=timed_out,
        on_crash=crashed,
        on_result=lambda i, value: on_result(tasks[i].path, as_result(value, tasks[i])),
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
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "--engine ray needs Ray: pip install 'pyvidfast[ray]' (or 'ray[data]')"
        ) from exc
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    limit = max(1, workers or cpus)
    remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
    pending = list(range(len(tasks)))[::-1]
    in_flight: dict[Any, tuple[int, float]] = {}
    while pending or in_flight:
        while pending and len(in_flight) < limit:
            i = pending.pop()
            deadline = time.monotonic() + timeout if timeout else math.inf
            in_flight[remote.remote(tasks[i])] = (i, deadline)
        soonest = min(d for _, d in in_flight.values())
        wait_s = None if soonest == math.inf else max(0.0, soonest - time.monotonic())
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=wait_s)
        for ref in ready:
            i, _ = in_flight.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:  # WorkerCrashedError, RayTaskError, ...
                line = f"{tasks[i].path}: ray task failed: {exc}"[:300]
                value = failure("crash", line, tasks[i].with_info)
            on_result(tasks[i].path, as_result(value, tasks[i]))
        now = time.monotonic()
        for ref, (i, deadline) in list(in_flight.items()):
            if now >= deadline:
                ray.cancel(ref, force=True)
                del in_flight[ref]
                line = f"{tasks[i].path}: no verdict within {timeout:g}s, killed"
                on_result(tasks[i].path, failure("timeout", line, tasks[i].with_info))


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

    ``device="cuda"`` decodes video on NVDEC (``curation.gpu.run_cuda``; Ray tasks request GPUs).
    """
    if not tasks:
        return
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cuda":
        # The NVDEC engine hands back what it cannot take through ``run_cpu``: it never
        # imports this module.
        from pyvidfast.curation.gpu import run_cuda

        def run_cpu(cpu_tasks: Sequence[Task]) -> None:
            run(cpu_tasks, on_result, engine, None, timeout, address)

        run_cuda(tasks, on_result, run_cpu, engine, workers, timeout, address)
    elif engine == "local":
        run_local(tasks, on_result, workers, timeout)
    elif engine == "ray":
        run_ray(tasks, on_result, workers, timeout, address)
    else:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")

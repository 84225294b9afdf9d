"""Where the per-file work runs: a local process pool (default) or a Ray cluster.

The unit of work is ``run_task(Task(path, with_info, threads, with_check))`` (tasks.py): the
integrity decode of one file and, for ``prepare``, its Open-Sora info row, in one worker, so each
file is read once. Both engines kill a file that runs past its timeout (the local pool kills and replaces the worker
process, Ray force-cancels the task) and turn a dead worker into a ``crash`` failure, and both
report each result as it finishes so the caller can journal it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyvidfast.curation.tasks import OnResult, Task, as_result, failure, run_task, timed_out
from pyvidfast.parallel.options import ENGINES
from pyvidfast.parallel.pool import map_with_timeout
from pyvidfast.parallel.ray_loop import map_on_ray

DEVICES = ("cpu", "cuda")

__all__ = ["DEVICES", "ENGINES", "OnResult", "Task", "failure", "run", "run_task"]


def run_local(
    tasks: Sequence[Task], on_result: OnResult, workers: int | None, timeout: float | None
) -> None:
    """Run ``tasks`` on ``workers`` local processes (default: one per CPU)."""

    def crashed(task: Task, code: int | None) -> dict:
        return failure("crash", f"{task.path}: worker died (exit code {code})", task.with_info)

    map_with_timeout(
        run_task,
        list(tasks),
        num_workers=workers,
        timeout=timeout,
        on_timeout=lambda task: timed_out(task, timeout),
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

    def crashed(task: Task, exc: BaseException) -> dict:
        return failure("crash", f"{task.path}: ray task failed: {exc}"[:300], task.with_info)

    map_on_ray(
        run_task,
        list(tasks),
        lambda i, value: on_result(tasks[i].path, as_result(value, tasks[i])),
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

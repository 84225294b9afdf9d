"""``engines.run(..., device="cuda")``: checker processes per GPU, locally or one Ray worker per GPU.

Integrity-only tasks go to ``check_paths_cuda``: a pool of checker processes (worker.py), by
default two per NVDEC engine so that one process's Python work (opening, demuxing) overlaps the
other's decode and the engines never wait on Python. Tasks that also want Open-Sora's info row
are handed back to the CPU engine (``run_cpu``). With ``engine="ray"`` each Ray task takes one
GPU (``num_gpus=1``) and runs the same pool there, on a chunk of files.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from pyvidfast.curation.gpu.worker import WorkerConfig, check_task, configure
from pyvidfast.curation.tasks import OnResult, Task, as_result, failure, timed_out
from pyvidfast.io.nvdec import DecoderPool
from pyvidfast.parallel.options import ENGINES
from pyvidfast.parallel.pool import map_with_timeout
from pyvidfast.parallel.ray_loop import map_on_ray

__all__ = ["check_paths_cuda", "default_workers", "run_cuda"]

RunCpu = Callable[[Sequence[Task]], None]


def default_workers(gpu_id: int = 0) -> int:
    """Two checker processes per NVDEC engine of GPU ``gpu_id``.

    The engine count comes from the GPU's name as ``nvidia-smi`` gives it: asking CUDA here
    would initialise it in the parent, and the pool's forked workers could not use it.
    """
    from pyvidfast.io.nvdec.caps import DEFAULT_ENGINES, engines_for_name

    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", f"--id={gpu_id}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    return 2 * (engines_for_name(out.strip()) or DEFAULT_ENGINES)


def _refuse_after_cuda_init() -> None:
    """The checker processes are forked, and CUDA does not survive a fork: a parent that has
    used it would leave every worker unable to decode. Say so instead."""
    import torch

    if torch.cuda.is_initialized():
        raise RuntimeError(
            "check --device cuda forks its decoder processes, so it must start before this "
            "process uses CUDA (torch.cuda is already initialised here); run it first or in "
            "a separate process"
        )


def check_paths_cuda(
    tasks: Sequence[Task],
    on_result: OnResult,
    *,
    gpu_id: int = 0,
    workers: int | None = None,
    timeout: float | None = None,
    pool_factory: Callable[[], DecoderPool] | None = None,
    watch_errors: bool = True,
) -> dict[str, int]:
    """Check integrity-only ``tasks`` on GPU ``gpu_id``; files NVDEC cannot take are checked on
    the CPU by the same processes. ``pool_factory`` makes each process's decoder pool (default:
    ``io.nvdec.decoder_pool``, PyNvVideoCodec). Returns how many files went to each device."""
    _refuse_after_cuda_init()
    tasks = list(tasks)
    counts = {"gpu_files": 0, "cpu_files": 0}

    def finished(i: int, value: Any) -> None:
        result = as_result(value, tasks[i])
        counts["gpu_files" if result.get("device") == "cuda" else "cpu_files"] += 1
        on_result(tasks[i].path, result)

    def crashed(task: Task, code: int | None) -> dict:
        return failure("crash", f"{task.path}: worker died (exit code {code})", False)

    configure(WorkerConfig(gpu_id, pool_factory, watch_errors))
    try:
        map_with_timeout(
            check_task,
            tasks,
            num_workers=workers or default_workers(gpu_id),
            timeout=timeout,
            on_timeout=lambda task: timed_out(task, timeout),
            on_crash=crashed,
            on_result=finished,
        )
    finally:
        configure(WorkerConfig())
    return counts


def run_cuda(
    tasks: Sequence[Task],
    on_result: OnResult,
    run_cpu: RunCpu,
    engine: str = "local",
    workers: int | None = None,
    timeout: float | None = None,
    address: str | None = None,
    chunk: int = 256,
    pool_factory: Callable[[], DecoderPool] | None = None,
) -> None:
    """Integrity-only tasks on NVDEC, the rest through ``run_cpu`` (the CPU engine).

    ``workers``: checker processes per GPU; with ``engine="ray"``, ``chunk`` files per Ray task
    of one GPU. ``pool_factory``: see ``check_paths_cuda``."""
    cpu_tasks = [t for t in tasks if t.with_info or not t.with_check]
    gpu_tasks = [t for t in tasks if not t.with_info and t.with_check]
    if cpu_tasks:
        run_cpu(cpu_tasks)
    if not gpu_tasks:
        return
    if engine == "local":
        check_paths_cuda(
            gpu_tasks, on_result, workers=workers, timeout=timeout, pool_factory=pool_factory
        )
    elif engine == "ray":
        chunks = [
            (list(gpu_tasks[i : i + chunk]), workers, timeout, pool_factory)
            for i in range(0, len(gpu_tasks), chunk)
        ]
        _run_ray(chunks, on_result, address)
    else:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def _ray_chunk(item: tuple) -> list[tuple[str, dict]]:
    """One Ray task: a chunk of files on the GPU Ray gave it (visible as device 0)."""
    tasks, workers, timeout, pool_factory = item
    out: list[tuple[str, dict]] = []
    check_paths_cuda(
        tasks,
        lambda p, r: out.append((p, r)),
        workers=workers,
        timeout=timeout,
        pool_factory=pool_factory,
    )
    return out


def _run_ray(chunks: list[tuple], on_result: OnResult, address: str | None) -> None:
    """Each chunk a Ray task of one GPU, one in flight per GPU; each runs its own checker
    processes there (default two per NVDEC engine of that GPU)."""

    def finished(i: int, value: Any) -> None:
        for path, result in value:
            on_result(path, result)

    def crashed(item, exc: BaseException) -> list[tuple[str, dict]]:
        return [
            (t.path, failure("crash", f"{t.path}: ray task failed: {exc}"[:300], False))
            for t in item[0]
        ]

    # Per-file timeouts are kept inside each chunk's pool; a chunk itself has none.
    map_on_ray(
        _ray_chunk,
        chunks,
        finished,
        None,
        None,
        on_crash=crashed,
        address=address,
        num_cpus=1,
        num_gpus=1,
    )

"""``map_on_ray``: the pool's contract (per-item timeout, failures as results) over Ray tasks.

At most ``num_workers`` tasks are in flight (default: the cluster's CPUs, or GPUs when each task
takes one), so an item's timeout counts from when it can start. A task past its deadline is
force-cancelled and its item gets ``on_timeout(item)``; a task that raises or whose worker dies
gets ``on_crash(item, exc)``. ``on_result(index, result)`` is called as each item finishes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any


def init_ray(address: str | None = None) -> Any:
    """The ``ray`` module, joined to a running instance or ``ray.init(address)`` (None: local)."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "--engine ray needs Ray: pip install 'pyvidfast[ray]' (or 'ray[data]')"
        ) from exc
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray


def map_on_ray(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    on_result: Callable[[int, Any], None],
    num_workers: int | None = None,
    timeout: float | None = None,
    on_timeout: Callable[[Any], Any] = lambda item: TimeoutError(f"timed out: {item!r}"),
    on_crash: Callable[[Any, BaseException], Any] = lambda item, exc: exc,
    *,
    address: str | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
) -> None:
    """Run ``func(item)`` for every item as a Ray task; see the module docstring."""
    if not items:
        return
    ray = init_ray(address)
    resource = "GPU" if num_gpus else "CPU"
    limit = max(1, num_workers or int(ray.cluster_resources().get(resource, 1)))
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(func)
    pending = list(range(len(items)))[::-1]
    in_flight: dict[Any, tuple[int, float]] = {}
    while pending or in_flight:
        while pending and len(in_flight) < limit:
            i = pending.pop()
            deadline = time.monotonic() + timeout if timeout else math.inf
            in_flight[remote.remote(items[i])] = (i, deadline)
        soonest = min(d for _, d in in_flight.values())
        wait_s = None if soonest == math.inf else max(0.0, soonest - time.monotonic())
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=wait_s)
        for ref in ready:
            i, _ = in_flight.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:  # WorkerCrashedError, RayTaskError, ...: the item's failure
                value = on_crash(items[i], exc)
            on_result(i, value)
        now = time.monotonic()
        for ref, (i, deadline) in list(in_flight.items()):
            if now >= deadline:
                ray.cancel(ref, force=True)
                del in_flight[ref]
                on_result(i, on_timeout(items[i]))

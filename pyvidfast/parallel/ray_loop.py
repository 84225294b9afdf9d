"""``map_on_ray``: the pool's contract (per-item timeout, failures as results) over Ray tasks.

At most ``num_workers`` tasks are in flight (default: the cluster's CPUs, or GPUs when each task
takes one), so an item's timeout counts from when it can start. A task past its deadline is
force-cancelled and its item gets ``on_timeout(item)``; a task that raises or whose worker dies
gets ``on_crash(item, exc)``. ``on_result(index, result)`` is called once per item, as it finishes.

Note [lost nodes]: a task whose node died says nothing about its file, so the driver sends it
again (fresh deadline, at most ``MAX_RESUBMITS`` times) on ``NodeDiedError`` or a lost result. A
``WorkerCrashedError`` means a lost node once a node is known lost during the run; otherwise the
task runs once more, so a file that kills its worker twice gets its ``crash`` verdict. Ray's own
retries are off; resubmissions are logged and counted in ``RayRunStats``, and the number in
flight shrinks to the CPUs of the nodes left. Details: docs/notes.md.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("pyvidfast.parallel")

MAX_RESUBMITS = 3  # per item: a file whose node dies this often becomes a crash row


@dataclass
class RayRunStats:
    """What one ``map_on_ray`` call did: ``submitted`` tasks (resubmissions included),
    ``resubmitted`` (tasks sent again, Note [lost nodes]) and the ``lost_nodes``' ids."""

    submitted: int = 0
    resubmitted: int = 0
    lost_nodes: list[str] = field(default_factory=list)


def init_ray(address: str | None = None) -> Any:
    """The ``ray`` module, joined to a running instance or ``ray.init(address)`` (None: local)."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "--engine ray needs Ray: pip install 'pyvidfast[ray]' (or 'ray[data]')"
        ) from exc
    if not ray.is_initialized():
        # Workers on other nodes do not inherit this process's environment: pass on the
        # settings pyvidfast reads from it (--storage-options, remote retries; io/storage.py).
        env = {k: v for k, v in os.environ.items() if k.startswith("PYVIDFAST_")}
        runtime_env = {"env_vars": env} if env else None
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env=runtime_env,
        )
    return ray


# The node a NodeDiedError names ("... node ID: <hex>. ..."); the exception has no field for it.
NODE_ID = re.compile(r"node ID: ([0-9a-f]+)")


class _Run:
    """One ``map_on_ray`` call: the tasks in flight, the items left, the nodes lost so far."""

    def __init__(self, ray, remote, items, timeout, resource: str, num_workers) -> None:
        self.ray, self.remote, self.items, self.timeout = ray, remote, items, timeout
        self.resource, self.num_workers = resource, num_workers
        self.pending = list(range(len(items)))[::-1]
        self.in_flight: dict[Any, tuple[int, float]] = {}
        self.attempts = [0] * len(items)
        self.stats = RayRunStats()
        self.nodes = self._alive()
        self.limit = self._limit()

    def _alive(self) -> dict[str, float]:
        """Alive nodes not known lost -> their ``resource`` count. The GCS lists a killed node
        as alive for seconds after the driver has had a NodeDiedError for it."""
        return {
            n["NodeID"]: n["Resources"].get(self.resource, 0)
            for n in self.ray.nodes()
            if n["Alive"] and n["NodeID"] not in self.stats.lost_nodes
        }

    def _limit(self) -> int:
        return max(1, self.num_workers or int(sum(self._alive().values())))

    def submit(self) -> None:
        while self.pending and len(self.in_flight) < self.limit:
            i = self.pending.pop()
            deadline = time.monotonic() + self.timeout if self.timeout else math.inf
            self.in_flight[self.remote.remote(self.items[i])] = (i, deadline)
            self.attempts[i] += 1
            self.stats.submitted += 1

    def wait_s(self) -> float | None:
        soonest = min(d for _, d in self.in_flight.values())
        return None if soonest == math.inf else max(0.0, soonest - time.monotonic())

    def why_again(self, i: int, exc: BaseException) -> str | None:
        """Note [lost nodes]: why item ``i``'s task, which raised ``exc``, runs again (None: it
        does not, ``exc`` is the item's failure)."""
        errors = self.ray.exceptions
        if isinstance(exc, errors.NodeDiedError):
            named = NODE_ID.search(str(exc))
            self.notice_lost_nodes([named.group(1)] if named else [])
            lost = "its node was lost"
        elif isinstance(exc, errors.ObjectLostError):
            lost = "its result was lost with its node"
        elif isinstance(exc, errors.WorkerCrashedError) and self.notice_lost_nodes():
            lost = "its worker died after a node was lost"
        elif isinstance(exc, errors.WorkerCrashedError) and self.attempts[i] == 1:
            return "its worker died (with its node, or of the file: run once more)"
        else:
            return None
        return lost if self.attempts[i] <= MAX_RESUBMITS else None

    def notice_lost_nodes(self, named: Sequence[str] = ()) -> list[str]:
        """The nodes lost during the run: ``named`` ones and those the GCS no longer lists as
        alive; the in-flight limit shrinks to the CPUs left."""
        gone = [*named, *sorted(set(self.nodes) - set(self._alive()))]
        new = [node for node in dict.fromkeys(gone) if node not in self.stats.lost_nodes]
        if new:
            self.stats.lost_nodes.extend(new)
            self.limit = self._limit()
        return self.stats.lost_nodes

    def resubmit(self, i: int, exc: BaseException, why: str) -> None:
        """Put item ``i`` back in the queue, first in line."""
        self.pending.append(i)
        self.stats.resubmitted += 1
        log.warning(
            "ray: %s resubmitted, %s (%s: %s)",
            repr(self.items[i])[:200],
            why,
            type(exc).__name__,
            (str(exc).strip().splitlines() or [""])[0][:200],
        )


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
) -> RayRunStats:
    """Run ``func(item)`` for every item as a Ray task; see the module docstring."""
    if not items:
        return RayRunStats()
    ray = init_ray(address)
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(func)
    run = _Run(ray, remote, items, timeout, "GPU" if num_gpus else "CPU", num_workers)
    while run.pending or run.in_flight:
        run.submit()
        ready, _ = ray.wait(list(run.in_flight), num_returns=1, timeout=run.wait_s())
        for ref in ready:
            i, _ = run.in_flight.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:  # WorkerCrashedError, RayTaskError, ...: the item's failure
                why = run.why_again(i, exc)
                if why is not None:
                    run.resubmit(i, exc, why)
                    continue
                value = on_crash(items[i], exc)
            on_result(i, value)
        now = time.monotonic()
        for ref, (i, deadline) in list(run.in_flight.items()):
            if now >= deadline:
                ray.cancel(ref, force=True)
                del run.in_flight[ref]
                on_result(i, on_timeout(items[i]))
    if run.stats.resubmitted:
        log.warning(
            "ray: %d task(s) resubmitted after %d node(s) left the cluster",
            run.stats.resubmitted,
            len(run.stats.lost_nodes),
        )
    return run.stats


def map_on_ray_in_order(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    num_workers: int | None = None,
    timeout: float | None = None,
    on_timeout: Callable[[Any], Any] = lambda item: TimeoutError(f"timed out: {item!r}"),
    on_crash: Callable[[Any, BaseException], Any] = lambda item, exc: exc,
    on_result: Callable[[int, Any], None] | None = None,
    *,
    address: str | None = None,
) -> list[Any]:
    """``map_on_ray`` shaped like ``pool.map_with_timeout``: the results in input order."""
    results: list[Any] = [None] * len(items)

    def done(index: int, result: Any) -> None:
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    map_on_ray(func, items, done, num_workers, timeout, on_timeout, on_crash, address=address)
    return results

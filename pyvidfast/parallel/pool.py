"""A process pool with a per-item timeout: a hung or huge file costs its timeout, not the job.

``concurrent.futures`` cannot stop a running task, so each worker is a process of its own with a
pipe; when an item runs past its deadline its worker is killed and replaced, and the item gets
``on_timeout(item)``. A worker that dies (segfault, OOM kill) gives ``on_crash(item, exitcode)``.
Results come back in input order. The function and items must be picklable.

Note [worker lifetime]: a worker never outlives the process that started it. Its end of the pipe
is no lifeline (forked siblings inherit the parent's end, so the worker would wait on it
forever), hence two guards: on Linux the kernel sends the worker SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), whatever killed the parent, SIGKILL and OOM kills included; and
everywhere a watchdog thread ends the worker once its parent process id changes. Workers ignore
SIGINT and SIGTERM: Ctrl-C and a job scheduler's SIGTERM reach the whole process group, and a
worker that died of them would turn the file it was on into a bogus ``crash`` result; the parent
stops them itself (SIGKILL in the pool's ``finally``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import wait
from typing import Any

from pyvidfast.parallel.memory import keep_freed_memory

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_PERIOD = 0.5  # seconds between the watchdog's looks at the parent process id


def _die_with_parent(parent_pid: int) -> None:
    """Note [worker lifetime]: end this process when ``parent_pid`` is no longer its parent."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_PERIOD)
        os._exit(1)

    # Also covers a parent that died before prctl above ran.
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _worker_loop(conn, func, parent_pid: int) -> None:
    keep_freed_memory()  # Note [freed memory]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if msg is None:
            return
        index, item = msg
        try:
            result = func(item)
        except BaseException as exc:  # the parent turns this into the item's failure
            result = exc
        conn.send((index, result))


class _Worker:
    def __init__(self, ctx, func):
        self.conn, child = ctx.Pipe(duplex=True)
        args = (child, func, os.getpid())
        self.proc = ctx.Process(target=_worker_loop, args=args, daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple[int, float] | None = None  # (index, deadline)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def _context():
    # fork starts workers in milliseconds; the parent holds no decoder state worth fearing.
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method)


class _Run:
    """One ``map_with_timeout`` call: the workers, the next item, the results so far."""

    def __init__(self, ctx, func, items, timeout, on_timeout, on_crash, on_result) -> None:
        self.ctx, self.func, self.items, self.timeout = ctx, func, items, timeout
        self.on_timeout, self.on_crash, self.on_result = on_timeout, on_crash, on_result
        self.results: list[Any] = [None] * len(items)
        self.pending = iter(range(len(items)))
        self.remaining = len(items)
        self.workers: list[_Worker] = []

    def finish(self, index: int, result: Any) -> None:
        self.results[index] = result
        self.remaining -= 1
        if self.on_result is not None:
            self.on_result(index, result)

    def assign(self, worker: _Worker) -> None:
        index = next(self.pending, None)
        if index is None:
            worker.task = None
            return
        deadline = time.monotonic() + self.timeout if self.timeout else float("inf")
        worker.task = (index, deadline)
        worker.conn.send((index, self.items[index]))

    def replace(self, i: int) -> None:
        """A fresh worker in slot ``i`` (the old one is dead or killed), given the next item."""
        self.workers[i] = _Worker(self.ctx, self.func)
        self.assign(self.workers[i])

    def step(self) -> None:
        """Wait for the first result or deadline, and handle every worker that is due."""
        busy = [w for w in self.workers if w.task is not None]
        next_deadline = min(w.task[1] for w in busy)
        wait_s = max(0.0, next_deadline - time.monotonic())
        ready = wait([w.conn for w in busy], timeout=None if wait_s == float("inf") else wait_s)
        for i, w in enumerate(self.workers):
            if w.task is None:
                continue
            index, deadline = w.task
            if w.conn in ready:
                try:
                    got_index, result = w.conn.recv()
                except (EOFError, OSError):
                    w.proc.join()
                    w.conn.close()
                    self.finish(index, self.on_crash(self.items[index], w.proc.exitcode))
                    self.replace(i)
                else:
                    self.finish(got_index, result)
                    self.assign(w)
            elif time.monotonic() >= deadline:
                w.kill()
                self.finish(index, self.on_timeout(self.items[index]))
                self.replace(i)


def map_with_timeout(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    num_workers: int | None = None,
    timeout: float | None = None,
    on_timeout: Callable[[Any], Any] = lambda item: TimeoutError(f"timed out: {item!r}"),
    on_crash: Callable[[Any, int | None], Any] = lambda item, code: RuntimeError(
        f"worker died (exit code {code})"
    ),
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[func(item) for item in items]`` over ``num_workers`` processes (default: cpu count).

    An exception raised by ``func`` becomes that item's result (the exception object).
    ``on_result(index, result)`` is called as each item finishes (for a progress bar).
    """
    items = list(items)
    if not items:
        return []
    num_workers = max(1, min(num_workers or os.cpu_count() or 1, len(items)))
    ctx = _context()
    run = _Run(ctx, func, items, timeout, on_timeout, on_crash, on_result)
    try:
        for _ in range(num_workers):
            run.workers.append(_Worker(ctx, func))
            run.assign(run.workers[-1])
        while run.remaining:
            run.step()
    finally:
        # Idle workers hold nothing worth a clean shutdown; SIGKILL skips interpreter teardown
        # (10 ms a worker), which matters when the files themselves take a millisecond.
        for w in run.workers:
            w.kill()
    return run.results


def map_in_process(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """The ``--disable-parallel`` path: same contract as ``map_with_timeout``, no timeout."""
    results = []
    for index, item in enumerate(items):
        try:
            result = func(item)
        except Exception as exc:
            result = exc
        results.append(result)
        if on_result is not None:
            on_result(index, result)
    return results


def alive_in_group(pgid: int) -> list[int]:
    """Running (not zombie) processes of process group ``pgid`` (Linux ``/proc``): what a
    killed run left behind, for the tests and benchmarks that check nothing outlives a job."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            alive.append(int(entry))
    return alive

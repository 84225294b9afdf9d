"""Run one measurement in a forked child: a decoder that crashes or hangs on a file costs that
measurement, not the bench run, and the child's peak RSS is the measurement's own.

The child may send partial results (``report_progress``) as it goes; when it has to be killed
at its time limit, the last of them is what the parent keeps. Not a daemon process, so the
measurement may start its own workers (DataLoader, check pool).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["report_progress", "run_isolated"]

_progress_conn = None  # set in the child: where report_progress sends


def report_progress(value: Any) -> None:
    """Send a partial result to the parent (nothing outside ``run_isolated``)."""
    if _progress_conn is not None:
        _progress_conn.send(("partial", value))


def _child(conn, fn: Callable[..., Any], args: tuple) -> None:
    global _progress_conn
    _progress_conn = conn
    # Its own process group: the parent kills the measurement with everything it started
    # (DataLoader and pool workers, ffmpeg jobs), which a kill of the child alone would orphan.
    os.setpgrp()
    try:
        result = ("ok", fn(*args))
    except BaseException as exc:  # reported to the parent as the measurement's failure
        lines = traceback.format_exception_only(type(exc), exc)
        result = ("error", "".join(lines).strip()[:500])
    conn.send(result)
    conn.close()


def _receive(parent, deadline: float) -> tuple[str, Any]:
    partial = None
    while True:
        if not parent.poll(max(deadline - time.monotonic(), 0)):
            return "timeout", partial
        try:
            status, value = parent.recv()
        except EOFError:
            return "crash", partial
        if status != "partial":
            return status, value
        partial = value


def run_isolated(fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[str, Any, Any]:
    """``(status, value, partial)``: ``("ok", fn(*args), None)``, ``("error", message, p)``,
    ``("timeout", message, p)`` or ``("crash", message, p)``, where ``p`` is the last partial
    result the child reported (None if none). ``fn`` runs in a forked child killed after
    ``timeout`` seconds."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args), daemon=False)
    proc.start()
    _own_group(proc.pid)
    child.close()
    try:
        status, value = _receive(parent, time.monotonic() + timeout)
        if status == "ok" or status == "error":
            return status, value, None
        if status == "timeout":
            _kill_group(proc.pid)
            proc.join()
            return "timeout", f"killed after {timeout:.0f}s", value
        proc.join()
        return "crash", f"measuring process died (exit code {proc.exitcode})", value
    finally:
        parent.close()
        _kill_group(proc.pid)  # whatever the measurement left running
        proc.join()


def _own_group(pid: int) -> None:
    """The child's own process group, set from this side too (whichever runs first wins)."""
    try:
        os.setpgid(pid, pid)
    except (ProcessLookupError, PermissionError):
        pass  # the child has already exited, or already set it itself (after its exec)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group has already exited

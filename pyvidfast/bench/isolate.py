"""Run one measurement in a forked child: a decoder that crashes or hangs on a file costs that
measurement, not the bench run, and the child's peak RSS is the measurement's own.

Not a daemon process, so the measurement may start its own workers (DataLoader, check pool).
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["run_isolated"]


def _child(conn, fn: Callable[..., Any], args: tuple) -> None:
    try:
        result = ("ok", fn(*args))
    except BaseException as exc:  # reported to the parent as the measurement's failure
        lines = traceback.format_exception_only(type(exc), exc)
        result = ("error", "".join(lines).strip()[:500])
    conn.send(result)
    conn.close()


def run_isolated(fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[str, Any]:
    """``("ok", fn(*args))``, ``("error", message)``, ``("timeout", message)`` or
    ``("crash", message)``; ``fn`` runs in a forked child killed after ``timeout`` seconds."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args), daemon=False)
    proc.start()
    child.close()
    try:
        if parent.poll(timeout):
            try:
                return parent.recv()
            except EOFError:
                pass  # the child died while sending; reported below
        else:
            proc.kill()
            proc.join()
            return "timeout", f"killed after {timeout:.0f}s"
        proc.join()
        return "crash", f"measuring process died (exit code {proc.exitcode})"
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join()

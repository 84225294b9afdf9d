"""A command's way out: SIGTERM and Ctrl-C give one line on stderr and exit code 143 or 130.

``stop_on_signals()`` makes SIGTERM raise ``Interrupted`` (a ``KeyboardInterrupt``, as SIGINT
already does), so every ``finally`` and ``with`` on the way out runs: the pool kills its workers,
the journal file is closed, the progress bar ends its line. The command's entry point catches it
and prints one line instead of a traceback. Exit codes follow the shell: 128 + signal number.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pyvidfast.parallel.memory import keep_freed_memory
from pyvidfast.parallel.outputs import OutputError


class Interrupted(KeyboardInterrupt):
    """The run was stopped by ``signum`` (SIGINT or SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum, frame) -> None:
    # Further signals while the run unwinds must not interrupt the cleanup.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``Interrupted`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_command(prog: str, func, *args, resumable: bool = False) -> int:
    """``func(*args)`` as an exit code; SIGINT/SIGTERM give one line on stderr and 130/143, an
    output that cannot be written (``OutputError``) one line and 1."""
    keep_freed_memory()  # Note [freed memory]
    try:
        with stop_on_signals():
            return int(func(*args) or 0)
    except OutputError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        stopped = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        name = signal.Signals(stopped.signum).name
        hint = "; rerun the same command to resume from its journal" if resumable else ""
        print(f"{prog}: stopped by {name}{hint}", file=sys.stderr)
        return stopped.exit_code

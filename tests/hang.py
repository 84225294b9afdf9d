"""Work that provably never finishes, for timeout tests (issue 26).

A timeout test that races a slow file against the clock fails when the machine is busy or the
code gets faster. These tests instead give the code something that cannot finish until the test
says so: a FIFO that nobody writes to blocks its reader (in ``open``) for ever, in this process
or in a forked worker. Everything else in such a test is trivially fast work checked against a
generous limit.

Note [safety valve]: a broken timeout must fail its test, not hang the suite. After ``VALVE_S``
the FIFO is opened for writing and closed, so a reader still stuck on it sees end of file, returns
normally, and the test's assertion that it timed out fails. Closing the FIFO releases any reader
the same way (a decode thread left behind by a timeout in this process).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

VALVE_S = 300.0


class StalledFifo:
    """A named pipe at ``path`` whose reader waits until ``close`` (or the valve)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = str(path)
        self._closed = threading.Event()
        self._valve = threading.Thread(target=self._open_valve, daemon=True)
        self._valve.start()

    def wait(self) -> bytes:
        """Block until released: what a decode of this file does."""
        with open(self.path, "rb") as f:
            return f.read()

    def release(self) -> None:
        """End of file for whoever is blocked reading (nobody blocked: nothing happens)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader is waiting
            return
        os.close(fd)

    def _open_valve(self) -> None:
        if not self._closed.wait(VALVE_S):
            self.release()

    def close(self) -> None:
        self._closed.set()
        self._valve.join()
        self.release()

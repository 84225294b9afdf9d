"""Counting the decode-status errors NVDEC reports for pictures (``DecodeErrorWatch``).

PyNvVideoCodec's NvDecoder prints ``Decode Error occurred for picture N`` when
``cuvidGetDecodeStatus`` reports an error instead of raising; the only way to see it is to read
what the process prints.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
from collections.abc import Sequence

__all__ = ["DecodeErrorWatch", "start_watch"]

_ERROR_LINE = re.compile(rb"Decode Error occurred for picture")


def _fflush_c() -> None:
    """Flush the C library's stdio buffers (NvDecoder prints with printf)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


class DecodeErrorWatch:
    """Counts the ``Decode Error occurred for picture N`` lines PyNvVideoCodec's NvDecoder prints
    when ``cuvidGetDecodeStatus`` reports an error (it prints, it does not raise).

    While active, fds 1 and 2 are teed through pipes: every byte still reaches the original fd
    (except this class's own sync marks) and the error lines are counted. ``sync()`` flushes C
    stdio and waits until everything written before it has been read, then returns the count.
    The count is process-wide: each checker process decodes one file at a time and compares the
    count before and after it, so every line belongs to the file being decoded.
    """

    MARK = b"\x1epyvidfast-sync\x1e"

    def __init__(self, fds: Sequence[int] = (1, 2), wait: float = 10.0):
        self.fds = tuple(fds)
        self.wait = wait
        self.count = 0
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._sent = dict.fromkeys(self.fds, 0)
        self._seen = dict.fromkeys(self.fds, 0)
        self._saved: dict[int, int] = {}
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> DecodeErrorWatch:
        sys.stdout.flush()
        sys.stderr.flush()
        _fflush_c()
        for fd in self.fds:
            saved = os.dup(fd)
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            self._saved[fd] = saved
            t = threading.Thread(target=self._pump, args=(fd, r, saved), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _account(self, fd: int, line: bytes, marks: int) -> None:
        with self._cond:
            if _ERROR_LINE.search(line):
                self.count += 1
            if marks:
                self._seen[fd] += marks
                self._cond.notify_all()

    def _pump(self, fd: int, r: int, out: int) -> None:
        # Sync marks are cut out of the stream wherever they land (they may split a line); the
        # rest is forwarded at once (progress bars write no newline), and complete lines are
        # matched. ``held``: a possible start of a mark at the end of a read; ``tail``: the
        # current, unfinished line.
        held, tail = b"", b""
        while True:
            chunk = os.read(r, 1 << 16)
            data = held + chunk
            marks = data.count(self.MARK)
            data = data.replace(self.MARK, b"")
            keep = 0
            if chunk:
                keep = next(
                    (k for k in range(len(self.MARK) - 1, 0, -1) if data.endswith(self.MARK[:k])),
                    0,
                )
            held, data = (
                (data[len(data) - keep :], data[: len(data) - keep]) if keep else (b"", data)
            )
            *lines, tail = (tail + data).split(b"\n")
            for line in lines:
                self._account(fd, line, 0)
            if not chunk:
                self._account(fd, tail, 0)
            self._account(fd, b"", marks)
            if data:
                os.write(out, data)
            if not chunk:
                break
        os.close(r)

    def sync(self) -> int:
        """The error count, once everything printed so far has been read."""
        _fflush_c()
        # Marks are written under their own lock, never under the pump's: a full pipe must not
        # block the writer while the pump waits for the lock it holds.
        with self._send_lock:
            for fd in self.fds:
                self._sent[fd] += 1
                os.write(fd, self.MARK)
            target = dict(self._sent)
        with self._cond:
            self._cond.wait_for(
                lambda: all(self._seen[fd] >= target[fd] for fd in self.fds), self.wait
            )
            return self.count

    def __exit__(self, *exc) -> None:
        try:
            self.sync()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, saved in self._saved.items():
                os.dup2(saved, fd)  # closes the pipe's last write end: the pump sees EOF
            for t in self._threads:
                t.join(self.wait)
            for saved in self._saved.values():
                os.close(saved)


def start_watch() -> DecodeErrorWatch | None:
    """An active watch on fds 1 and 2, or None where they cannot be redirected."""
    try:
        return DecodeErrorWatch().__enter__()
    except OSError:  # no usable fds 1/2 (a daemon without them): status errors go unseen
        return None

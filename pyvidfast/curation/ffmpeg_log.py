"""Capture FFmpeg's error-level log lines while PyAV works, as ``ffmpeg -v error`` would print them.

``ffmpeg -v error`` prints every library message at level ERROR or worse (FATAL, PANIC) as
``[name @ 0xADDR] message``. PyAV routes FFmpeg's log callback into Python; with the level set to
ERROR and repeat-skipping off, a global ``av.logging.Capture`` sees exactly those messages, from
every thread (frame-threaded decoders log from their worker threads, so a thread-local capture
would miss them). Each checker worker process is single-purpose, so a global capture is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import av
import av.logging


@contextmanager
def capture_errors() -> Iterator[list[tuple[int, str, str]]]:
    """Collect ``(level, name, message)`` for every FFmpeg log line at level ERROR or worse."""
    previous_level = av.logging.get_level()
    previous_skip = av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture(local=False) as logs:
            yield logs
    finally:
        av.logging.set_skip_repeated(previous_skip)
        av.logging.set_level(previous_level)


def format_line(name: str, message: str) -> str:
    """One line as ffmpeg's default log callback prints it (the address is not reproducible)."""
    message = message.rstrip("\n")
    return f"[{name} @ 0x0] {message}" if name else message

"""Freed memory kept for reuse in the processes pyvidfast runs (docs/notes.md, Note [freed memory]).

``keep_freed_memory()`` sets glibc malloc's ``M_MMAP_THRESHOLD`` to 64 MiB and
``M_TRIM_THRESHOLD`` to 128 MiB, so that a block below 64 MiB (a demuxed packet, a decoded plane)
comes from the heap and, once freed, stays there for the next one, instead of being a fresh
``mmap`` whose every page faults on first touch. The command-line tools call it on start
(``parallel/interrupt.run_command``) and so do the pool's workers (``parallel/pool.py``); a program
that imports pyvidfast keeps its own malloc settings. ``PYVIDFAST_KEEP_FREED_MEMORY=0`` turns it
off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20
_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory() -> bool:
    """Set the thresholds above once in this process; False where they do not apply (not
    Linux/glibc, or ``PYVIDFAST_KEEP_FREED_MEMORY=0``)."""
    global _done
    if _done:
        return True
    if os.environ.get("PYVIDFAST_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith(
        "linux"
    ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    ok = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and ok
    _done = ok
    return ok

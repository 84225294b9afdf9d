"""The memory decoded frames are written into.

Note [fresh pages]
    The first write to each page of a new batch costs a page fault (about 0.45 ms per MB on the
    2-core VM, as much as converting the frame; numpy's huge pages swing 4x either way). So a
    batch is a torch tensor whose pages ``madvise(MADV_POPULATE_WRITE)`` faults in frame by frame:
    the decoding thread just before it writes a frame, a helper thread from the last frame
    backwards. Details: docs/notes.md.

Note [reused pages]
    Faulting in costs 0.36-0.46 ms per MB here, and 3.3 ms per MB once the VM has to back
    memory it never touched (measured on 200 MB buffers); writing a page already faulted in
    costs 0.05 ms per MB. A batch's memory therefore goes back to a small pool when its last
    tensor dies (a dataset that resizes decoded frames frees them each item; a loop that reads
    a clip in chunks frees each chunk) and the next batch is written into it, faulted in once.
    ``PYVIDFAST_BATCH_POOL_MB`` caps what the pool keeps (default 1024; 0 turns it off).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import weakref
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["BufferPool", "Prefaulter", "new_batch", "prefault"]

_MADV_POPULATE_WRITE = 23
_PAGE = 4096
_POPULATE_FROM = 8 << 20  # smaller buffers come from reused heap memory: nothing to gain


def _madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_madvise_fn = _madvise()


def prefault(view: np.ndarray) -> None:
    """Fault in the pages under ``view`` (C-contiguous) in one call; nothing if refused."""
    if _madvise_fn is None:
        return
    start = (view.ctypes.data + _PAGE - 1) & ~(_PAGE - 1)
    end = (view.ctypes.data + view.nbytes) & ~(_PAGE - 1)
    if end > start:
        _madvise_fn(start, end - start, _MADV_POPULATE_WRITE)


class Prefaulter:
    """Faults in the frames of a fresh batch ahead of the writer (Note [fresh pages]).

    ``before_write(j)`` faults frame ``j`` (if the helper has not) and tells the helper, which
    walks from the last frame down, where to stop. ``close()`` waits for the helper."""

    def __init__(self, view: np.ndarray):
        self._view = view
        self._reached = 0  # frames below this one are the writer's
        self._thread = threading.Thread(target=self._backwards, daemon=True)
        self._thread.start()

    def _backwards(self) -> None:
        for j in range(len(self._view) - 1, -1, -1):
            if j < self._reached + 1:
                return
            prefault(self._view[j])

    def before_write(self, j: int) -> None:
        self._reached = max(self._reached, j)
        prefault(self._view[j])

    def close(self) -> None:
        self._thread.join()


class BufferPool:
    """Batch memory whose tensors have died, kept for the next batches (Note [reused pages]):
    at most ``limit`` bytes, the most recently given back first."""

    def __init__(self, limit: int):
        self.limit = limit
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> np.ndarray | None:
        """A kept buffer of at least ``nbytes`` (the smallest that fits), or None."""
        with self._lock:
            fits = [b for b in self._free if b.nbytes >= nbytes]
            if not fits:
                return None
            best = min(fits, key=lambda b: b.nbytes)
            self._free = [b for b in self._free if b is not best]
            return best

    def give(self, buf: np.ndarray) -> None:
        with self._lock:
            self._free.insert(0, buf)
            while self._free and sum(b.nbytes for b in self._free) > self.limit:
                self._free.pop()

    def batch(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, np.ndarray, bool]:
        """A uint8 tensor of ``shape`` on pooled memory, its numpy view, and whether the memory
        is new (never faulted in); the memory returns to the pool when the tensor dies."""
        nbytes = int(np.prod(shape))
        buf = self.take(nbytes) if nbytes <= self.limit else None
        fresh = buf is None
        if buf is None:  # torch's allocator: 4 KiB pages (Note [fresh pages])
            buf = torch.empty(nbytes, dtype=torch.uint8).numpy()
        view = buf[:nbytes].reshape(shape)
        tensor = torch.from_numpy(view)  # holds ``view``: it dies with the last tensor
        if nbytes <= self.limit:
            weakref.finalize(view, self.give, buf).atexit = False
        return tensor, view, fresh

    def after_fork(self) -> None:
        """In a forked child: a lock another thread held at the fork would never be released,
        and the kept buffers are the parent's pages (copied on the first write)."""
        self._lock = threading.Lock()
        self._free = []


_POOL = BufferPool(int(float(os.environ.get("PYVIDFAST_BATCH_POOL_MB", "1024")) * (1 << 20)))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.after_fork)


def new_batch(shape: tuple[int, ...]) -> tuple[torch.Tensor, np.ndarray, Prefaulter | None]:
    """An uninitialised uint8 tensor of ``shape``, a numpy view of it, and the prefaulter for
    it when its memory is new and large enough for its first writes to cost (Note [fresh
    pages]); large batches reuse the memory of dead ones (Note [reused pages])."""
    if int(np.prod(shape)) < _POPULATE_FROM:  # small: reused heap memory already
        tensor = torch.empty(shape, dtype=torch.uint8)
        return tensor, tensor.numpy(), None
    tensor, view, fresh = _POOL.batch(shape)
    fresh = fresh and _madvise_fn is not None and len(view) > 1
    return tensor, view, Prefaulter(view) if fresh else None

"""The memory decoded frames are written into.

Note [fresh pages]
    A batch of 1080p frames is hundreds of MB of memory the process has never touched, and the
    first write to each page costs a page fault: on the 2-core VM of benchmarks/results about
    0.45 ms per MB, as much as converting the frame. numpy asks for transparent huge pages for
    large arrays, which is 4x cheaper while the kernel has free huge pages and 4x dearer (2 ms
    per MB, compaction stalls) once earlier batches hold them. So a batch is a torch tensor
    (4 KiB pages) whose pages are faulted in by ``madvise(MADV_POPULATE_WRITE)`` (0.28 ms per MB
    measured; Linux >= 5.14, skipped where refused), frame by frame: the decoding thread just
    before it writes a frame, and a helper thread from the last frame backwards, so that on a
    clip that decodes faster than it converts the two cores share the faults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

import numpy as np
import torch

__all__ = ["Prefaulter", "new_batch", "prefault"]

_MADV_POPULATE_WRITE = 23
_PAGE = 4096
_POPULATE_FROM = 8 << 20  # smaller buffers come from reused heap memory: nothing to gain


def _madvise():
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


def new_batch(shape: tuple[int, ...]) -> tuple[torch.Tensor, np.ndarray, Prefaulter | None]:
    """An uninitialised uint8 tensor of ``shape``, a numpy view of it, and the prefaulter for
    it when it is large enough for its first writes to cost (Note [fresh pages])."""
    tensor = torch.empty(shape, dtype=torch.uint8)
    view = tensor.numpy()
    fresh = _madvise_fn is not None and view.nbytes >= _POPULATE_FROM and len(view) > 1
    return tensor, view, Prefaulter(view) if fresh else None

"""A remote video as a seekable file: ``open_remote(url)`` gives a ``RangeReader``, which fetches
byte ranges; ``open_source(path)`` opens a local path or a URL.

A header read stays a header read: a read far from the last one fetches one small block
(``block``), so the MP4 moov reader costs the moov box plus that much. Reads that follow each
other double the next request (up to ``max_ahead``), so a decode or a tar stream goes at a few
large requests per file. Every request is retried with backoff on transient errors and checked
for a short body (``pyvidfast.io.storage.retrying``); a dropped connection costs a retry from the
offset reached, never a restart. ``failure`` keeps the error that ended a read: FFmpeg may take
a failed read for the end of the file, and the caller must not then judge the file broken.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyvidfast.io.errors import RemoteIOError, RemoteNotFoundError
from pyvidfast.io.storage import is_remote, remote_size, resolve, retrying

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "FetchStats",
    "RangeReader",
    "fetch_stats",
    "open_remote",
    "open_source",
    "record_fetch_stats",
]

# 16 KiB holds an MP4's ftyp and the next box header, or a small moov: a moov-last file of 1 MB
# costs two blocks and its moov. Chunks read are kept up to _CACHE bytes: FFmpeg's probing of a
# stream reads ahead and then seeks back to the start (MPEG-TS), which must not fetch it twice.
BLOCK = 16 << 10
MAX_AHEAD = 8 << 20
_CACHE = 24 << 20


@dataclass
class FetchStats:
    """What reading one URL cost in this process: requests (size requests included), bytes of
    bodies received, and retries."""

    requests: int = 0
    bytes: int = 0
    retries: int = 0


# Per-URL totals, kept only once record_fetch_stats() was called: a dataset of a million URLs
# must not grow a table for nobody.
_STATS: dict[str, FetchStats] | None = None


def record_fetch_stats() -> None:
    """Keep per-URL ``FetchStats`` in this process from now on (benchmarks, tests)."""
    global _STATS
    if _STATS is None:
        _STATS = {}


def fetch_stats(url: str) -> FetchStats:
    """What reading ``url`` cost this process so far (zeros unless ``record_fetch_stats()``)."""
    if _STATS is None:
        return FetchStats()
    return _STATS.setdefault(url, FetchStats())


class _ShortBody(OSError):
    """A body shorter than the range asked for: transient (a truncated transfer)."""


class RangeReader(io.RawIOBase):
    """Seekable, read-only file over ``url``; raises ``RemoteNotFoundError`` on open when the
    object is gone and ``RemoteIOError`` from a read that kept failing."""

    def __init__(self, url: str, block: int = BLOCK, max_ahead: int = MAX_AHEAD) -> None:
        super().__init__()
        self.name = url
        self._stats = fetch_stats(url)
        self._stats.requests += 1
        self.size = remote_size(url)
        self._block, self._max_ahead = block, max_ahead
        self._pos = 0
        self._ahead = block
        self._chunks: OrderedDict[int, bytes] = OrderedDict()  # start -> bytes, last used last
        self._cached_bytes = 0
        self._next: int | None = None  # where the last fetch ended: reads from there read ahead
        self.failure: RemoteIOError | RemoteNotFoundError | None = None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._chunks.clear()  # up to _CACHE bytes: freed now, not when the reader is collected
        self._cached_bytes = 0
        super().close()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self._pos
        n = max(0, min(n, self.size - self._pos))
        parts: list[bytes] = []
        while n > 0:
            piece = self._cached(self._pos, n) or self._fetch(self._pos, n)
            parts.append(piece)
            self._pos += len(piece)
            n -= len(piece)
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def _cached(self, pos: int, n: int) -> bytes:
        for start, data in self._chunks.items():
            if start <= pos < start + len(data):
                self._chunks.move_to_end(start)
                return data[pos - start : pos - start + n]
        return b""

    def _fetch(self, pos: int, n: int) -> bytes:
        # Forward from where the last fetch ended, within the next window: a stream or a walk
        # over the samples. Anywhere else: a header read, one block.
        forward = self._next is not None and self._next <= pos < self._next + 2 * self._ahead
        self._ahead = min(self._ahead * 2, self._max_ahead) if forward else self._block
        # ...up to the next chunk held: FFmpeg reads a stream's end (MPEG-TS duration, a moov
        # at the end) before its middle, and no byte is fetched twice while it is held.
        held = min((start for start in self._chunks if start > pos), default=self.size)
        length = min(max(n, self._ahead), held - pos)
        try:
            data = retrying(self.name, lambda: self._get(pos, length))
        except (RemoteIOError, RemoteNotFoundError) as exc:
            self.failure = exc
            raise
        self._next = pos + length
        self._chunks[pos] = data
        self._cached_bytes += len(data)
        while self._cached_bytes > _CACHE and len(self._chunks) > 1:
            self._cached_bytes -= len(self._chunks.popitem(last=False)[1])
        return data[:n]

    def _get(self, start: int, length: int) -> bytes:
        fs, path = resolve(self.name)
        self._stats.requests += 1
        try:
            data: bytes = fs.cat_file(path, start=start, end=start + length)
        except Exception:
            self._stats.retries += 1
            raise
        self._stats.bytes += len(data)
        if len(data) == self.size and length != self.size:
            data = data[start : start + length]  # a server that ignores Range sends it all
        if len(data) != length:
            self._stats.retries += 1
            raise _ShortBody(f"short body: {len(data)} of {length} bytes at {start}")
        return data


def open_remote(url: str, **options: int) -> RangeReader:
    """A seekable binary file over ``url`` (options: ``block``, ``max_ahead``)."""
    return RangeReader(url, **options)


def open_source(path: str) -> RangeReader | io.BufferedReader:
    """``open(path, "rb")`` for a local path, ``open_remote(path)`` for a URL."""
    return open_remote(path) if is_remote(path) else open(path, "rb")

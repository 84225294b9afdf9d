"""An append-only JSONL journal of finished files, so a killed job redoes nothing that finished.

One line per finished file: ``{"path", "size", "mtime_ns", "result"}``, flushed and fsync'ed as it
is written. An entry counts only while the file still has the recorded size and mtime, so a file
replaced since is checked again. A line cut short by a kill (the last one) is ignored on reading,
and later lines for the same path win.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyvidfast.io.errors import RemoteIOError, RemoteNotFoundError
from pyvidfast.io.storage import is_remote, remote_key


def file_key(path: str) -> tuple[int, int]:
    """``(size, mtime_ns)`` of ``path``; ``(-1, -1)`` when it cannot be stat'ed. For a URL,
    ``(size, a hash of its ETag or modification time)``."""
    if is_remote(path):
        try:
            return remote_key(path)
        except (RemoteIOError, RemoteNotFoundError):
            return -1, -1
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def file_keys(paths: list[str], threads: int = 16) -> dict[str, tuple[int, int]]:
    """``file_key`` of each path; URLs in threads (a round trip each)."""
    if not any(is_remote(p) for p in paths):
        return {p: file_key(p) for p in paths}
    with ThreadPoolExecutor(threads) as pool:
        return dict(zip(paths, pool.map(file_key, paths)))


class Journal:
    """Finished results keyed by path, backed by ``path`` (None: in memory only)."""

    def __init__(self, path: str | None, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self.entries: dict[str, dict[str, Any]] = {}
        self._file = None
        if path and os.path.exists(path):
            self._load(path)

    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                if isinstance(entry, dict) and "path" in entry and "result" in entry:
                    self.entries[entry["path"]] = entry

    def done(self, path: str) -> dict[str, Any] | None:
        """The journaled result for ``path`` if the file is unchanged since, else None."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        size, mtime_ns = file_key(path)
        if entry.get("size") != size or entry.get("mtime_ns") != mtime_ns:
            return None
        return entry["result"]

    def add(self, path: str, result: dict[str, Any], key: tuple[int, int] | None = None) -> None:
        """Record ``result`` for ``path`` (``key``: its (size, mtime_ns) when the work began)."""
        size, mtime_ns = key if key is not None else file_key(path)
        entry = {"path": path, "size": size, "mtime_ns": mtime_ns, "result": result}
        self.entries[path] = entry
        if not self.path:
            return
        if self._file is None:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            self._file = open(self.path, "a+", encoding="utf-8")
            if self._file.tell() > 0:
                # A line cut short by a kill must not swallow the next entry.
                self._file.seek(self._file.tell() - 1)
                if self._file.read(1) != "\n":
                    self._file.write("\n")
        self._file.write(json.dumps(entry, default=_jsonable) + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _jsonable(value: Any) -> Any:
    # numpy scalars and the like from video_info
    if hasattr(value, "item"):
        return value.item()
    return str(value)

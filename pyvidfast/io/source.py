"""Where a reader's bytes come from: a path, the file's bytes, or a binary file object."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, cast

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["FromHere", "Source", "as_seekable", "open_bytes", "source_name", "source_size"]

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


class FromHere(io.RawIOBase):
    """A binary file seen from its position at open: FFmpeg seeks in absolute offsets."""

    def __init__(self, f: BinaryIO) -> None:
        super().__init__()
        self._f, self._base = f, f.tell()
        self.name = getattr(f, "name", None)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        data = self._f.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            offset += self._base
        return self._f.seek(offset, whence) - self._base

    def tell(self) -> int:
        return self._f.tell() - self._base


def source_name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, bytes)) else f"<{type(source).__name__}>"


def as_seekable(source: Source) -> str | os.PathLike[str] | BinaryIO:
    """A path as it is, a URL opened by byte ranges (io/remote.py), bytes as a BytesIO, a file
    object seen from its current position.

    ``RangeReader`` and ``FromHere`` are ``io.RawIOBase`` files of bytes, returned as the
    ``BinaryIO`` they stand in for (typeshed's ``BinaryIO`` is a class, not a protocol)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, str):
        from pyvidfast.io.remote import open_remote
        from pyvidfast.io.storage import is_remote

        if is_remote(source):
            return cast(BinaryIO, open_remote(source))
    if not isinstance(source, (str, os.PathLike)) and source.tell() != 0:
        return cast(BinaryIO, FromHere(source))
    return source


@contextmanager
def open_bytes(source: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    """A path opened for reading (closed after), or an open binary file as it is."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield f
    else:
        yield source


def source_size(source: str | os.PathLike[str] | BinaryIO) -> int:
    """The size in bytes of a path or of an open seekable binary file (its position is kept)."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    size = getattr(source, "size", None)  # a RangeReader knows it without a seek
    if isinstance(size, int):
        return size
    pos = source.tell()
    try:
        return source.seek(0, io.SEEK_END)
    finally:
        source.seek(pos)

"""ISO-BMFF / QuickTime boxes: what a file starts with, the top-level ``moov``, and walking the
children of a box (the MP4 header readers ``io/mp4.py``, ``io/mp4_trust.py`` and the display
matrix in ``io/orientation.py`` all walk boxes through here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from pyvidfast.io.source import open_bytes, source_size

__all__ = ["MAX_MOOV", "Boxes", "Bytes", "children", "find_box", "is_iso_bmff", "read_moov", "u32"]

# Every reader here takes a path or an open binary file (a remote object: io/remote.py).
Bytes = str | BinaryIO
# box type -> (payload start, payload end) of the children of one box
Boxes = dict[bytes, tuple[int, int]]

_ISO_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
MAX_MOOV = 64 << 20  # bigger moov boxes are not read (FFmpeg reads them)


def is_iso_bmff(path: Bytes) -> bool:
    """True when the file starts with an ISO-BMFF / QuickTime box we know (ftyp, moov, ...)."""
    try:
        with open_bytes(path) as f:
            f.seek(0)
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] in _ISO_TOP


def children(
    buf: memoryview, start: int = 0, end: int | None = None, strict: bool = True
) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in buf[start:end]; a bad size raises
    ``ValueError`` (``strict``) or ends the walk."""
    end = len(buf) if end is None else end
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(buf[pos : pos + 4], "big")
        kind = bytes(buf[pos + 4 : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = int.from_bytes(buf[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            if not strict:
                return
            raise ValueError(f"bad box size {size} for {kind!r}")
        yield kind, pos + header, pos + size
        pos += size


def find_box(buf: memoryview, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, a, b in children(buf, start, end):
        if k == kind:
            return a, b
    return None


def read_moov(path: Bytes, cut_ok: bool = False) -> bytes | None:
    """The payload of the top-level moov box, or None (no moov, moof fragments, bad boxes);
    ``cut_ok``: a moov that runs past the end of the file gives the part that is there."""
    size_total = source_size(path)
    with open_bytes(path) as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            head = f.read(16)
            size = int.from_bytes(head[:4], "big")
            kind = head[4:8]
            header = 8
            if size == 1:
                size = int.from_bytes(head[8:16], "big")
                header = 16
            elif size == 0:
                size = size_total - pos
            if size < header or (pos + size > size_total and not (cut_ok and kind == b"moov")):
                return None  # FFmpeg gives up on such files too ("moov atom not found")
            if kind == b"moov":
                if size > MAX_MOOV:
                    return None
                f.seek(pos + header)
                return f.read(size - header)
            if kind == b"moof":
                return None
            pos += size
    return None


def u32(buf: memoryview | bytes, at: int) -> int:
    return int.from_bytes(buf[at : at + 4], "big")

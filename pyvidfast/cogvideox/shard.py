"""``pyvidfast shard SRC OUT_DIR``: WebDataset shards that ``VideoDataset`` reads.

SRC is an SFT-style folder (``*.mp4`` with captions found as ``SFTDataset`` finds them) or a CSV
with ``path`` and ``text`` columns (relative paths are taken from the CSV's folder). Each readable
video becomes ``<key>.mp4`` (the file's bytes, not re-encoded), ``<key>.caption`` (UTF-8),
``<key>.duration`` and ``<key>.fps`` (ASCII numbers) in ``<prefix>-NNNNNN.tar`` shards of at most
``--max-size`` bytes / ``--max-count`` samples. A video is readable when it opens and its first and
last frames decode (``VideoReader``); the others are listed in ``OUT_DIR/failed.csv`` with the
reason and not written. ``OUT_DIR/samples.csv`` maps each key to its source.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pyvidfast.cogvideox.sft import scan_sft_folder
from pyvidfast.io.errors import VideoReadError
from pyvidfast.io.reader import VideoReader

__all__ = ["ShardWriter", "iter_sources", "register", "video_metadata", "write_shards"]

_TAR_OVERHEAD = 512 * 2  # a member's header plus worst-case padding


def iter_sources(src: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """``(video_path, caption)`` pairs from an SFT folder or a ``path,text`` CSV."""
    src = os.fspath(src)
    if os.path.isdir(src):
        paths, captions = scan_sft_folder(src)
        yield from zip(paths, captions)
        return
    base = os.path.dirname(os.path.abspath(src))
    with open(src, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ValueError(f"{src}: a CSV source needs a 'path' column (and 'text')")
        for row in reader:
            path = row["path"]
            if not os.path.isabs(path):
                path = os.path.join(base, path)
            yield path, row.get("text") or ""


def video_metadata(path: str) -> tuple[float, float]:
    """``(duration_s, fps)`` to store with a video; raises ``VideoReadError`` (or OSError) when it
    is not readable: it must open, report a frame rate and decode its first and last frames."""
    with VideoReader(path) as reader:
        fps = reader.get_avg_fps()
        if not fps > 0:
            raise VideoReadError(path, "no frame rate")
        reader.get_batch([0, len(reader) - 1])  # shrinks len() if the tail does not decode
        n = len(reader)
        reader.get_batch([n - 1])
        start, end = reader.get_frame_timestamp([0, n - 1])
        duration = float(end[1] - start[0])
        if not duration > 0:
            duration = n / fps
    return duration, fps


@dataclass
class ShardWriter:
    """Writes samples to ``<out_dir>/<prefix>-NNNNNN.tar``, starting a new shard before one would
    pass ``max_size`` bytes or ``max_count`` samples."""

    out_dir: str
    prefix: str = "shard"
    max_size: int = 1 << 30
    max_count: int = 10000

    def __post_init__(self) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        self.shards: list[str] = []
        self._tar: tarfile.TarFile | None = None
        self._size = 0
        self._count = 0

    def _next_shard(self) -> None:
        self.close()
        path = os.path.join(self.out_dir, f"{self.prefix}-{len(self.shards):06d}.tar")
        self._tar = tarfile.open(path, "w", format=tarfile.USTAR_FORMAT)
        self.shards.append(path)
        self._size = self._count = 0

    def write(self, key: str, members: dict[str, bytes]) -> str:
        """Add one sample (``{suffix: bytes}``); returns the shard it went to."""
        if "." in key or "/" in key:
            raise ValueError(f"sample key {key!r} must not contain '.' or '/'")
        size = sum(len(v) + _TAR_OVERHEAD for v in members.values())
        full = self._size + size > self.max_size or self._count >= self.max_count
        if self._tar is None or (self._count and full):
            self._next_shard()
        for suffix, data in members.items():
            info = tarfile.TarInfo(f"{key}.{suffix}")
            info.size, info.mode, info.mtime = len(data), 0o444, 0
            self._tar.addfile(info, io.BytesIO(data))
        self._size += size
        self._count += 1
        return self.shards[-1]

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None


def write_shards(
    sources: Iterable[tuple[str, str]],
    out_dir: str,
    prefix: str = "shard",
    max_size: int = 1 << 30,
    max_count: int = 10000,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Write every readable video; returns ``(shard_paths, [(failed_path, reason), ...])``."""
    writer = ShardWriter(out_dir, prefix, max_size, max_count)
    failed: list[tuple[str, str]] = []
    rows = []
    try:
        for path, caption in sources:
            try:
                duration, fps = video_metadata(path)
                with open(path, "rb") as f:
                    data = f.read()
            except Exception as exc:  # any unreadable file is listed, never fatal
                reason = exc.reason if isinstance(exc, VideoReadError) else repr(exc)
                failed.append((path, reason))
                continue
            key = f"{len(rows):09d}"
            shard = writer.write(
                key,
                {
                    "mp4": data,
                    "caption": caption.encode("utf-8"),
                    "duration": repr(duration).encode("ascii"),
                    "fps": repr(fps).encode("ascii"),
                },
            )
            rows.append((key, os.path.basename(shard), path))
    finally:
        writer.close()
    with open(os.path.join(out_dir, "samples.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["key", "shard", "path"])
        w.writerows(rows)
    with open(os.path.join(out_dir, "failed.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "reason"])
        w.writerows(failed)
    return writer.shards, failed


def _size(text: str) -> int:
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().removesuffix("b")
    unit = text[-1:] if text[-1:] in units else ""
    return int(float(text[: len(text) - len(unit)]) * units[unit])


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shard",
        help="write WebDataset shards for VideoDataset",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("src", help="SFT-style folder (*.mp4 + captions) or CSV with path,text")
    parser.add_argument("out_dir", help="folder for the shards, samples.csv and failed.csv")
    parser.add_argument("--prefix", default="shard", help="shard file name prefix (default shard)")
    parser.add_argument(
        "--max-size", type=_size, default=1 << 30, help="bytes per shard, e.g. 500M (default 1G)"
    )
    parser.add_argument("--max-count", type=int, default=10000, help="samples per shard")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    shards, failed = write_shards(
        iter_sources(args.src), args.out_dir, args.prefix, args.max_size, args.max_count
    )
    for path, reason in failed:
        print(f"unreadable: {path}: {reason}")
    written = sum(1 for _ in open(os.path.join(args.out_dir, "samples.csv"))) - 1
    print(f"wrote {written} videos in {len(shards)} shards to {args.out_dir}; {len(failed)} failed")
    return 0

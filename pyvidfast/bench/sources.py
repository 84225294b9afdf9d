"""What `pyvidfast bench` measures on: a sample of the user's videos.

A source is a folder of videos (searched recursively; a CogVideoX SFT folder is one), a CSV or
Parquet table with a ``path`` column, or WebDataset shards (``.tar`` files, a folder of them or
a brace pattern). The sample is ``max_files`` of its files in a random order fixed by a seed, so
two runs measure the same files; shard members are copied into a temporary folder first.
"""

from __future__ import annotations

import glob
import os
import random
import tarfile
from dataclasses import dataclass, field

__all__ = ["VIDEO_EXTENSIONS", "Sample", "load_sample"]

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .mkv .webm .avi .flv .ts .m4v .3gp .mpg .mpeg .wmv .h264 .264 .hevc .ivf".split()
)


@dataclass
class Sample:
    """The files a bench run measures: ``paths`` drawn from ``total`` files of ``kind``."""

    source: str
    kind: str  # "folder", "sft", "table" or "webdataset"
    total: int
    paths: list[str] = field(default_factory=list)
    missing: int = 0  # sampled table rows whose file does not exist (not measured)

    @property
    def bytes(self) -> int:
        return sum(os.path.getsize(p) for p in self.paths)


def _is_video(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def _walk(folder: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, n) for n in sorted(files) if _is_video(n)]
    return found


def _draw(items: list, max_files: int | None, seed: int) -> list:
    """At most ``max_files`` items in a random order fixed by ``seed``: each tool measures a
    prefix of this order within its budget, so every prefix should be a fair sample."""
    order = list(items)
    random.Random(seed).shuffle(order)
    return order if max_files is None else order[:max_files]


def _shards(source: str) -> list[str]:
    if os.path.isdir(source):
        return sorted(glob.glob(os.path.join(source, "**", "*.tar"), recursive=True))
    from pyvidfast.cogvideox.webvideo import expand_shard_urls

    return [u for u in expand_shard_urls(source) if os.path.isfile(u)]


def _from_shards(shards: list[str], max_files: int | None, seed: int, workdir: str) -> Sample:
    """Copy the video members of the shards to ``workdir`` (at most ``max_files``)."""
    members = []
    for shard in shards:
        with tarfile.open(shard) as tar:
            members += [
                (shard, m.name) for m in tar.getmembers() if m.isreg() and _is_video(m.name)
            ]
    chosen = _draw(members, max_files, seed)
    paths = []
    for i, (shard, name) in enumerate(chosen):
        with tarfile.open(shard) as tar:
            data = tar.extractfile(name).read()
        path = os.path.join(workdir, f"{i:06d}_{os.path.basename(name)}")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    return Sample(", ".join(shards[:3]), "webdataset", len(members), paths)


def _from_table(source: str, max_files: int | None, seed: int) -> Sample:
    from pyvidfast.parallel.table import read_tables

    data, _ = read_tables([source])
    if "path" not in data.columns:
        raise KeyError(f"{source}: a table source needs a 'path' column (has {list(data.columns)})")
    rows = [str(p) for p in data["path"] if isinstance(p, str) and p]
    chosen = _draw(rows, max_files, seed)
    present = [p for p in chosen if os.path.isfile(p)]
    return Sample(source, "table", len(rows), present, missing=len(chosen) - len(present))


def load_sample(source: str, max_files: int | None, seed: int, workdir: str) -> Sample:
    """The sample of ``source``; ``workdir`` receives WebDataset members.

    Raises FileNotFoundError when the source does not exist and KeyError for a table without
    ``path``.
    """
    if os.path.isdir(source):
        videos = _walk(source)
        if not videos and _shards(source):
            return _from_shards(_shards(source), max_files, seed, workdir)
        sft = os.path.isdir(os.path.join(source, "videos")) and os.path.isdir(
            os.path.join(source, "labels")
        )
        return Sample(
            source, "sft" if sft else "folder", len(videos), _draw(videos, max_files, seed)
        )
    lower = source.lower()
    if lower.endswith((".csv", ".parquet", ".pq")):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"no such table {source!r}")
        return _from_table(source, max_files, seed)
    shards = _shards(source)
    if shards:
        return _from_shards(shards, max_files, seed, workdir)
    if os.path.isfile(source) and _is_video(source):
        return Sample(source, "folder", 1, [source])
    raise FileNotFoundError(f"{source!r} is not a folder, a table or WebDataset shards")

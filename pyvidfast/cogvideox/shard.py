"""``pyvidfast shard SRC OUT_DIR``: WebDataset shards that ``VideoDataset`` reads.

SRC is an SFT-style folder (``*.mp4`` with captions found as ``SFTDataset`` finds them) or a CSV
(or Parquet) table with ``path`` and ``text`` columns; relative paths are taken from the working
directory, as ``check`` and ``prepare`` take them. Each readable video becomes ``<key>.mp4`` (the
file's bytes, not re-encoded), ``<key>.caption`` (UTF-8), ``<key>.duration`` and ``<key>.fps``
(ASCII numbers) in ``<prefix>-NNNNNN.tar`` shards of at most ``--max-size`` bytes / ``--max-count``
samples. A video is readable when it opens and its first and last frames decode
(``VideoReader``); with ``--num-frames`` and ``--fps`` (and ``--skip-frms-num``) it must also be
long enough for ``VideoDataset`` with those settings, which would skip it. The others are listed
in ``OUT_DIR/failed.csv`` with the reason and not written. ``OUT_DIR/samples.csv`` maps each key
to its source. OUT_DIR belongs to the command: it must be empty, or hold only a previous run's
files and ``--overwrite`` be given (they are deleted first, so no old shard stays behind).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pyvidfast.cogvideox.sft import scan_sft_folder
from pyvidfast.io.errors import FrameIndexError, VideoReadError
from pyvidfast.io.reader import VideoReader
from pyvidfast.sampling import SamplingError, video_dataset_range

__all__ = [
    "ClipNumbers",
    "OutputFolderError",
    "SamplerRule",
    "ShardResult",
    "ShardWriter",
    "SourceError",
    "clip_numbers",
    "prepare_out_dir",
    "read_sources",
    "register",
    "video_metadata",
    "write_shards",
]

_TAR_OVERHEAD = 512 * 2  # a member's header plus worst-case padding
# What a run writes into OUT_DIR; --overwrite deletes only these (anything else is not ours).
_RUN_FILES = ("samples.csv", "failed.csv")


class SourceError(ValueError):
    """The source (folder or table) cannot be read or lists no video."""


class OutputFolderError(OSError):
    """OUT_DIR is not empty (without overwrite), holds files a run does not write, or is not
    writable."""


def _read_table(src: str) -> pd.DataFrame:
    try:
        if src.lower().endswith(".parquet"):
            return pd.read_parquet(src)
        return pd.read_csv(src, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{src}: not a readable CSV/Parquet table ({exc})") from None


def read_sources(src: str | os.PathLike) -> list[tuple[str, str]]:
    """``(video_path, caption)`` pairs from an SFT folder or a ``path,text`` table.

    Raises ``FileNotFoundError`` for a missing source and ``SourceError`` for a table without a
    ``path`` column, an empty path, or a source that lists no video.
    """
    src = os.fspath(src)
    if os.path.isdir(src):
        paths, captions = scan_sft_folder(src)
        pairs = list(zip(paths, captions))
        if not pairs:
            raise SourceError(f"{src}: no *.mp4 file in this folder")
        return pairs
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src}: no such file or folder")
    table = _read_table(src)
    if "path" not in table.columns:
        raise SourceError(
            f"{src}: a table source needs a 'path' column (and 'text'); has {list(table.columns)}"
        )
    if table.empty:
        raise SourceError(f"{src}: the table has no rows")
    paths = ["" if pd.isna(p) else str(p) for p in table["path"]]
    if "" in paths:
        raise SourceError(f"{src}: row {paths.index('') + 1} has an empty path")
    texts = table["text"] if "text" in table.columns else [""] * len(paths)
    return [(p, "" if pd.isna(t) else str(t)) for p, t in zip(paths, texts)]


@dataclass(frozen=True)
class ClipNumbers:
    """What a shard stores about a clip, plus the frames that decode."""

    duration: float
    fps: float
    frame_count: int


def clip_numbers(path: str) -> ClipNumbers:
    """Duration, frame rate and decodable frame count; raises ``VideoReadError`` (or OSError)
    when the clip is not readable: it must open, report a frame rate and decode its first and
    last frames."""
    with VideoReader(path) as reader:
        fps = reader.get_avg_fps()
        if not fps > 0:
            raise VideoReadError(path, "no frame rate")
        try:
            reader.get_batch([0, len(reader) - 1])
        except FrameIndexError:
            pass  # the tail does not decode: num_decodable is now the count that does
        n = reader.num_decodable
        reader.get_batch([n - 1])
        start, end = reader.get_frame_timestamp([0, n - 1])
        duration = float(end[1] - start[0])
        if not duration > 0:
            duration = n / fps
    return ClipNumbers(duration, fps, n)


def video_metadata(path: str) -> tuple[float, float]:
    """``(duration_s, fps)`` to store with a video (``clip_numbers`` without the count)."""
    numbers = clip_numbers(path)
    return numbers.duration, numbers.fps


@dataclass(frozen=True)
class SamplerRule:
    """The ``VideoDataset`` settings the shards are meant for: clips it would skip as too short
    (``pyvidfast.sampling.video_dataset_range``) are not written."""

    num_frames: int
    fps: float
    skip_frms_num: float = 0.0

    def check(self, clip: ClipNumbers) -> None:
        """Raise ``SamplingError`` when ``VideoDataset`` would skip this clip."""
        video_dataset_range(
            clip.duration, clip.fps, clip.frame_count, self.num_frames, self.fps, self.skip_frms_num
        )

    def __str__(self) -> str:
        return (
            f"VideoDataset(num_frames={self.num_frames}, fps={self.fps:g}, "
            f"skip_frms_num={self.skip_frms_num:g})"
        )


def _is_run_file(name: str) -> bool:
    return name.endswith(".tar") or name in _RUN_FILES


def prepare_out_dir(out_dir: str, overwrite: bool = False) -> None:
    """Make ``out_dir`` ready for a run: created if missing; if not empty, refused unless
    ``overwrite`` and it holds only a previous run's files, which are then deleted. Raises
    ``OutputFolderError`` (nothing is deleted or created then)."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise OutputFolderError(f"{out_dir} exists and is not a folder")
    entries = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    if entries and not overwrite:
        raise OutputFolderError(
            f"{out_dir} is not empty ({len(entries)} entries); pass --overwrite to replace a "
            "previous shard run there, or choose an empty folder"
        )
    foreign = [e for e in entries if not _is_run_file(e)]
    if foreign:
        raise OutputFolderError(
            f"{out_dir} holds files a shard run does not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); not deleting them: choose an empty folder"
        )
    try:
        for name in entries:
            os.remove(os.path.join(out_dir, name))
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, f".write-check-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise OutputFolderError(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc


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


@dataclass
class ShardResult:
    """What ``write_shards`` wrote: the shard files, ``(path, reason)`` of every video left out,
    how many were written and the shortest written duration (seconds; None when none)."""

    shards: list[str]
    failed: list[tuple[str, str]]
    written: int
    shortest: float | None


def _write_table(path: str, header: list[str], rows: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _load(path: str, rule: SamplerRule | None) -> tuple[ClipNumbers, bytes]:
    clip = clip_numbers(path)
    if rule is not None:
        try:
            rule.check(clip)
        except SamplingError as exc:
            raise VideoReadError(path, f"too short for {rule}: {exc}") from None
    with open(path, "rb") as f:
        return clip, f.read()


def write_shards(
    sources: Iterable[tuple[str, str]],
    out_dir: str,
    prefix: str = "shard",
    max_size: int = 1 << 30,
    max_count: int = 10000,
    *,
    rule: SamplerRule | None = None,
    overwrite: bool = False,
) -> ShardResult:
    """Write every readable video (long enough for ``rule`` when given) into ``out_dir``, which
    ``prepare_out_dir`` makes ready first (``OutputFolderError`` if it cannot)."""
    prepare_out_dir(out_dir, overwrite)
    writer = ShardWriter(out_dir, prefix, max_size, max_count)
    failed: list[tuple[str, str]] = []
    rows = []
    shortest = math.inf
    try:
        for path, caption in sources:
            try:
                clip, data = _load(path, rule)
            except Exception as exc:  # any unreadable file is listed, never fatal
                reason = exc.reason if isinstance(exc, VideoReadError) else repr(exc)
                failed.append((path, reason))
                continue
            key = f"{len(rows):09d}"
            members = {
                "mp4": data,
                "caption": caption.encode("utf-8"),
                "duration": repr(clip.duration).encode("ascii"),
                "fps": repr(clip.fps).encode("ascii"),
            }
            shard = writer.write(key, members)
            rows.append((key, os.path.basename(shard), path))
            shortest = min(shortest, clip.duration)
    finally:
        writer.close()
    _write_table(os.path.join(out_dir, "samples.csv"), ["key", "shard", "path"], rows)
    _write_table(os.path.join(out_dir, "failed.csv"), ["path", "reason"], failed)
    return ShardResult(writer.shards, failed, len(rows), None if not rows else shortest)


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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous run in OUT_DIR (its shards, samples.csv and failed.csv are "
        "deleted first)",
    )
    parser.add_argument(
        "--num-frames", type=int, default=None, help="VideoDataset num_frames the shards are for"
    )
    parser.add_argument("--fps", type=float, default=None, help="VideoDataset fps (with the above)")
    parser.add_argument(
        "--skip-frms-num", type=float, default=0.0, help="VideoDataset skip_frms_num (default 0)"
    )
    parser.set_defaults(func=run)


def _rule(args: argparse.Namespace) -> SamplerRule | None:
    if args.num_frames is None and args.fps is None:
        return None
    if args.num_frames is None or args.fps is None:
        raise ValueError("--num-frames and --fps go together")
    if args.num_frames < 1 or not args.fps > 0 or args.skip_frms_num < 0:
        raise ValueError("--num-frames and --fps must be positive, --skip-frms-num >= 0")
    return SamplerRule(args.num_frames, args.fps, args.skip_frms_num)


def run(args: argparse.Namespace) -> int:
    """``pyvidfast shard``: 0 when at least one video was written, 1 when none, 2 on bad input."""
    try:
        rule = _rule(args)
        sources = read_sources(args.src)
    except (OSError, ValueError) as exc:
        print(f"shard: {exc}", file=sys.stderr)
        return 2
    try:
        result = write_shards(
            sources,
            args.out_dir,
            args.prefix,
            args.max_size,
            args.max_count,
            rule=rule,
            overwrite=args.overwrite,
        )
    except OutputFolderError as exc:
        print(f"shard: {exc}", file=sys.stderr)
        return 2
    for path, reason in result.failed:
        print(f"left out: {path}: {reason}")
    print(
        f"wrote {result.written} videos in {len(result.shards)} shards to {args.out_dir}; "
        f"{len(result.failed)} left out (reasons in failed.csv)"
    )
    if result.written and rule is None:
        print(
            f"shortest clip: {result.shortest:.3f}s; VideoDataset skips clips shorter than "
            "num_frames / fps + 2 * skip_frms_num / clip fps (give --num-frames and --fps to "
            "leave them out here)"
        )
    if not result.written:
        print(f"shard: no video of {args.src} could be written", file=sys.stderr)
        return 1
    return 0

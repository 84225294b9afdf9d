"""``VideoDataset``: CogVideoX SAT's WebDataset video dataset (``data_video.VideoDataset`` with
``sgm/webds.py``'s ``MetaDistributedWebDataset``), faster and without its dependencies.

Pipeline, as the reference: shard URLs (brace syntax, or ``;dir1,dir2*N`` include-dirs) resampled
with replacement per worker, tar members grouped into samples by key, a shuffle buffer, then one
sample per item. A sample that cannot be used is skipped with a logged reason, as the reference
skips (it prints). Plain ``tarfile`` iteration; the ``webdataset`` package is not needed.

Differences, on purpose: the shard-resampling seed is ``rank*1000 + worker_id + seed*23`` mixed
with the epoch (the reference's positional call lands that function in a different argument of
current webdataset releases, which then seeds from the clock); the shuffle buffer is seeded from
the same number instead of the clock; a float ``skip_frms_num`` works on Python >= 3.12 (see
``pyvidfast.sampling.cogvideox``, Note [reference crashes]).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import sys
import tarfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from pyvidfast.cogvideox.clips import ClipRequest, ClipSpec, open_and_load
from pyvidfast.cogvideox.frames import check_options
from pyvidfast.cogvideox.skips import EmptyPassWatch, NoUsableSampleError, SkipLog
from pyvidfast.io.errors import VideoReadError
from pyvidfast.io.remote import open_source
from pyvidfast.io.storage import exists, find_files, is_remote, read_bytes
from pyvidfast.sampling import (
    SamplingError,
    check_video_dataset_duration,
    video_dataset_indices,
)

__all__ = ["NoUsableSampleError", "VideoDataset", "expand_shard_urls"]

log = logging.getLogger("pyvidfast.cogvideox")


def _braceexpand(pattern: str) -> list[str]:
    """``a{0..2}b`` -> a0b a1b a2b (zero padding kept), ``{x,y}`` -> x y, nested, left to right."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if m is None:
        return [pattern]
    head, body, tail = pattern[: m.start()], m.group(1), pattern[m.end() :]
    r = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", body)
    if r:
        lo, hi = r.group(1), r.group(2)
        width = len(lo) if lo.startswith("0") or hi.startswith("0") else 0
        a, b = int(lo), int(hi)
        step = 1 if b >= a else -1
        items = [str(v).zfill(width) for v in range(a, b + step, step)]
    else:
        items = body.split(",")
    return [x for item in items for x in _braceexpand(head + item + tail)]


def expand_shard_urls(path: str, include_dirs: str | None = None) -> list[str]:
    """The reference's shard list: ``path`` brace-expanded (``::`` separates patterns), plus every
    non-empty file ending in ``tar`` under each ``include_dirs`` entry (``dir*N`` repeats it)."""
    urls = [u for part in path.split("::") if part for u in _braceexpand(part)]
    if include_dirs:
        for entry in include_dirs.split(","):
            folder, _, times = entry.partition("*")
            n = int(times) if times else 1
            for full, size in _files_under(folder):
                if full.endswith("tar") and size > 0:
                    urls.extend([full] * n)
    return urls


def _files_under(folder: str) -> Iterator[tuple[str, int]]:
    """``(path, size)`` of every file under a folder, or under a URL prefix (one listing)."""
    if is_remote(folder):
        yield from find_files(folder)
        return
    for cur, _dirs, files in os.walk(folder):
        for name in files:
            full = os.path.join(cur, name)
            yield full, os.path.getsize(full)


def _make_seed(*args: int) -> int:
    seed = 0
    for arg in args:
        seed = (seed * 31 + hash(arg)) & 0x7FFFFFFF
    return seed


def _rank() -> int:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


def _read_meta(url: str, meta_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``<dir>/<shard name up to its first dot>.meta.jsonl``: key -> {meta_name: value}."""
    folder, name = os.path.split(url)
    meta_path = os.path.join(folder, name.split(".")[0] + ".meta.jsonl")
    meta: dict[str, dict[str, Any]] = {}
    if not meta_names or not exists(meta_path):
        return meta
    lines = read_bytes(meta_path).decode("utf-8").splitlines() if is_remote(url) else None
    with open(meta_path, encoding="utf-8") if lines is None else nullcontext(lines) as f:
        for lineno, line in enumerate(f):
            try:
                item = json.loads(line)
                key = item["key"]
            except (ValueError, KeyError, TypeError):
                log.debug("bad line %d in %s", lineno, meta_path)
                continue
            entry = meta.setdefault(str(key), {})
            entry.update({k: item[k] for k in meta_names if k in item})
    return meta


def _split_key(fname: str) -> tuple[str | None, str | None]:
    # webdataset's base_plus_ext: key = path up to the first dot of the basename.
    m = re.match(r"^((?:.*/|)[^.]+)[.]([^/]*)$", fname)
    return (m.group(1), m.group(2)) if m else (None, None)


def tar_samples(url: str, meta_names: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Samples of one shard: members grouped by key (suffixes lower-cased), with the meta file's
    values injected after each ``.id`` member, as ``sgm/webds.py`` does."""
    meta = _read_meta(url, meta_names)
    current: dict[str, Any] | None = None
    # A remote shard streams through RangeReader: a dropped connection is retried from the
    # offset reached (io/remote.py), so the tar stream goes on where it was.
    with open_source(url) as fileobj, tarfile.open(fileobj=fileobj, mode="r|*") as stream:
        for info in stream:
            fname = info.name
            if not info.isreg() or re.match(r"__[^/]*__($|/)", fname):
                continue
            members = [(fname, stream.extractfile(info).read())]
            if fname.endswith(".id"):
                fid = fname.split(".")[0]
                entry = meta.get(fid.split("-$#%@&")[0], {})
                members += [(f"{fid}.{name}", entry.get(name)) for name in meta_names]
            for name, data in members:
                key, suffix = _split_key(name)
                if key is None:
                    continue
                if current is None or key != current["__key__"]:
                    if current is not None:
                        yield current
                    current = {"__key__": key, "__url__": url}
                current[suffix.lower()] = data
    if current is not None:
        yield current


def _shuffle(samples: Iterator[dict], bufsize: int, rng: random.Random, initial: int = 100):
    """webdataset's shuffle: fill to ``initial``, then emit a random element per input."""
    initial = min(initial, bufsize)
    buf: list[dict] = []

    def pick() -> dict:
        k = rng.randint(0, len(buf) - 1)
        item, buf[k] = buf[k], buf[-1]
        buf.pop()
        return item

    for sample in samples:
        buf.append(sample)
        if len(buf) < bufsize:
            nxt = next(samples, None)
            if nxt is not None:
                buf.append(nxt)
        if len(buf) >= initial:
            yield pick()
    while buf:
        yield pick()


class _Skip(Exception):
    """A sample the reference would skip; ``kind`` groups the reasons in summaries."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind


def _number(value: Any, what: str) -> float:
    if value is None:
        raise _Skip(f"no {what}", f"no {what}")
    try:
        return float(value.decode() if isinstance(value, bytes) else value)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise _Skip(f"bad {what}", f"{what} {value!r} is not a number") from None


class VideoDataset(IterableDataset):
    """Drop-in for CogVideoX SAT ``data_video.VideoDataset`` (same arguments, same items).

    ``path``: shard pattern (``/data/shard-{000..099}.tar``), ``";dir1,dir2*2"`` include-dirs, or
    both. Each worker of a DataLoader resamples shards with its own seed, endlessly (``nshards``
    per pass). Extra keyword options: ``out_dtype``, ``layout`` (as ``SFTDataset``),
    ``decode_timeout`` (seconds, 20 as the reference), ``num_threads`` (decoder threads),
    ``device`` ("cpu", or "cuda" for NVDEC with a CPU fallback per file; use ``num_workers=0``
    then) and ``decoder_pool`` (the NVDEC decoders; ``standin_pool()`` on the CPU).
    Unknown keyword arguments raise ``TypeError`` (the reference swallows them).

    Skipped samples are logged (the first 20, then a summary every 1000); when every shard has
    been read through and every sample skipped since the last item, iteration raises
    ``NoUsableSampleError`` with the reasons instead of resampling forever.
    """

    def __init__(
        self,
        path: str,
        image_size: Sequence[int],
        num_frames: int,
        fps: float,
        skip_frms_num: float = 0.0,
        nshards: int = sys.maxsize,
        seed: int = 1,
        meta_names: Sequence[str] | None = None,
        shuffle_buffer: int = 1000,
        include_dirs: str | None = None,
        txt_key: str = "caption",
        *,
        out_dtype: torch.dtype | str = torch.float32,
        layout: str = "TCHW",
        decode_timeout: float = 20.0,
        num_threads: int = 0,
        device: str | torch.device = "cpu",
        decoder_pool: Any = None,
    ):
        super().__init__()
        if seed == -1:
            seed = random.randint(0, 1000000)
        if path.startswith(";"):
            path, include_dirs = path.split(";", 1)
        self.urls = expand_shard_urls(path, include_dirs)
        if not self.urls:
            raise FileNotFoundError(f"VideoDataset: no shards in path={path!r}, {include_dirs=}")
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.num_frames = int(num_frames)
        if not (fps > 0 and self.num_frames >= 1):
            raise ValueError(f"fps and num_frames must be positive, got {fps=}, {num_frames=}")
        self.fps = fps
        self.skip_frms_num = skip_frms_num
        self.nshards = nshards
        self.seed = seed
        self.meta_names = list(meta_names or [])
        self.shuffle_buffer = max(int(shuffle_buffer), 1)
        self.txt_key = (
            txt_key  # accepted and ignored, as the reference: captions come from "caption"
        )
        self.out_dtype = check_options(out_dtype, layout)
        self.layout = layout
        self.decode_timeout = decode_timeout
        self.device = torch.device(device)  # NVDEC for "cuda" (pyvidfast.io.open_video)
        self.decoder_pool = decoder_pool
        self.num_threads = num_threads
        self._epoch = 0

    @classmethod
    def create_dataset_function(cls, path: str, args: Any, **kwargs: Any) -> VideoDataset:
        """How SAT builds datasets from YAML ``data.params``."""
        return cls(path, **kwargs)

    def _worker_seed(self) -> int:
        info = get_worker_info()
        return _rank() * 1000 + (info.id if info is not None else 0) + self.seed * 23

    def shards(self) -> Iterator[str]:
        """This worker's resampled shard sequence for the next pass."""
        self._epoch += 1
        rng = random.Random(_make_seed(self._worker_seed(), self._epoch))
        for _ in range(self.nshards):
            yield self.urls[rng.randint(0, len(self.urls) - 1)]

    def _raw_samples(self, watch: EmptyPassWatch, skips: SkipLog) -> Iterator[dict[str, Any]]:
        for url in self.shards():
            generation = watch.generation
            try:
                for sample in tar_samples(url, self.meta_names):
                    watch.read(url, sample["__key__"])
                    yield sample
            except (OSError, tarfile.TarError, EOFError, VideoReadError) as exc:
                # VideoReadError: a remote shard gone or unreachable after its retries
                skips.skipped(f"the rest of shard {url}", "unreadable shard", str(exc))
            watch.shard_done(url, generation)
            if watch.empty_pass():
                raise self._empty_pass_error(skips)

    def _empty_pass_error(self, skips: SkipLog) -> NoUsableSampleError:
        message = (
            f"VideoDataset: a full pass over {len(set(self.urls))} shard(s) gave no sample "
            f"({skips.summary() or 'the shards hold no samples'})"
        )
        if skips.counts["too short"]:
            message += (
                f"; num_frames={self.num_frames} at fps={self.fps} needs clips of at least "
                f"{self.num_frames / self.fps:g}s plus skip_frms_num={self.skip_frms_num} frames "
                "at each end"
            )
        return NoUsableSampleError(message)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(_make_seed(self._worker_seed(), self._epoch, 7))
        watch, skips = EmptyPassWatch(self.urls), SkipLog(log)
        for sample in _shuffle(self._raw_samples(watch, skips), self.shuffle_buffer, rng):
            url, key = sample["__url__"], sample["__key__"]
            try:
                item = self.process(sample)
            except _Skip as exc:
                skips.skipped(f"{key} in {url}", exc.kind, str(exc))
                if watch.skipped(url, key):
                    raise self._empty_pass_error(skips) from None
                continue
            watch.produced()
            yield item

    def process(self, sample: dict[str, Any]) -> dict[str, Any]:
        """One grouped tar sample -> item; raises ``_Skip`` (logged) where the reference skips."""
        video = sample.get("mp4", sample.get("avi"))
        if video is None:
            raise _Skip("no video", "no video data (.mp4 or .avi)")
        txt = sample.get("caption", "")
        txt = txt.decode("utf-8", errors="replace") if isinstance(txt, bytes) else str(txt)
        duration = _number(sample.get("duration"), "duration")
        actual_fps = _number(sample.get("fps"), "fps")
        if not (actual_fps > 0 and math.isfinite(actual_fps)):
            raise _Skip("bad fps", f"fps {actual_fps} is not a positive number")
        try:
            check_video_dataset_duration(
                duration, actual_fps, self.num_frames, self.fps, self.skip_frms_num
            )
        except SamplingError as exc:
            raise _Skip("too short", f"too short: {exc}") from None
        name = f"{sample['__url__']}:{sample['__key__']}"
        frames = self._load_with_timeout(video, duration, actual_fps, name)
        return {"mp4": frames, "txt": txt, "num_frames": self.num_frames, "fps": self.fps}

    def _load(self, video: bytes, duration: float, actual_fps: float, name: str) -> torch.Tensor:
        def rule(frame_count: int, avg_fps: float) -> tuple[list[int], int]:
            indices = video_dataset_indices(
                duration, actual_fps, frame_count, self.num_frames, self.fps, self.skip_frms_num
            )
            return indices, self.num_frames

        spec = ClipSpec(self.image_size, self.out_dtype, self.layout)
        request = ClipRequest(video, "", rule, name=name)
        frames, _ = open_and_load(
            request, spec, self.device, pool=self.decoder_pool, num_threads=self.num_threads
        )
        return frames

    def _load_with_timeout(self, *args: Any) -> torch.Tensor:
        # The reference decodes in a thread and gives up after 20 s; so do we (the thread is left
        # to finish on its own: FFmpeg cannot be interrupted mid-packet).
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                result["frames"] = self._load(*args)
            except Exception as exc:  # reported by the caller as a skip, with the reason
                result["error"] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(self.decode_timeout)
        if thread.is_alive():
            raise _Skip("decode timeout", f"decoding took more than {self.decode_timeout}s")
        if "error" in result:
            error = result["error"]
            raise _Skip(type(error).__name__, f"{type(error).__name__}: {error}")
        return result["frames"]

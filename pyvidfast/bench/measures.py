"""The per-file measurements of `pyvidfast bench`: metadata, integrity check, decoding.

Each function takes the sample's paths in order and a ``Budget``; it stops starting new work once
the budget is spent (so every tool sees a prefix of the same shuffled sample) and returns a
``Measurement``. They run in a forked child (``isolate``), so a crash costs one measurement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from pyvidfast.bench.machine import cpu_seconds
from pyvidfast.bench.results import Budget, Measurement, checkpoint, finish

__all__ = [
    "CHUNK_FRAMES",
    "DECODERS",
    "check_ffmpeg",
    "check_pyvidfast",
    "decode",
    "decoder_missing",
    "ffmpeg_check",
    "info",
    "stream_mix",
]

CHUNK_FRAMES = 16  # frames per get_batch call: bounded memory on long 4K files


def _chunks(paths: Sequence[str], size: int, budget: Budget) -> Iterator[list[str]]:
    for start in range(0, len(paths), size):
        if start and budget.over():
            return
        yield list(paths[start : start + size])


def info(paths: Sequence[str], budget: Budget, exact: bool) -> Measurement:
    """``pyvidfast info`` on one core: header frame counts or ``--exact-frames`` (decoded)."""
    from pyvidfast.opensora.info import video_info

    tool = "pyvidfast info --exact-frames" if exact else "pyvidfast info (header)"
    m = Measurement("info", tool, "files/s")
    t0, c0 = time.perf_counter(), cpu_seconds()
    for chunk in _chunks(paths, 1, budget):
        row = video_info(chunk[0], exact_frames=exact)
        m.files += 1
        m.items += 1
        m.bytes += os.path.getsize(chunk[0])
        m.failures += row["info_error"] is not None
        checkpoint(m, t0, c0)
    return finish(m, t0, c0)


def _mix(counts: dict[str, Counter]) -> dict:
    out: dict = {k: dict(v.most_common()) for k, v in counts.items()}
    out["files"] = sum(counts["codec"].values())
    return out


def stream_mix(paths: Sequence[str], budget: Budget) -> dict:
    """Codec, resolution and container counts of the files probed within ``budget``."""
    from pyvidfast.bench.isolate import report_progress
    from pyvidfast.io.probe import probe_video

    mix: dict[str, Counter] = {"codec": Counter(), "resolution": Counter(), "container": Counter()}
    for chunk in _chunks(paths, 1, budget):
        probe = probe_video(chunk[0])
        mix["codec"][probe.codec or "unknown"] += 1
        size = f"{probe.width}x{probe.height}" if probe.width > 0 else "unknown"
        mix["resolution"][size] += 1
        mix["container"][probe.container or "unknown"] += 1
        report_progress(_mix(mix))
    return _mix(mix)


def check_pyvidfast(paths: Sequence[str], budget: Budget, workers: int) -> Measurement:
    """``pyvidfast check`` with ``workers`` processes, in chunks of ``workers`` files (each
    chunk starts its pool, as a small job would)."""
    from pyvidfast.curation import check_files

    m = Measurement("check", "pyvidfast check", "files/s", workers=workers)
    t0, c0 = time.perf_counter(), cpu_seconds()
    for chunk in _chunks(paths, workers, budget):
        table = check_files(chunk, workers=workers)
        m.files += len(chunk)
        m.items += len(chunk)
        m.bytes += sum(os.path.getsize(p) for p in chunk)
        m.failures += int((~table["ok"].astype(bool)).sum())
        m.note = f"{m.failures} file(s) with errors"
        checkpoint(m, t0, c0)
    return finish(m, t0, c0)


def ffmpeg_check(
    paths: Sequence[str], jobs: int, err_dir: str, ffmpeg: str = "ffmpeg"
) -> dict[str, bool]:
    """The Open-Sora guide's check: ``ffmpeg -v error -i P -f null - 2> P.err`` per file, ``jobs``
    at a time (GNU parallel's default is one per core); a file is ok when its .err is empty."""

    def one(item: tuple[int, str]) -> bool:
        i, path = item
        err = os.path.join(err_dir, f"{i}.err")
        with open(err, "w") as f:
            cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]
            subprocess.run(cmd, stderr=f, stdout=subprocess.DEVNULL)
        return os.path.getsize(err) == 0

    with ThreadPoolExecutor(jobs) as pool:
        return dict(zip(paths, pool.map(one, enumerate(paths))))


def check_ffmpeg(paths: Sequence[str], budget: Budget, jobs: int) -> Measurement:
    """``ffmpeg -f null`` one job per core over the same files (the baseline of `check`)."""
    import tempfile

    m = Measurement("check", "ffmpeg -f null", "files/s", workers=jobs)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        m.skipped = "ffmpeg is not installed"
        return m
    t0, c0 = time.perf_counter(), cpu_seconds()
    with tempfile.TemporaryDirectory() as err_dir:
        for chunk in _chunks(paths, jobs, budget):
            verdicts = ffmpeg_check(chunk, jobs, err_dir, ffmpeg)
            m.files += len(chunk)
            m.items += len(chunk)
            m.bytes += sum(os.path.getsize(p) for p in chunk)
            m.failures += sum(not ok for ok in verdicts.values())
            m.note = f"{m.failures} file(s) with errors"
            checkpoint(m, t0, c0)
    return finish(m, t0, c0)


# ---- decoding: every frame of each file, CHUNK_FRAMES at a time, as RGB tensors ---------------


def _pyvidfast_frames(path: str, device: str) -> Iterator[int]:
    from pyvidfast.io.reader import VideoReader

    with VideoReader(path, device=device) as reader:
        for start in range(0, len(reader), CHUNK_FRAMES):
            stop = min(start + CHUNK_FRAMES, len(reader))
            yield reader.get_batch(list(range(start, stop))).shape[0]


def _decord_frames(path: str, device: str) -> Iterator[int]:
    import decord

    reader = decord.VideoReader(path)
    for start in range(0, len(reader), CHUNK_FRAMES):
        stop = min(start + CHUNK_FRAMES, len(reader))
        yield reader.get_batch(list(range(start, stop))).shape[0]


def _torchcodec_frames(path: str, device: str) -> Iterator[int]:
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(path)
    total = len(decoder)
    for start in range(0, total, CHUNK_FRAMES):
        yield decoder.get_frames_in_range(start, min(start + CHUNK_FRAMES, total)).data.shape[0]


# tool -> (frame iterator, device, importable module it needs)
DECODERS: dict[str, tuple[Callable[[str, str], Iterator[int]], str, str]] = {
    "pyvidfast VideoReader (CPU)": (_pyvidfast_frames, "cpu", "av"),
    "pyvidfast NVDEC": (_pyvidfast_frames, "cuda", "PyNvVideoCodec"),
    "decord": (_decord_frames, "cpu", "decord"),
    "torchcodec": (_torchcodec_frames, "cpu", "torchcodec"),
}


def decoder_missing(tool: str) -> str | None:
    """Why ``tool`` cannot run here (None when it can)."""
    import importlib.util

    _, device, module = DECODERS[tool]
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    if device == "cuda":
        from pyvidfast.io.nvdec import nvdec_available

        if not nvdec_available():
            return "no CUDA GPU with NVDEC here"
    return None


def decode(paths: Sequence[str], budget: Budget, tool: str) -> Measurement:
    """Frames/s of ``tool`` decoding every frame of each file to RGB; a file that fails to open
    or decode counts as a failure (its frames up to the error count)."""
    frames_of, device, _ = DECODERS[tool]
    m = Measurement("decode", tool, "frames/s")
    t0, c0 = time.perf_counter(), cpu_seconds()
    for chunk in _chunks(paths, 1, budget):
        m.files += 1
        m.bytes += os.path.getsize(chunk[0])
        try:
            for n in frames_of(chunk[0], device):
                m.items += n
                checkpoint(m, t0, c0, file_done=False)
                if budget.over():
                    break
        except Exception:  # any decoder's error on a broken file: a failure, not a stop
            m.failures += 1
        m.note = f"{m.failures} file(s) failed"
        checkpoint(m, t0, c0)
    return finish(m, t0, c0)

"""One checker process: files one at a time, so every NVDEC message belongs to the file at hand.

``check_task`` is what the process pool runs. Per file: open it once with PyAV; a file NVDEC
cannot take (``route``: the pool's caps) is checked by ``integrity.check_file`` right here, so
it lands in the same run and output; otherwise the one demux (demux.py) runs on a thread and
feeds this process's long-lived decoders (session.py), and the decode-status errors NVDEC prints
while this file is decoded (errwatch.py) are this file's. The verdict is built by ``verdict``.

Nothing here touches CUDA before the first file: the pool forks its workers from a parent that
never initialised CUDA, and each worker makes its own context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyvidfast.curation.ffmpeg_log import capture_errors
from pyvidfast.curation.gpu.demux import VideoDemux, open_video, read_ahead
from pyvidfast.curation.gpu.errwatch import DecodeErrorWatch, start_watch
from pyvidfast.curation.gpu.session import Decoded, decode_file
from pyvidfast.curation.integrity import CheckResult, ErrorLog, check_file, stat_failure
from pyvidfast.curation.tasks import Task
from pyvidfast.io.nvdec import Decision, DecoderPool, StreamFormat, gpu_decision

__all__ = ["WorkerConfig", "check_task", "configure", "route", "verdict"]

# Decoders kept per process: one file is decoded at a time, a second format stays warm.
POOL_SIZE = 2


@dataclass
class WorkerConfig:
    """What every checker process of a run uses: the GPU, how to make its decoder pool
    (default ``io.nvdec.decoder_pool``; the stand-in's in CPU tests), whether to watch the
    printed decode-status errors."""

    gpu_id: int = 0
    pool_factory: Callable[[], DecoderPool] | None = None
    watch_errors: bool = True


@dataclass
class _State:
    pool: DecoderPool
    watch: DecodeErrorWatch | None

    def decide(self, fmt: StreamFormat) -> Decision:
        return route(self.pool, fmt)


def route(pool: DecoderPool, fmt: StreamFormat) -> Decision:
    """NVDEC (``ok``) or the CPU checker: the pool's GPU caps decide (codec, bit depth, chroma,
    minimum/maximum size; Note [measured caps] in io/nvdec/caps.py)."""
    return gpu_decision(fmt, pool.capability, pool.caps(fmt), for_pixels=False)


_config = WorkerConfig()
_state: _State | None = None


def configure(config: WorkerConfig) -> None:
    """Set the config the next workers start with (called in the parent before the pool forks;
    a process that already has decoders keeps them)."""
    global _config
    _config = config


def _get_state() -> _State:
    global _state
    if _state is None:
        import torch

        # A forked child must not enter an OpenMP region: libgomp's thread team does not
        # survive fork() and the first parallel op would wait for it forever (seen when the
        # parent had run torch ops). One file per process needs no intra-op threads anyway.
        torch.set_num_threads(1)
        if _config.pool_factory is not None:
            pool = _config.pool_factory()
        else:
            from pyvidfast.io.nvdec import decoder_pool

            pool = decoder_pool(_config.gpu_id, POOL_SIZE)
        _state = _State(pool, start_watch() if _config.watch_errors else None)
    return _state


def verdict(path: str, demux: VideoDemux, decoded: Decoded, status_errors: int) -> CheckResult:
    """The file's verdict from its one demux and its NVDEC decode."""
    lines = list(demux.log.lines) + decoded.lines
    if status_errors:
        lines.append(
            (
                "decode",
                f"{path}: NVDEC reported {status_errors} picture(s) with decode errors "
                "(cuvidGetDecodeStatus)",
            )
        )
    shown = demux.counter.shown
    explained = any(k in ("demux", "decode") for k, _ in lines)  # a short decode's own lines
    if decoded.frames == 0 and not explained:
        lines.append(("no_frames", f"{path}: NVDEC decoded no frame"))
    elif decoded.frames < shown and not explained:
        lines.append(
            (
                "decode",
                f"{path}: NVDEC decoded {decoded.frames} frames, the packets show {shown}",
            )
        )
    return CheckResult.from_lines(lines, decoded.frames, demux.header_frames, device="cuda")


def _decode_once(path: str, state: _State) -> tuple[CheckResult | None, Decoded]:
    """One pass over ``path``: None (with an empty Decoded) when it goes to the CPU checker."""
    with capture_errors() as captured:
        log = ErrorLog(captured)
        demux, _reason = open_video(path, log, state.decide)
        if demux is None:
            return None, Decoded(0, [], False)
        try:
            before = state.watch.sync() if state.watch is not None else 0
            packets = read_ahead(demux.packets())
            try:
                decoded = decode_file(state.pool, demux.fmt, packets)
            finally:
                packets.close()
            errors = state.watch.sync() - before if state.watch is not None else 0
        finally:
            demux.close()
    return verdict(path, demux, decoded, errors), decoded


def check_task(task: Task) -> dict:
    """The result row for one integrity-only task, on NVDEC when it can take the file."""
    if stat_failure(task.path) is not None:
        return check_file(task.path, task.threads)
    state = _get_state()
    result, decoded = _decode_once(task.path, state)
    if result is not None and not result.ok and decoded.reused and decoded.lines:
        # A reused decoder can fail where a fresh one does not (state left by the last file):
        # blame the file only after a fresh decoder failed (the pool dropped the one that
        # raised, so the retry gets a new one).
        result, _ = _decode_once(task.path, state)
    if result is None:
        return check_file(task.path, task.threads)
    return result.as_dict()

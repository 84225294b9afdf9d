"""``pyvidfast check --device cuda``: the integrity check with every video frame decoded on NVDEC.

Unverified on a GPU: written and CPU-tested without NVDEC hardware (see benchmarks/gpu_nvdec_steps.sh).

Per file, two passes:

1. **CPU pass** (``cpu_pass``, PyAV): open the container and pick the streams exactly as the CPU
   checker does (``integrity._pick_streams``), demux every packet of the picked streams, decode the
   audio stream (cheap), count the video packets, and capture every FFmpeg error line (container,
   parser and audio decoder errors). The capture is process-global, so CPU passes hold a lock.
2. **NVDEC pass** (``NvdecChecker``): PyNvVideoCodec demuxes the file again (its bundled
   libavformat; demuxing is a few per cent of decoding) and feeds every packet to a decoder taken
   from this thread's cache: one per (codec, chroma, bit depth), reconfigured to the next file's
   size with ``setReconfigParams`` when it fits, so decoders are created once and reused across
   files. Nothing is done with the frames but counting them.

The file fails (``ok=False``) on any captured line, a demux error, a decoder error, a picture
whose NVDEC decode status is an error (printed by PyNvVideoCodec, counted by
``DecodeErrorWatch``), fewer frames than the demuxed packets promise (``decode``), or no frame
at all (``no_frames``). Files the GPU
path cannot judge go to the CPU checker whole: no video stream, a video codec or format NVDEC
cannot decode here (``gpu_decision(..., for_pixels=False)``), or a container PyAV cannot open.
They run first on the CPU engine (a process pool forks before any CUDA or decode thread exists),
then the GPU files run on ``workers`` threads of this process (default: two per NVDEC engine).

Known gap: the null muxer's non-monotonic dts check (``error_kind="timestamps"``) needs the
decoder's best-effort timestamps and is not reproduced for NVDEC-decoded video streams; it is for
audio (CPU pass). ``benchmarks/bench_gpu_check.py`` measures verdict agreement with ffmpeg.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import av

from pyvidfast.curation import integrity
from pyvidfast.curation.engines import OnResult, Task, failure
from pyvidfast.curation.ffmpeg_log import capture_errors
from pyvidfast.io.nvdec import gpu_decision, nvdec_module, stream_format_of

__all__ = ["CpuPass", "NvdecChecker", "check_paths_cuda", "cpu_pass", "run_cuda", "verdict"]

_LOG_LOCK = threading.Lock()


@dataclass
class CpuPass:
    """What the CPU pass found; ``route`` is "gpu" (decode the video on NVDEC) or "cpu"."""

    route: str
    reason: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)  # (kind, line), in order
    video_packets: int = 0
    header_frames: int = 0
    width: int = 0
    height: int = 0


def _route_cpu(reason: str, header: int = 0) -> CpuPass:
    return CpuPass("cpu", reason, header_frames=header)


def cpu_pass(path: str, capability: tuple[int, int] | None = None) -> CpuPass:
    """Demux ``path`` on the CPU, decode its audio, count its video packets, capture errors."""
    if integrity._stat_failure(path) is not None:
        return _route_cpu("stat")
    with _LOG_LOCK, capture_errors() as captured:
        log = integrity._Log(captured)
        try:
            container = av.open(path)
        except Exception:
            return _route_cpu("open")
        try:
            return _demux(container, path, capability, log)
        finally:
            container.close()


def _demux(container, path: str, capability, log) -> CpuPass:
    video, audio = integrity._pick_streams(container)
    header = int(video.frames or 0) if video is not None else 0
    if video is None or video.codec_context is None:
        return _route_cpu("no video stream", header)
    fmt = stream_format_of(video)
    ok, reason = gpu_decision(fmt, capability, for_pixels=False)
    if not ok:
        return _route_cpu(reason, header)
    log.drain("demux")
    picked = [s for s in (video, audio) if s is not None]
    for st in container.streams:
        if all(st is not p for p in picked):
            st.discard = av.stream.Discard.all
    if audio is not None:
        if audio.codec_context is None:
            return _route_cpu("audio decoder missing", header)
        try:
            audio.codec_context.open(strict=False)
        except Exception:
            return _route_cpu("audio decoder does not open", header)
    log.drain("demux")
    packets = container.demux(picked)
    n_video = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except Exception as exc:
            log.drain("demux")
            log.add("demux", f"{path}: {integrity._strerror(exc)}")
            if audio is not None:
                _decode_audio(audio, None, log)
            break
        if log.captured:
            log.drain("demux")
        if packet.stream is video:
            if packet.size > 0:
                n_video += 1
            continue
        if packet.size == 0:
            if packet.dts is not None:
                continue
            packet = None
        _decode_audio(audio, packet, log)
    log.drain("decode")
    cc = video.codec_context
    return CpuPass(
        "gpu",
        lines=list(log.lines),
        video_packets=n_video,
        header_frames=header,
        width=int(cc.width or 0),
        height=int(cc.height or 0),
    )


def _decode_audio(st, packet, log) -> None:
    try:
        st.codec_context.decode(packet)
    except Exception as exc:
        log.drain("decode")
        if packet is not None:
            log.add(
                "decode", f"Error while decoding stream #0:{st.index}: {integrity._strerror(exc)}"
            )
        return
    if log.captured:
        log.drain("decode")


def verdict(path: str, cpu: CpuPass, decoded: int, gpu_lines: Sequence[tuple[str, str]]) -> dict:
    """The result row (``integrity.check_file``'s keys) from both passes."""
    lines = list(cpu.lines) + list(gpu_lines)
    if decoded == 0 and not any(k in ("demux", "decode") for k, _ in gpu_lines):
        lines.append(("no_frames", f"{path}: NVDEC decoded no frame"))
    elif decoded < cpu.video_packets:
        lines.append(
            (
                "decode",
                f"{path}: NVDEC decoded {decoded} frames, the demuxer gave "
                f"{cpu.video_packets} packets",
            )
        )
    kinds = [k for k, _ in lines]
    if not kinds:
        kind = ""
    elif all(k == "timestamps" for k in kinds):
        kind = "timestamps"
    else:
        kind = next(k for k in kinds if k != "timestamps")
    return {
        "ok": not lines,
        "error_kind": kind,
        "error_lines": [line for _, line in lines],
        "decoded_frames": decoded,
        "header_frames": cpu.header_frames,
        "device": "cuda",
    }


class _Timeout(Exception):
    pass


class NvdecChecker:
    """One thread's decoders, reused across files: ``{(codec, chroma, depth): [decoder, W, H]}``.

    ``nvc`` is the PyNvVideoCodec module (a fake in CPU tests). Counters say how often a decoder
    was created and how often one was reused (``setReconfigParams``).
    """

    def __init__(self, nvc: Any, gpu_id: int = 0, min_size: tuple[int, int] = (1920, 1088)):
        self.nvc = nvc
        self.gpu_id = gpu_id
        self.min_size = min_size
        self._decoders: dict[tuple, list] = {}
        self.created = 0
        self.reused = 0
        self.retried = 0

    def _decoder(self, codec, chroma, depth: int, width: int, height: int):
        key = (str(codec), str(chroma), int(depth))
        entry = self._decoders.get(key)
        if entry is not None and width <= entry[1] and height <= entry[2]:
            entry[0].setReconfigParams(width, height)
            self.reused += 1
            return entry[0], key
        max_w = max(width, self.min_size[0], entry[1] if entry else 0)
        max_h = max(height, self.min_size[1], entry[2] if entry else 0)
        decoder = self.nvc.CreateDecoder(
            gpuid=self.gpu_id,
            codec=codec,
            usedevicememory=True,
            maxwidth=max_w,
            maxheight=max_h,
        )
        self._decoders[key] = [decoder, max_w, max_h]
        self.created += 1
        return decoder, key

    def decode_all(
        self, path: str, deadline: float = float("inf"), fresh: bool = False
    ) -> tuple[int, list]:
        """``(frames, lines)``: decode every frame of ``path``'s video stream on NVDEC
        (``fresh``: on a newly created decoder)."""
        lines: list[tuple[str, str]] = []
        try:
            dmx = self.nvc.CreateDemuxer(filename=path)
        except Exception as exc:
            return 0, [("demux", f"{path}: NVDEC demuxer: {exc}")]
        facts = (dmx.GetNvCodecId(), dmx.ChromaFormat(), dmx.BitDepth(), dmx.Width(), dmx.Height())
        if fresh:
            self._decoders.pop((str(facts[0]), str(facts[1]), int(facts[2])), None)
        decoder, key = self._decoder(*facts)
        frames = 0
        packets = iter(dmx)
        while True:
            if time.monotonic() > deadline:
                self._decoders.pop(key, None)  # mid-stream: start the next file afresh
                raise _Timeout
            try:
                packet = next(packets)
            except StopIteration:
                break
            except Exception as exc:
                lines.append(("demux", f"{path}: NVDEC demuxer: {exc}"))
                break
            try:
                frames += len(decoder.Decode(packet))
            except Exception as exc:
                self._decoders.pop(key, None)  # its state is unknown: never reuse it
                lines.append(("decode", f"Error while decoding stream (NVDEC): {exc}"))
                return frames, lines
        try:
            # End of stream: the demuxer's last (empty) packet flushes the decoder; an explicit
            # empty packet makes sure, and returns nothing when it already was flushed.
            frames += len(decoder.Decode(self.nvc.PacketData()))
        except Exception as exc:
            self._decoders.pop(key, None)
            lines.append(("decode", f"Error while flushing the NVDEC decoder: {exc}"))
        return frames, lines

    def check(self, path: str, cpu: CpuPass, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + timeout if timeout else float("inf")
        try:
            reused = self.reused
            frames, lines = self.decode_all(path, deadline)
            if lines and self.reused > reused:
                # A reused decoder can refuse a stream a fresh one takes (a reconfigure needing
                # more surfaces than it was created with): blame the file only after a fresh try.
                self.retried += 1
                frames, lines = self.decode_all(path, deadline, fresh=True)
        except _Timeout:
            return failure("timeout", f"{path}: no verdict within {timeout:g}s, stopped", False)
        return verdict(path, cpu, frames, lines)


_ERROR_LINE = re.compile(rb"Decode Error occurred for picture")


def _fflush_c() -> None:
    """Flush the C library's stdio buffers (NvDecoder prints with printf)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


class DecodeErrorWatch:
    """Counts the ``Decode Error occurred for picture N`` lines PyNvVideoCodec's NvDecoder prints
    when ``cuvidGetDecodeStatus`` reports an error (it prints, it does not raise).

    While active, fds 1 and 2 are teed through pipes: every byte still reaches the original fd
    (except this class's own sync marks) and the error lines are counted. ``sync()`` flushes C
    stdio and waits until everything written before it has been read, then returns the count.
    The count is process-wide: callers compare it before and after a file, and files whose window
    saw errors are rechecked alone (``check_paths_cuda``) to attribute them exactly.
    """

    MARK = b"\x1epyvidfast-sync\x1e"

    def __init__(self, fds: Sequence[int] = (1, 2), wait: float = 10.0):
        self.fds = tuple(fds)
        self.wait = wait
        self.count = 0
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._sent = dict.fromkeys(self.fds, 0)
        self._seen = dict.fromkeys(self.fds, 0)
        self._saved: dict[int, int] = {}
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> DecodeErrorWatch:
        sys.stdout.flush()
        sys.stderr.flush()
        _fflush_c()
        for fd in self.fds:
            saved = os.dup(fd)
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            self._saved[fd] = saved
            t = threading.Thread(target=self._pump, args=(fd, r, saved), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _account(self, fd: int, line: bytes, marks: int) -> None:
        with self._cond:
            if _ERROR_LINE.search(line):
                self.count += 1
            if marks:
                self._seen[fd] += marks
                self._cond.notify_all()

    def _pump(self, fd: int, r: int, out: int) -> None:
        # Sync marks are cut out of the stream wherever they land (they may split a line); the
        # rest is forwarded at once (progress bars write no newline), and complete lines are
        # matched. ``held``: a possible start of a mark at the end of a read; ``tail``: the
        # current, unfinished line.
        held, tail = b"", b""
        while True:
            chunk = os.read(r, 1 << 16)
            data = held + chunk
            marks = data.count(self.MARK)
            data = data.replace(self.MARK, b"")
            keep = 0
            if chunk:
                keep = next(
                    (k for k in range(len(self.MARK) - 1, 0, -1) if data.endswith(self.MARK[:k])),
                    0,
                )
            held, data = (
                (data[len(data) - keep :], data[: len(data) - keep]) if keep else (b"", data)
            )
            *lines, tail = (tail + data).split(b"\n")
            for line in lines:
                self._account(fd, line, 0)
            if not chunk:
                self._account(fd, tail, 0)
            self._account(fd, b"", marks)
            if data:
                os.write(out, data)
            if not chunk:
                break
        os.close(r)

    def sync(self) -> int:
        """The error count, once everything printed so far has been read."""
        _fflush_c()
        # Marks are written under their own lock, never under the pump's: a full pipe must not
        # block the writer while the pump waits for the lock it holds.
        with self._send_lock:
            for fd in self.fds:
                self._sent[fd] += 1
                os.write(fd, self.MARK)
            target = dict(self._sent)
        with self._cond:
            self._cond.wait_for(
                lambda: all(self._seen[fd] >= target[fd] for fd in self.fds), self.wait
            )
            return self.count

    def __exit__(self, *exc) -> None:
        try:
            self.sync()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, saved in self._saved.items():
                os.dup2(saved, fd)  # closes the pipe's last write end: the pump sees EOF
            for t in self._threads:
                t.join(self.wait)
            for saved in self._saved.values():
                os.close(saved)


def _capability(device: int) -> tuple[int, int] | None:
    import torch

    try:
        return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]
    except Exception:
        return None


def check_paths_cuda(
    paths: Sequence[str],
    on_result: OnResult,
    *,
    device: int = 0,
    workers: int | None = None,
    timeout: float | None = None,
    run_cpu: Callable[[list[str]], None] | None = None,
    nvc: Any = None,
    capability: tuple[int, int] | None = None,
    watch_errors: bool = True,
) -> dict[str, int]:
    """Check ``paths``: CPU passes, then NVDEC decodes on ``workers`` threads (default two per
    engine), each thread with its own reused decoders. Files routed to the CPU are collected and
    handed to ``run_cpu(paths)`` (which reports through ``on_result`` itself); without it they
    are checked with ``integrity.check_file`` in this process. ``watch_errors`` counts NVDEC's
    printed decode-status errors (``DecodeErrorWatch``) and fails the files they belong to.
    Returns counters."""
    from pyvidfast.io.nvdec import engine_count

    nvc = nvc if nvc is not None else nvdec_module()
    if capability is None:
        capability = _capability(device)
    workers = workers or 2 * engine_count(device)
    local = threading.local()
    checkers: list[NvdecChecker] = []
    lock = threading.Lock()
    cpu_paths: list[str] = []

    def checker() -> NvdecChecker:
        c = getattr(local, "checker", None)
        if c is None:
            c = local.checker = NvdecChecker(nvc, device)
            with lock:
                checkers.append(c)
        return c

    passes: dict[str, CpuPass] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="pyvidfast-demux") as ex:
        futures = {ex.submit(cpu_pass, p, capability): p for p in paths}
        for fut in as_completed(futures):
            path = futures[fut]
            try:
                passes[path] = fut.result()
            except Exception as exc:  # the CPU checker will say what is wrong
                passes[path] = _route_cpu(f"cpu pass failed: {exc}")
    for p in paths:
        if passes[p].route == "cpu":
            cpu_paths.append(p)
    if cpu_paths:
        if run_cpu is not None:
            run_cpu(cpu_paths)
        else:
            for p in cpu_paths:
                on_result(p, integrity.check_file(p))

    def job(path: str, c: NvdecChecker | None = None) -> tuple[dict, int]:
        """The verdict and how many NVDEC error lines were printed while it was made."""
        before = watch.sync() if watch is not None else 0
        try:
            result = (c or checker()).check(path, passes[path], timeout)
        except Exception as exc:
            line = f"{path}: NVDEC checker error: {type(exc).__name__}: {exc}"[:300]
            result = failure("crash", line, False)
        return result, (watch.sync() - before if watch is not None else 0)

    gpu_paths = [p for p in paths if passes[p].route == "gpu"]
    suspects: list[str] = []
    watch = _start_watch() if watch_errors else None
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="pyvidfast-nvdec") as ex:
            futures = {ex.submit(job, p): p for p in gpu_paths}
            for fut in as_completed(futures):
                result, errors = fut.result()
                if errors and result.get("error_kind") != "timeout":
                    suspects.append(futures[fut])  # maybe another file's error: see below
                else:
                    on_result(futures[fut], result)
        # Error lines cannot be told apart between concurrent files: recheck each file whose
        # window saw one alone, where the count is its own.
        alone = NvdecChecker(nvc, device)
        for path in suspects:
            result, errors = job(path, alone)
            if errors:
                result = _with_error_status(path, result, errors)
            on_result(path, result)
    finally:
        if watch is not None:
            watch.__exit__(None, None, None)
    return {
        "rechecked_alone": len(suspects),
        "gpu_files": len(gpu_paths),
        "cpu_files": len(cpu_paths),
        "decoders_created": sum(c.created for c in checkers),
        "decoders_reused": sum(c.reused for c in checkers),
    }


def _start_watch() -> DecodeErrorWatch | None:
    try:
        return DecodeErrorWatch().__enter__()
    except OSError:  # no usable fds 1/2 (a daemon without them): status errors go unseen
        return None


def _with_error_status(path: str, result: dict, errors: int) -> dict:
    line = f"{path}: NVDEC reported {errors} picture(s) with decode errors (cuvidGetDecodeStatus)"
    out = dict(result)
    out["error_lines"] = list(result.get("error_lines") or []) + [line]
    if out.get("ok", False) or not out.get("error_kind"):
        out["error_kind"] = "decode"
    out["ok"] = False
    return out


def _ray_chunk(paths: list[str], timeout: float | None) -> list[tuple[str, dict]]:
    """One Ray task: a chunk of files on this node's GPU (decoders reused within the chunk)."""
    out: list[tuple[str, dict]] = []
    check_paths_cuda(paths, lambda p, r: out.append((p, r)), timeout=timeout)
    return out


def run_cuda(
    tasks: Sequence[Task],
    on_result: OnResult,
    engine: str = "local",
    workers: int | None = None,
    timeout: float | None = None,
    address: str | None = None,
    chunk: int = 64,
) -> None:
    """``engines.run`` for ``device="cuda"``: integrity-only tasks run here; tasks that also
    want Open-Sora's info row run on the CPU engine."""
    from pyvidfast.curation import engines

    cpu_tasks = [t for t in tasks if t[1] or not t[3]]
    gpu_paths = [t[0] for t in tasks if not t[1] and t[3]]
    threads = {t[0]: t[2] for t in tasks}
    if cpu_tasks:
        engines.run(cpu_tasks, on_result, engine, None, timeout, address)
    if not gpu_paths:
        return
    if engine == "local":

        def run_cpu(paths: list[str]) -> None:
            engines.run_local(
                [(p, False, threads[p], True) for p in paths], on_result, None, timeout
            )

        check_paths_cuda(gpu_paths, on_result, workers=workers, timeout=timeout, run_cpu=run_cpu)
    elif engine == "ray":
        _run_ray_cuda(gpu_paths, on_result, workers, timeout, address, chunk)
    else:
        raise ValueError(f"engine must be one of {engines.ENGINES}, got {engine!r}")


def _run_ray_cuda(paths, on_result, workers, timeout, address, chunk) -> None:
    """Chunks of ``chunk`` files as Ray tasks that each take one GPU (``num_gpus=1``)."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--engine ray needs Ray: pip install 'pyvidfast[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_gpus=1, num_cpus=4, max_retries=0)(_ray_chunk)
    chunks = [list(paths[i : i + chunk]) for i in range(0, len(paths), chunk)]
    limit = max(1, workers or int(ray.cluster_resources().get("GPU", 1)))
    pending = chunks[::-1]
    in_flight: dict[Any, list[str]] = {}
    while pending or in_flight:
        while pending and len(in_flight) < limit:
            c = pending.pop()
            in_flight[remote.remote(c, timeout)] = c
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in ready:
            c = in_flight.pop(ref)
            try:
                for path, result in ray.get(ref):
                    on_result(path, result)
            except Exception as exc:
                for path in c:
                    on_result(
                        path, failure("crash", f"{path}: ray task failed: {exc}"[:300], False)
                    )

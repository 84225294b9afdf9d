"""One file's integrity verdict: would ``ffmpeg -v error -i P -f null -`` print anything?

Mirrors what the ffmpeg 5.1 command line does with that command, in-process through PyAV:

1. open the input (``avformat_open_input`` + ``avformat_find_stream_info``);
2. pick the streams the null muxer gets by default: the video stream with the most pixels
   (+5e6 for the default disposition, attached pictures score 1, a score of 0 never wins) and the
   audio stream with the most channels (same default bonus), first one on ties;
3. demux every packet (other streams discarded), decode the picked streams, flush at EOF;
4. check the timestamps the null muxer would receive (timestamps.py, "the model"), and write
   the lines and the EOF pts where 5.1's MPEG-4 decoder differs from FFmpeg 8's (mpeg4_quirks.py).

Every FFmpeg library line at level ERROR or worse is captured, and the messages the ffmpeg tool
itself prints at that level are synthesised with the same wording ("Error while decoding stream
#0:0: ...", "Cannot determine format of input stream 0:1 after EOF", ...). The file passes exactly
when nothing was printed. Frames are dropped as soon as they are decoded, so memory does not grow
with the video's length.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av

from pyvidfast.curation.ffmpeg_log import capture_errors, format_line
from pyvidfast.curation.mpeg4_quirks import Mpeg4Quirks, mpeg4_quirks
from pyvidfast.curation.timestamps import AudioTimestamps, VideoTimestamps, demuxed_pts, rescale
from pyvidfast.io.errors import RemoteIOError, RemoteNotFoundError
from pyvidfast.io.remote import open_remote
from pyvidfast.io.storage import is_remote

AV_TIME_BASE = Fraction(1, 1_000_000)
# The in-loop deblocking filter only changes pixels: FFmpeg's H.264/HEVC filters have no error
# path, so skipping it changes no line of ffmpeg's log, and saves about a fifth of a decode.
# (Only the verdict and the log are kept here; no pixel leaves the check.) The open passes it to
# avformat_find_stream_info's probe decoders too: nor does it change a parameter they report.
_VIDEO_OPTIONS = {"skip_loop_filter": "all"}
_CODECS = frozenset(av.codecs_available) | {"NULL"}

# error_kind values, roughly in the order a file meets them.
KINDS = (
    "missing",  # path does not exist
    "unreadable",  # exists but cannot be read (permissions, a directory, ...)
    "empty",  # 0 bytes
    "open",  # FFmpeg cannot open the container or find stream parameters
    "no_stream",  # nothing for the null muxer (no video, no audio)
    "decoder",  # no decoder for a picked stream, or it refuses to open
    "demux",  # container errors while reading packets
    "decode",  # decoder errors
    "no_frames",  # a picked stream produced no frame and its format is unknown
    "timestamps",  # the null muxer's non-monotonic dts errors only
    "timeout",  # decode did not finish within the per-file timeout (set by the engine)
    "io",  # a remote read failed after its retries: no verdict on the file (not journaled)
    "crash",  # the worker process died (set by the engine)
)


def strerror(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class ErrorLog:
    """Ordered error lines, each tagged with the phase that produced it."""

    def __init__(self, captured: list) -> None:
        self.captured = captured
        self.lines: list[tuple[str, str]] = []

    def drain(self, kind: str) -> None:
        # A line logged by a decoder or parser (named after its codec) is a bitstream problem
        # whatever phase let it out; avformat_find_stream_info decodes a few frames, too.
        while self.captured:
            _level, name, message = self.captured.pop(0)
            line_kind = "decode" if kind in ("demux", "decode") and name in _CODECS else kind
            self.lines.append((line_kind, format_line(name, message)))

    def add(self, kind: str, line: str) -> None:
        self.lines.append((kind, line))


def pick_streams(container) -> tuple[Any, Any]:
    """ffmpeg 5.1's automatic stream selection for an output that takes video and audio."""
    best_video = best_audio = None
    video_score = audio_score = 0
    for st in container.streams:
        default = 5_000_000 if st.disposition & av.stream.Disposition.default else 0
        if st.type == "video":
            cc = st.codec_context
            score = (cc.width * cc.height if cc is not None else 0) + default
            if st.disposition & av.stream.Disposition.attached_pic:
                score = 1
            if score > video_score:
                best_video, video_score = st, score
        elif st.type == "audio":
            cc = st.codec_context
            channels = cc.layout.nb_channels if cc is not None else 0
            score = channels + default
            if score > audio_score:
                best_audio, audio_score = st, score
    return best_video, best_audio


def error_kind_of(kinds: Sequence[str]) -> str:
    """The ``error_kind`` of a file whose log lines have these kinds, in order: the first kind
    that is not the null muxer's timestamp check, ``timestamps`` when that is all there is."""
    if not kinds:
        return ""
    return next((k for k in kinds if k != "timestamps"), "timestamps")


@dataclass
class CheckResult:
    """One file's verdict. ``as_dict()`` is the row every engine reports and the journal keeps
    (keys and their order are part of the journal format); ``device`` is only set by the NVDEC
    checker."""

    ok: bool
    error_kind: str = ""
    error_lines: list[str] = field(default_factory=list)
    decoded_frames: int = 0
    header_frames: int = 0
    device: str | None = None

    @classmethod
    def from_lines(
        cls,
        lines: Sequence[tuple[str, str]],
        decoded: int,
        header: int,
        device: str | None = None,
    ) -> CheckResult:
        """The verdict from ``(kind, line)`` log lines: ok exactly when there are none."""
        return cls(
            ok=not lines,
            error_kind=error_kind_of([k for k, _ in lines]),
            error_lines=[line for _, line in lines],
            decoded_frames=decoded,
            header_frames=header,
            device=device,
        )

    @classmethod
    def failure(cls, kind: str, line: str) -> CheckResult:
        """A file the worker could not finish (timeout, crash, ...)."""
        return cls(ok=False, error_kind=kind, error_lines=[line])

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "error_kind": self.error_kind,
            "error_lines": list(self.error_lines),
            "decoded_frames": self.decoded_frames,
            "header_frames": self.header_frames,
        }
        if self.device is not None:
            out["device"] = self.device
        return out


def _result(log: ErrorLog, decoded: int, header: int) -> dict:
    return CheckResult.from_lines(log.lines, decoded, header).as_dict()


_EMPTY = "Invalid data found when processing input"  # what ffmpeg prints for an empty file


def stat_failure(path: str) -> tuple[str, str] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing", f"{path}: No such file or directory"
    except OSError as exc:
        return "unreadable", f"{path}: {exc.strerror or exc}"
    if not os.access(path, os.R_OK):
        return "unreadable", f"{path}: Permission denied"
    if os.path.isdir(path):
        return "unreadable", f"{path}: Is a directory"
    if st.st_size == 0:
        return "empty", f"{path}: {_EMPTY}"
    return None


def check_file(path: str, threads: int = 1) -> dict:
    """The verdict for one file: ``ok``, ``error_kind``, ``error_lines``, frame counts.

    ``threads`` is the decoder thread count (1 suits one worker per core). ``path`` may be a
    URL: a read that fails after its retries gives ``error_kind="io"``, never a verdict.
    """
    if is_remote(path):
        return _check_remote(path, threads)
    failure = stat_failure(path)
    if failure is not None:
        log = ErrorLog([])
        log.add(*failure)
        return _result(log, 0, 0)
    return _check_source(path, path, threads)


def _check_remote(url: str, threads: int) -> dict:
    """``check_file`` of a URL, read through ``RangeReader`` (io/remote.py)."""
    missing = CheckResult.failure("missing", f"{url}: No such file or directory").as_dict()
    try:
        f = open_remote(url)
    except RemoteNotFoundError:
        return missing
    except RemoteIOError as exc:
        return CheckResult.failure("io", f"{url}: {exc.reason}").as_dict()
    with f:
        if f.size == 0:
            return CheckResult.failure("empty", f"{url}: {_EMPTY}").as_dict()
        result = _check_source(url, f, threads)
    # FFmpeg may have taken the failed read for the end of the file: the verdict is void.
    if isinstance(f.failure, RemoteNotFoundError):
        return missing
    if f.failure is not None:
        return CheckResult.failure("io", f"{url}: {f.failure.reason}").as_dict()
    return result


def _check_source(path: str, source, threads: int) -> dict:
    with capture_errors() as captured:
        log = ErrorLog(captured)
        try:
            container = av.open(source, options=_VIDEO_OPTIONS)
        except Exception as exc:  # PyAV raises many types; all mean "could not open"
            log.drain("open")
            code = getattr(exc, "errno", None)
            kind = "unreadable" if code in (errno.EACCES, errno.EISDIR) else "open"
            log.add(kind, f"{path}: {strerror(exc)}")
            return _result(log, 0, 0)
        try:
            return _check_container(container, path, threads, log)
        finally:
            container.close()
            log.drain("decode")


def _check_container(container, path: str, threads: int, log: ErrorLog) -> dict:
    log.drain("demux")  # the file opened: what was logged came from reading its packets
    video, audio = pick_streams(container)
    picked = [s for s in (video, audio) if s is not None]
    header = int(video.frames or 0) if video is not None else 0
    if not picked:
        log.add("no_stream", "Output file #0 does not contain any stream")
        return _result(log, 0, header)

    for st in picked:
        if st.codec_context is None:
            # PyAV has no codec context, hence no codec name, for a codec it does not know.
            log.add("decoder", f"Decoder (codec none) not found for input stream #0:{st.index}")
            return _result(log, 0, header)
    for st in container.streams:
        if all(st is not p for p in picked):
            st.discard = av.stream.Discard.all

    # Known from the header, before the decoders open (ffmpeg's check at EOF uses this).
    format_known = {st.index: st.codec_context.format is not None for st in picked}
    trackers = _open_decoders(container, picked, threads, log)
    if trackers is None:
        return _result(log, 0, header)
    log.drain("demux")

    counts = {st.index: 0 for st in picked}
    quirks = mpeg4_quirks(video)
    packets = container.demux(picked)
    captured = log.captured
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except Exception as exc:  # any read error: ffmpeg stops reading there
            # ffmpeg prints the read error and treats it as EOF: flush the decoders.
            log.drain("demux")
            log.add("demux", f"{path}: {strerror(exc)}")
            for st in picked:
                _decode(st, None, trackers[st.index], counts, log, quirks)
            break
        if captured:
            log.drain("demux")
        st = packet.stream
        if packet.size == 0:
            if packet.dts is not None:
                continue  # ffmpeg skips empty packets that are not the EOF marker
            packet = None
        elif st.type == "video":
            packet.pts = demuxed_pts(container.format.name, packet.pts, packet.dts)
            if quirks.active and (line := quirks.packet(bytes(packet), packet.pts)) is not None:
                log.add("decode", line)
        _decode(st, packet, trackers[st.index], counts, log, quirks)

    for st in picked:
        if counts[st.index] == 0 and not format_known[st.index]:
            log.add("no_frames", f"Cannot determine format of input stream 0:{st.index} after EOF")
    decoded = counts[video.index] if video is not None else 0
    return _result(log, decoded, header)


def _open_decoders(container, picked, threads: int, log: ErrorLog) -> dict | None:
    """Open each picked stream's decoder and make its timestamp tracker (the null muxer's
    model, timestamps.py); None, with the line ffmpeg prints, when a decoder does not open."""
    start = container.start_time
    offset_us = -start if start is not None else 0
    trackers = {}
    for out_index, st in enumerate(picked):
        cc = st.codec_context
        tb = Fraction(st.time_base) if st.time_base else AV_TIME_BASE
        offset = rescale(offset_us, AV_TIME_BASE, tb)
        if st.type == "video":
            rate = st.guessed_rate
            trackers[st.index] = VideoTimestamps(
                out_index, tb, Fraction(rate) if rate else None, offset
            )
        else:
            trackers[st.index] = AudioTimestamps(out_index, tb, cc.sample_rate or 0, offset)
        cc.thread_count = threads
        if st.type == "video":
            cc.options = dict(_VIDEO_OPTIONS)
        try:
            cc.open(strict=False)
        except Exception as exc:  # PyAV raises many types; all mean the decoder did not open
            log.drain("decoder")
            log.add(
                "decoder",
                f"Error while opening decoder for input stream #0:{st.index} : {strerror(exc)}",
            )
            return None
    return trackers


def _decode(st, packet, tracker, counts: dict, log: ErrorLog, quirks: Mpeg4Quirks) -> None:
    """Decode one packet (None: flush at EOF) and check its frames' timestamps; the video
    frames flushed at EOF are 5.1's (Note [mpeg4 flush pts])."""
    try:
        frames = st.codec_context.decode(packet)
    except Exception as exc:  # any decoder error is a line of the log
        log.drain("decode")
        if packet is not None:
            log.add("decode", f"Error while decoding stream #0:{st.index}: {strerror(exc)}")
        return
    if log.captured:
        log.drain("decode")
    if packet is None and st.type == "video":
        frames = quirks.flushed(list(frames), st.codec_context.has_b_frames)
    if not frames:
        return
    counts[st.index] += len(frames)
    if isinstance(tracker, VideoTimestamps):
        lines = [tracker.frame(f.pts, f.dts) for f in frames]
    else:
        pkt_pts = packet.pts if packet is not None else None
        pkt_dur = (packet.duration or 0) if packet is not None else 0
        lines = [tracker.frame(f.pts, pkt_pts, pkt_dur, f.samples) for f in frames]
    for line in lines:
        if line is not None:
            log.add("timestamps", format_line("null", line))

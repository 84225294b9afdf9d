"""One PyAV demux per file feeds both the container checks and NVDEC.

``open_video`` opens the file and picks the streams as the CPU checker does
(``integrity.pick_streams``); ``VideoDemux.packets()`` then reads every packet once: container
and parser errors and the audio decode are checked here as ``ffmpeg -v error`` would report them,
the video packets go out as NVDEC's input (Annex B for H.264/HEVC), and the frames they show are
counted (shown.py). ``read_ahead`` runs that loop on a thread so NVDEC is fed while Python reads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
from av.bitstream import BitStreamFilterContext

from pyvidfast.curation.ffmpeg_log import format_line
from pyvidfast.curation.gpu.nal import split_errors
from pyvidfast.curation.gpu.shown import ShownCounter
from pyvidfast.curation.integrity import ErrorLog, pick_streams, strerror
from pyvidfast.io.bitstream.nal import length_size
from pyvidfast.io.nvdec import StreamFormat, stream_format_of
from pyvidfast.io.nvdec.packets import ANNEX_B_FILTERS, Packet

__all__ = ["VideoDemux", "open_video", "read_ahead"]

Decide = Callable[[StreamFormat], tuple[bool, str]]


@dataclass
class VideoDemux:
    """An open file whose video NVDEC takes; ``log`` collects its (kind, line) errors."""

    path: str
    container: Any
    video: Any
    audio: Any
    fmt: StreamFormat
    log: ErrorLog
    header_frames: int

    def __post_init__(self) -> None:
        self.counter = ShownCounter(self.fmt.codec)
        self._bsf = None
        # NVDEC's parser reads Annex B: length-prefixed streams (avcC/hvcC extradata, version
        # byte 1) go through the filter, MPEG-TS and raw streams are Annex B already (the rule
        # of io/nvdec/packets.py's PacketSource).
        self._size_bytes = length_size(self.fmt.codec, self.video.codec_context.extradata or b"")
        if self.fmt.codec in ANNEX_B_FILTERS and self._size_bytes is not None:
            self._bsf = BitStreamFilterContext(ANNEX_B_FILTERS[self.fmt.codec], self.video)

    def packets(self) -> Iterator[Packet]:
        """Every video packet for NVDEC, in file order; audio decoded on the way."""
        picked = [s for s in (self.video, self.audio) if s is not None]
        demuxer = self.container.demux(picked)
        log = self.log
        while True:
            try:
                packet = next(demuxer)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as exc:
                # ffmpeg prints the read error and treats it as EOF: flush the audio decoder.
                log.drain("demux")
                log.add("demux", f"{self.path}: {strerror(exc)}")
                if self.audio is not None:
                    self._decode_audio(None)
                break
            if log.captured:
                log.drain("demux")
            if packet.stream is self.video:
                yield from self._video(packet)
            elif packet.size or packet.dts is None:  # ffmpeg skips empty non-EOF packets
                self._decode_audio(packet if packet.size else None)
        log.drain("decode")

    def _video(self, packet) -> Iterator[Packet]:
        if packet.size == 0:
            return
        data = bytes(packet)
        self.counter.add(data)
        if self._size_bytes is not None:
            for message in split_errors(data, self._size_bytes):
                self.log.add("decode", format_line(self.fmt.codec, message))
        try:
            out = self._bsf.filter(packet) if self._bsf is not None else [packet]
        except av.FFmpegError as exc:  # a damaged packet: the decoder would refuse it, too
            self.log.drain("decode")
            line = f"Error while decoding stream #0:{self.video.index}: {strerror(exc)}"
            self.log.add("decode", line)
            return
        for p in out:
            if p.size:
                pts = p.pts if p.pts is not None else p.dts
                yield Packet(bytes(p), int(pts or 0), p.dts, bool(packet.is_keyframe))

    def _decode_audio(self, packet) -> None:
        try:
            self.audio.codec_context.decode(packet)
        except av.FFmpegError as exc:
            self.log.drain("decode")
            if packet is not None:
                line = f"Error while decoding stream #0:{self.audio.index}: {strerror(exc)}"
                self.log.add("decode", line)
            return
        if self.log.captured:
            self.log.drain("decode")

    def close(self) -> None:
        self.container.close()


def open_video(path: str, log: ErrorLog, decide: Decide) -> tuple[VideoDemux | None, str]:
    """``(demux, "")`` when NVDEC can take ``path``'s video, else ``(None, reason)``: the file
    goes to the CPU checker whole (it cannot be opened, has no video stream, an audio decoder
    that does not open, or a video format ``decide`` refuses)."""
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError, ValueError) as exc:
        return None, f"open: {strerror(exc)}"
    try:
        demux, reason = _plan(path, container, log, decide)
    except (av.FFmpegError, ValueError) as exc:
        demux, reason = None, f"setup: {strerror(exc)}"
    if demux is None:
        container.close()
    return demux, reason


def _plan(path: str, container, log: ErrorLog, decide: Decide):
    video, audio = pick_streams(container)
    if video is None or video.codec_context is None:
        return None, "no video stream"
    fmt = stream_format_of(video)
    ok, reason = decide(fmt)
    if not ok:
        return None, reason
    if audio is not None:
        if audio.codec_context is None:
            return None, "no audio decoder"
        audio.codec_context.open(strict=False)
    for st in container.streams:
        if st is not video and st is not audio:
            st.discard = av.stream.Discard.all
    log.drain("demux")  # the file opened: what was logged came from reading its packets
    header = int(video.frames or 0)
    return VideoDemux(path, container, video, audio, fmt, log, header), ""


_DONE = object()


def read_ahead(items: Iterator[Any], depth: int = 64) -> Iterator[Any]:
    """``items``, produced on a thread up to ``depth`` ahead; its exception is re-raised here.

    Closing the returned iterator early stops the thread at its next item.
    """
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            q.put(exc)

    thread = threading.Thread(target=produce, daemon=True, name="pyvidfast-demux")
    thread.start()
    try:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()

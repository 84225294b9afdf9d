"""``OpenedStream``: one video stream of a file opened once, its facts and its frame index.

The lower half of a reader (``FFmpegDecoder`` decodes on top of it; the NVDEC reader demuxes
from it): the file and FFmpeg container (Note [one open] in io/opening.py), ``info``
(``StreamInfo``) read on open, and moving the container to a keyframe of ``index``.

Note [cut TS tail]
    A TS file that ends inside a transport packet gives a cut last frame not flagged corrupt,
    which frame threads conceal differently on every run: it is decoded on one thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, BinaryIO

import av

from pyvidfast.io.bitstream.nal import x264_build
from pyvidfast.io.forks import track
from pyvidfast.io.keyframes import keyframe_before
from pyvidfast.io.opening import open_file, open_stream
from pyvidfast.io.source import Source, as_seekable, source_name
from pyvidfast.io.stream_index import StreamIndex
from pyvidfast.io.stream_info import StreamInfo, first_usable_shift, read_stream_info
from pyvidfast.io.ts_start import file_ends_mid_packet

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = ["OpenedStream"]

# Demuxers whose seek goes by a sample index (MP4/MOV, Matroska/WebM): a seek to the first
# packet lands there, so the first GOP needs no reopening (which would probe the file again).
_INDEXED_FORMATS = frozenset({"mov", "matroska"})


class OpenedStream:
    """The best video stream of ``source``, opened once; ``index`` is set by the subclass."""

    index: StreamIndex
    _stream: VideoStream  # set by every _open, with _container

    def __init__(self, source: Source, num_threads: int):
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise ValueError(f"num_threads must be an int >= 0, got num_threads={num_threads!r}")
        self.path = source_name(source)
        self.num_threads = num_threads
        self._source = as_seekable(source)
        self._start_pos = (
            None if isinstance(self._source, (str, os.PathLike)) else self._source.tell()
        )
        self._file: BinaryIO | None = None  # a path's one open file (Note [one open])
        self._container: InputContainer | None = None  # None while closed (Note [fork])
        self._verified = False  # True once every frame has been decoded and indexed
        self._reopen = False  # set in a forked child (Note [fork])
        self._x264_build: int | None = None  # Note [x264 build] in io/bitstream/nal.py
        self._cut_tail = False  # Note [cut TS tail]
        track(self)
        self._open()
        if self._opened.format.name == "mpegts" and file_ends_mid_packet(self._readable()):
            self._cut_tail = True
            self._open()
        self.info: StreamInfo = read_stream_info(self._opened, self._stream, self._readable())

    # ---- the stream's facts (``self.info``, read once on open)

    @property
    def codec(self) -> str:
        return self.info.codec

    @property
    def pix_fmt(self) -> str | None:
        return self.info.format.pix_fmt

    @property
    def stored_width(self) -> int:
        return self.info.format.width

    @property
    def stored_height(self) -> int:
        return self.info.format.height

    @property
    def rotation(self) -> int:
        return self.info.rotation

    @property
    def time_base(self) -> Fraction:
        return self.info.time_base

    @property
    def sample_aspect_ratio(self) -> Fraction | None:
        return self.info.sample_aspect_ratio

    @property
    def _avg_fps(self) -> float:
        return self.info.avg_fps

    def _moved(self) -> None:
        """The container was reopened or moved (a decoder on top forgets where it was)."""

    @property
    def _opened(self) -> InputContainer:
        """The container ``_open`` made; ``ValueError`` once the reader is closed (as a closed
        file's reads)."""
        if self._container is None:
            raise ValueError(f"{self.path}: the reader is closed")
        return self._container

    def _readable(self) -> str | os.PathLike[str] | BinaryIO:
        """The source as the moov and TS-tail readers take it: the open file of a path."""
        return self._file if self._file is not None else self._source

    def _open(self) -> None:
        self._close_container()
        if self._file is None and isinstance(self._source, (str, os.PathLike)):
            self._file = open_file(self._source, self.path)
        if self._file is not None:
            self._file.seek(0)
        elif self._start_pos is not None and not isinstance(self._source, (str, os.PathLike)):
            self._source.seek(self._start_pos)  # a file object: back to where it was at open
        # Frame threads drop different frames after a decode error depending on the thread
        # count: a file that needed a rescan is decoded on one thread from then on.
        threads = None if self._verified or self._cut_tail else self.num_threads
        opened = open_stream(self._readable(), self.path, threads, self._x264_build)
        self._container, self._stream = opened
        self._moved()

    def _first_packets(
        self, packets: Iterator[av.Packet[VideoStream]]
    ) -> Iterator[av.Packet[VideoStream]]:
        """``packets``, noting on the way the x264 version of the first one (Note [x264 build])
        and the first usable one's ``dts - pts`` (``StreamInfo.stamp_shift``)."""
        seen_data = self.codec != "h264"
        for packet in packets:
            if not seen_data and packet.size:
                seen_data = True
                ctx = self._stream.codec_context
                self._x264_build = x264_build(bytes(packet), ctx.extradata or b"")
                if self._x264_build is not None:
                    ctx.options = {"x264_build": str(self._x264_build)}  # not opened yet
            shift = first_usable_shift(packet)
            yield packet
            if shift is not None:
                self.info = dataclasses.replace(self.info, stamp_shift=shift)
                break
        yield from packets

    def _position(self, first: int) -> None:
        """Put the container at the keyframe before frame ``first``: a seek (to the stream's
        first packet for the first GOP: reopening would probe the file again)."""
        if self.index.pts is None:
            self._open()
        elif self._keyframe_before(first) == 0:
            if self._opened.format.name.split(",")[0] in _INDEXED_FORMATS:
                self._seek(min([self.index.pts[0], *self.index.discarded]))
            else:  # a timestamp seek in MPEG-TS, AVI, FLV, ... may land past the start
                self._open()
        else:
            self._seek(self.index.pts[self._keyframe_before(first)])

    def demux_from(self, pts: int | None) -> VideoStream:
        """The stream, its container put at the keyframe with ``pts`` (None: the stream's start),
        for a caller that demuxes it itself (the NVDEC reader, Note [one open] in
        io/opening.py); this reader's own decoding then starts over."""
        if self._reopen:
            self._open()  # inherited across a fork (Note [fork])
        if pts is None:
            self._position(0)
        else:
            self._seek(pts)
        self._moved()
        return self._stream

    def _keyframe_before(self, index: int) -> int:
        return keyframe_before(self.index.keys, index)

    def _seek(self, pts: int) -> None:
        try:
            self._opened.seek(int(pts), stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            self._open()

    def abandon_native(self) -> list[object]:
        """Drop the FFmpeg objects without freeing them (in a forked child, Note [fork]): the
        next read reopens the file (on a descriptor of its own: a shared one shares its offset)."""
        kept: list[object] = [self._container, self._file]
        self._container, self._file = None, None
        self._moved()
        self._reopen = True
        return kept

    def _close_container(self) -> None:
        if self._container is not None:
            self._moved()
            self._container.close()
            self._container = None

    def close(self) -> None:
        self._reopen = False
        self._close_container()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> OpenedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a half-built object or interpreter shutdown
            self.close()

"""``FFmpegDecoder``: exact random access to the frames of one video stream, through PyAV.

The engine under ``pyvidfast.VideoReader`` (which adds decord's API). Frame ``i`` is the ``i``-th
*presented* frame (presentation-timestamp order) of the frames that actually decode.

Note [frame index]
    On open the video stream is demuxed without decoding: the presentation timestamps (pts) of its
    packets, sorted, give frame ``i``'s pts, and the keyframe flags say where decoding can start.
    Packets the demuxer marks as discarded (outside an MP4 edit list) and empty packets (AVI
    "dropped frames") are not pictures: FFmpeg's decoder never outputs them (decord counts the
    discarded ones: Note [padded count] in io/indices.py). This matches the decoded frames for
    well-formed files at a fraction of the cost. A packet the demuxer flags as corrupt (one cut
    short by a truncated file), a demux error, missing or repeated pts make the index untrusted:
    then every frame is decoded on open (a rescan) and the index holds exactly the frames that
    decode. Streams without usable timestamps (raw H.264) are read by counting frames from the
    start after that rescan.

    The frame count is settled there, at open (``num_frames``). It is exact except for a file
    whose packets demux cleanly but do not all decode (an invalid NAL unit): decoding checks that
    frames come out with consecutive indices, and when they do not the reader rescans once, after
    which ``num_decodable`` is the number of frames that decode and indices past it raise
    ``FrameIndexError``; ``num_frames`` does not change.

Note [orientation]
    Frames come out upright as decord 0.6.0 turns them (rotation read on open, ``io.orientation``);
    turned or resized frames and all but 8-bit 4:2:0 ones go through decord's graph (``io.scaler``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from pyvidfast.io.errors import (
    FrameIndexError,
    NoVideoStreamError,
    VideoDecodeError,
    VideoOpenError,
    ffmpeg_text,
)
from pyvidfast.io.orientation import decord_rotation, rotated_shape
from pyvidfast.io.scaler import DecordScaler, plain_conversion_matches, plain_rgb
from pyvidfast.io.source import Source, as_seekable, source_name

__all__ = ["FFmpegDecoder"]

# Decoders that honour skip_frame=NONREF frame by frame (libdav1d, for one, reads it once at open).
_SKIP_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video", "vp9"})


# Demuxers whose seek goes by a sample index (MP4/MOV, Matroska/WebM): a seek to the first
# packet lands there, so the first GOP needs no reopening (which would probe the file again).
_INDEXED_FORMATS = frozenset({"mov", "matroska"})


class _IndexMismatch(Exception):
    """Decoded frames disagree with the demuxed index (internal; triggers a rescan)."""


class FFmpegDecoder:
    """RGB uint8 frames of a stream's best video stream, by index, oriented as decord's.

    ``size`` is decord's ``(width, height)``: the output size after rotation, each side left as
    the stream's when < 1. Raises ``VideoOpenError``, ``NoVideoStreamError`` or
    ``VideoDecodeError`` (see ``pyvidfast.VideoReader``).
    """

    def __init__(self, source: Source, num_threads: int = 0, size: tuple[int, int] = (-1, -1)):
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise ValueError(f"num_threads must be an int >= 0, got num_threads={num_threads!r}")
        self.path = source_name(source)
        self.num_threads = num_threads
        self._source = as_seekable(source)
        path_like = isinstance(self._source, (str, os.PathLike))
        self._start_pos = None if path_like else self._source.tell()
        self._container = None
        self._gen: Iterator[av.VideoFrame] | None = None
        self._pos: int | None = -1  # index of the last frame self._gen produced (None: unknown)
        self._verified = False  # True once every frame has been decoded and indexed
        self._skip_pts: set[int] | None = None  # see _iter_frames
        self._skip_below = 0  # ... and only packets with a pts below this one are skipped
        self._can_skip = True
        self.frames_decoded = 0  # pictures the decoder has output (each frame once: Note [cursor])
        self._size = size
        self.decode_errors = 0
        self._open()
        stream = self._stream
        self.codec = stream.codec_context.name
        self.pix_fmt = stream.codec_context.pix_fmt
        self.stored_width = int(stream.codec_context.width or 0)
        self.stored_height = int(stream.codec_context.height or 0)
        self.rotation = decord_rotation(stream, self._source)
        self.time_base = stream.time_base
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        self.sample_aspect_ratio: Fraction | None = Fraction(sar) if sar else None
        # decord reports the stream's average frame rate; fall back to FFmpeg's guess
        rates = (stream.average_rate, stream.guessed_rate, stream.base_rate)
        self._avg_fps = next((float(r) for r in rates if r is not None and r > 0), 0.0)
        # turning and resizing run as decord runs them: one FFmpeg filter graph (transposing the
        # YUV planes costs about nothing; a strided copy of RGB rows costs 10x the conversion)
        self._use_graph = self.rotation != 0 or max(size) >= 1
        self._scaler: DecordScaler | None = None  # made on the first frame, for its output size
        try:
            self._build_index()
        except (av.error.FFmpegError, OSError) as exc:
            self.close()
            raise VideoDecodeError(
                self.path, f"cannot index the stream: {ffmpeg_text(exc)}"
            ) from exc
        self._open_pictures = self.num_pictures
        self.num_frames = self.num_decodable

    @property
    def num_pictures(self) -> int:
        """Distinct pictures that decode, in presentation order."""
        return self._count if self._pts is None else len(self._pts)

    @property
    def num_decodable(self) -> int:
        """Frames known to decode: ``num_frames`` until a read finds fewer pictures (Note [frame
        index]); those plus decord's discarded packets (Note [padded count], io/indices.py)."""
        n = self.num_pictures
        return n + len(self._discarded) if n >= self._open_pictures else n

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)`` of the frames returned: turned upright, then resized to ``size``."""
        h, w = rotated_shape(self.stored_height, self.stored_width, self.rotation)
        width, height = self._size
        return (height if height >= 1 else h, width if width >= 1 else w, 3)

    def _open(self) -> None:
        self.close()
        src = self._source
        if self._start_pos is not None:
            src.seek(self._start_pos)
        elif not os.path.exists(src):
            raise VideoOpenError(self.path, "no such file")
        try:
            container = av.open(src, mode="r", metadata_errors="ignore")
        except Exception as exc:  # FFmpeg errors, OSError, and PyAV's own ValueErrors
            raise VideoOpenError(self.path, f"cannot open: {ffmpeg_text(exc)}") from exc
        try:
            stream = container.streams.best("video")
        except Exception:  # PyAV/FFmpeg refusing to rank the streams: treated as none found
            stream = None
        ctx = None if stream is None else stream.codec_context
        if ctx is None:  # no stream, or a codec tag FFmpeg has no decoder for (tests/test_fuzz.py)
            container.close()
            if stream is None:
                raise NoVideoStreamError(self.path, "no video stream")
            raise VideoDecodeError(self.path, "no decoder for the video stream")
        if self._verified:
            # Frame threads drop different frames after a decode error depending on the thread
            # count; once a file needed a rescan it is decoded one frame at a time so that the
            # frames that come out are the same every time (and on every machine).
            ctx.thread_type, ctx.thread_count = "SLICE", 1
        else:
            ctx.thread_type, ctx.thread_count = "AUTO", self.num_threads
        self._container, self._stream = container, stream
        self._gen, self._pos = None, -1

    def _build_index(self) -> None:
        pts, durations, keys, self._discarded = [], {}, [], []
        trusted = True
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                if packet.pts is None or packet.is_corrupt:
                    trusted = False
                    break
                durations[packet.pts] = packet.duration or 0
                (self._discarded if packet.is_discard else pts).append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        except Exception:  # a broken container part-way: decoding will tell what is there
            trusted = False
        self._gen, self._pos = None, -1
        if trusted and pts and len(set(pts)) == len(pts) and keys:
            self._set_index(sorted(pts), durations, keys)
        else:
            self._discarded = []
            self._rescan()

    def _set_index(self, pts: list[int] | None, durations: dict, keys: list[int]) -> None:
        self._pts = pts  # None: no usable timestamps, frames are counted from the start
        self._durations = durations
        if pts is None:
            self._index_of = {}
            self._keys = [0]
            return
        self._index_of = {p: i for i, p in enumerate(pts)}
        self._keys = sorted(self._index_of[k] for k in keys if k in self._index_of) or [0]

    def _rescan(self) -> None:
        """Decode every frame (no colour conversion) and index what actually comes out."""
        self._verified = True
        self._skip_pts = None
        self._open()
        pts, durations = [], {}
        first = None
        for frame in self._iter_frames():
            if first is None:
                first = frame
                self._note_frame(frame)
            pts.append(frame.pts)
            if frame.pts is not None:
                durations[frame.pts] = frame.duration or 0
        self._open()
        if not pts:
            raise VideoDecodeError(
                self.path, f"no frame decodes ({self.decode_errors} decode errors)"
            )
        usable = None not in pts and all(a < b for a, b in zip(pts, pts[1:]))
        if usable:
            self._set_index(pts, durations, [pts[0]])
        else:
            self._set_index(None, {}, [])
            self._count = len(pts)

    def _note_frame(self, frame: av.VideoFrame) -> None:
        if not self.stored_width or not self.stored_height:
            self.stored_width, self.stored_height = frame.width, frame.height

    def _iter_frames(self) -> Iterator[av.VideoFrame]:
        """Frames from the container's current position; packets that fail to decode are counted
        and skipped (what FFmpeg's command line does), never raised.

        While ``self._skip_pts`` is a set, a packet whose pts is not in it and lies below the
        last wanted frame's is decoded with ``skip_frame=NONREF``: a frame nothing else refers to
        and nobody asked for is not decoded at all (the decoder drops it; the frames that do come
        out are bit-identical). Packets past the last wanted frame are decoded in full, so a later
        request can go on from here (Note [cursor])."""
        ctx = self._stream.codec_context
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError):  # a broken container: its end, for us
                self.decode_errors += 1
                return
            keep, pts = self._skip_pts, packet.pts
            full = keep is None or pts is None or pts >= self._skip_below or pts in keep
            ctx.skip_frame = "DEFAULT" if full else "NONREF"
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.decode_errors += 1
                continue
            self.frames_decoded += len(frames)
            yield from frames

    def _restart(self) -> None:
        """New frame generator at the container's current position (index unknown until the
        first frame comes out, except when counting from the start)."""
        self._gen = self._iter_frames()
        self._pos = None if self._pts is not None else -1

    def _can_continue(self, first: int) -> bool:
        """Is decoding on from the current position no more work than seeking (Note [cursor])?"""
        if self._gen is None or self._pos is None or first <= self._pos:
            return False
        return self._pts is None or self._pos >= self._keyframe_before(first) - 1

    def _start_at(self, first: int) -> None:
        """Position the decoder so that the next frames lead up to frame ``first``: a seek (to
        the stream's first packet for the first GOP: reopening would probe the file again)."""
        if self._pts is None:
            self._open()
        elif self._keyframe_before(first) == 0:
            if self._container.format.name.split(",")[0] in _INDEXED_FORMATS:
                self._seek(min([self._pts[0], *self._discarded]))
            else:  # a timestamp seek in MPEG-TS, AVI, FLV, ... may land past the start
                self._open()
        else:
            self._seek(self._pts[self._keyframe_before(first)])
        self._restart()

    def _runs(self, wanted: list[int]) -> list[list[int]]:
        """``wanted`` cut wherever a keyframe lies past one wanted frame and at or before the
        next: each run starts from its own keyframe (Note [cursor])."""
        if self._pts is None:
            return [wanted]
        runs = [[wanted[0]]]
        for i in wanted[1:]:
            if self._keyframe_before(i) > runs[-1][-1] + 1:
                runs.append([i])
            else:
                runs[-1].append(i)
        return runs

    def _keyframe_before(self, index: int) -> int:
        """The last keyframe at or before ``index``; 0 (the start) before the first keyframe."""
        pos = int(np.searchsorted(self._keys, index, side="right")) - 1
        return int(self._keys[pos]) if pos >= 0 else 0

    def _seek(self, pts: int) -> None:
        try:
            self._container.seek(int(pts), stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            self._open()

    def _decode_pass(
        self, wanted: list[int], out: dict[int, np.ndarray], from_start: bool = False
    ) -> None:
        first, last = wanted[0], wanted[-1]
        want = set(wanted)
        errors = self.decode_errors
        continuing = not from_start and self._can_continue(first)
        # Skipping unwanted non-reference frames needs frames identified by pts (not counted)
        # and a decoder that reads skip_frame per frame; a reader that ever mismatched stops.
        skip = self._pts is not None and self._can_skip and self.codec in _SKIP_CODECS
        self._skip_pts = {self._pts[i] for i in want} if skip else None
        self._skip_below = self._pts[last] if skip else 0
        if from_start:
            self._open()
            self._restart()
        elif not continuing:
            self._start_at(first)
        tries = 0
        while True:
            late = None
            for frame in self._gen:
                if self._pts is None:
                    k = self._pos + 1
                else:
                    k = self._index_of.get(frame.pts)
                    if k is None:
                        raise _IndexMismatch(f"decoded pts {frame.pts} is not in the index")
                    if self._pos is None:  # first frame after repositioning
                        if k > first:
                            late = k
                            break
                    elif k != self._pos + 1 and not self._skipped(self._pos + 1, k, want, errors):
                        raise _IndexMismatch(f"frame {self._pos + 1} did not decode")
                self._pos = k
                self._note_frame(frame)
                if k in want:
                    self._to_rgb(frame, out[k])
                if k >= last:
                    return
            if late is None or from_start:
                self._gen = None
                raise _IndexMismatch(f"stream ended or skipped ahead before frame {first}")
            # The seek landed after ``first`` (leading frames of an open GOP, or a container whose
            # seek is approximate): try the keyframe before, then the very start.
            earlier = self._keyframe_before(min(first, late - 1))
            if tries == 0 and 0 < earlier < late:
                self._seek(self._pts[earlier])
            else:
                self._open()
                from_start = True
            tries += 1
            self._restart()

    def _skipped(self, start: int, stop: int, want: set[int], errors: int) -> bool:
        """Frames ``start .. stop-1`` are missing: fine if none was wanted (so they may have been
        skipped as non-reference frames) and nothing failed to decode meanwhile."""
        if self._skip_pts is None or self.decode_errors != errors or stop < start:
            return False
        return not any(i in want for i in range(start, stop))

    def _to_rgb(self, frame: av.VideoFrame, out: np.ndarray) -> None:
        """Convert into ``out`` (an upright ``[H, W, 3]`` uint8 slot) with a single copy."""
        if self._use_graph or not plain_conversion_matches(frame):
            if self._scaler is None:
                self._scaler = DecordScaler(self.rotation, out.shape[1], out.shape[0])
            self._scaler(frame, out)  # decord's own filter graph (Note [decord chroma rows])
            return
        plain_rgb(frame, out)

    def _decode(self, wanted: list[int]) -> np.ndarray:
        """RGB frames ``wanted`` (sorted, distinct) as uint8 ``[len(wanted), H, W, 3]``."""
        if not self.stored_width or not self.stored_height:
            self._rescan()  # the container did not say; the first decoded frame does
        buf = np.empty((len(wanted), *self.frame_shape), dtype=np.uint8)
        out = {k: buf[j] for j, k in enumerate(wanted)}
        for attempt in range(3):
            try:
                for run in [wanted] if attempt == 2 else self._runs(wanted):
                    self._decode_pass(run, out, from_start=attempt == 2)
                return buf
            except _IndexMismatch as exc:
                self._can_skip = False
                if attempt == 2:
                    raise VideoDecodeError(
                        self.path, f"frames do not decode reliably: {ffmpeg_text(exc)}"
                    ) from None
                if not self._verified:
                    self._rescan()
                n = self.num_decodable
                bad = [i for i in wanted if i >= n]
                if bad:
                    raise FrameIndexError(
                        self.path, f"frame {bad[0]} does not decode: only {n} frames decode"
                    ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._container is not None:
            self._gen = None
            self._container.close()
            self._container = None

    def __enter__(self) -> FFmpegDecoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):  # a half-built object or interpreter shutdown
            self.close()

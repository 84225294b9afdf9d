"""``FFmpegDecoder``: exact random access to the frames of one video stream, through PyAV.

The engine under ``pyvidfast.VideoReader`` (which adds decord's API). Frame ``i`` is the ``i``-th
*presented* frame (presentation-timestamp order) of the frames that actually decode.

Note [frame index]
    Frame ``i`` is the ``i``-th pts of the packets demuxed on open (discarded and empty packets
    are not pictures); a corrupt packet, demux error, missing or repeated pts make the index
    untrusted and every frame is decoded on open (a rescan). ``num_frames`` is settled on open;
    ``num_decodable`` drops if frames turn out not to decode. Details: docs/notes.md.

Note [cursor]
    A reader decodes on from where its last call stopped when the next wanted frame's keyframe
    is at or before that point (``io.keyframes.runs``), and seeks otherwise; frames past the last
    wanted one are decoded in full, so nothing is decoded twice. docs/notes.md has the numbers.

Frames come out upright as decord 0.6.0 turns them (``io.orientation``); turned or resized
frames and all but 8-bit 4:2:0, 4:2:2 and 4:4:4 ones go through decord's graph (``io.scaler``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import av
import torch

from pyvidfast.io.buffers import Prefaulter, new_batch
from pyvidfast.io.errors import FrameIndexError, VideoDecodeError, ffmpeg_text
from pyvidfast.io.keyframes import runs
from pyvidfast.io.orientation import rotated_shape
from pyvidfast.io.scaler import DecordScaler, plain_conversion_matches, plain_rgb
from pyvidfast.io.source import Source
from pyvidfast.io.stream import OpenedStream
from pyvidfast.io.stream_index import decoded_index, demuxed_index

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FFmpegDecoder"]

# Decoders that honour skip_frame=NONREF frame by frame (libdav1d, for one, reads it once at open).
_SKIP_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video", "vp9"})


class _IndexMismatch(Exception):
    """Decoded frames disagree with the demuxed index (internal; triggers a rescan)."""


class FFmpegDecoder(OpenedStream):
    """RGB uint8 frames of a stream's best video stream, by index, oriented as decord's.

    ``size`` is decord's ``(width, height)``: the output size after rotation, each side left as
    the stream's when < 1. Raises ``VideoOpenError``, ``NoVideoStreamError`` or
    ``VideoDecodeError`` (see ``pyvidfast.VideoReader``).
    """

    def __init__(self, source: Source, num_threads: int = 0, size: tuple[int, int] = (-1, -1)):
        self._gen: Iterator[av.VideoFrame] | None = None
        self._pos: int | None = -1  # index of the last frame self._gen produced (None: unknown)
        self._skip_pts: set[int] | None = None  # see _iter_frames
        self._skip_below = 0  # ... and only packets with a pts below this one are skipped
        self._can_skip = True
        self._prefault: Prefaulter | None = None  # while a batch is being written
        self._slot: dict[int, int] = {}  # frame index -> position in that batch
        self.frames_decoded = 0  # pictures the decoder has output (each frame once: Note [cursor])
        self._size = size
        self.decode_errors = 0
        self._scaler: DecordScaler | None = None  # made on the first frame, for its output size
        super().__init__(source, num_threads)
        # turning and resizing run as decord runs them: one FFmpeg filter graph (transposing the
        # YUV planes costs about nothing; a strided copy of RGB rows costs 10x the conversion)
        self._use_graph = self.rotation != 0 or max(size) >= 1
        try:
            self._build_index()
        except (av.error.FFmpegError, OSError) as exc:
            self.close()
            raise VideoDecodeError(
                self.path, f"cannot index the stream: {ffmpeg_text(exc)}"
            ) from exc
        self._open_pictures = self.num_pictures
        self.num_frames = self.num_decodable

    def _moved(self) -> None:
        self._gen, self._pos = None, -1

    @property
    def num_pictures(self) -> int:
        """Distinct pictures that decode, in presentation order."""
        return self.index.count

    @property
    def num_decodable(self) -> int:
        """Frames known to decode: ``num_frames`` until a read finds fewer pictures (Note [frame
        index]); those plus decord's discarded packets (Note [padded count], io/indices.py)."""
        n = self.num_pictures
        return n + len(self.index.discarded) if n >= self._open_pictures else n

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)`` of the frames returned: turned upright, then resized to ``size``."""
        h, w = rotated_shape(self.stored_height, self.stored_width, self.rotation)
        width, height = self._size
        return (height if height >= 1 else h, width if width >= 1 else w, 3)

    def _build_index(self) -> None:
        packets = self._first_packets(self._opened.demux(self._stream))
        index = demuxed_index(packets)
        self._gen, self._pos = None, -1
        if index is None:
            self._rescan()
        else:
            self.index = index

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
        self.index = decoded_index(pts, durations)

    def _note_frame(self, frame: av.VideoFrame) -> None:
        if not self.stored_width or not self.stored_height:
            self.info = self.info.with_size(frame.width, frame.height)

    def _iter_frames(self) -> Iterator[av.VideoFrame]:
        """Frames from the container's current position; packets that fail to decode are counted
        and skipped (what FFmpeg's command line does), never raised. Unwanted packets below the
        last wanted pts go with ``skip_frame=NONREF`` (dropped if nothing refers to them; the
        other frames are bit-identical); later ones decode in full (Note [cursor])."""
        ctx = self._stream.codec_context
        packets = self._opened.demux(self._stream)
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
        self._pos = None if self.index.pts is not None else -1

    def _can_continue(self, first: int) -> bool:
        """Is decoding on from the current position no more work than seeking (Note [cursor])?"""
        if self._gen is None or self._pos is None or first <= self._pos:
            return False
        return self.index.pts is None or self._pos >= self._keyframe_before(first) - 1

    def _start_at(self, first: int) -> None:
        """Position the decoder so that the next frames lead up to frame ``first``."""
        self._position(first)
        self._restart()

    def _frames(self) -> Iterator[av.VideoFrame]:
        """The frame generator a decode pass reads (``_restart`` made it, or the one continued)."""
        assert self._gen is not None, "a pass restarts or continues a generator before reading"
        return self._gen

    def _frame_number(self, frame: av.VideoFrame) -> int:
        """Index of ``frame``: the next one where frames are counted, else the index of its pts."""
        if self.index.pts is None:
            assert self._pos is not None, "counted frames start from a known position (_restart)"
            return self._pos + 1
        k = None if frame.pts is None else self.index.index_of.get(frame.pts)
        if k is None:
            raise _IndexMismatch(f"decoded pts {frame.pts} is not in the index")
        return k

    def _decode_pass(
        self, wanted: list[int], out: dict[int, npt.NDArray[np.uint8]], from_start: bool = False
    ) -> None:
        first, last = wanted[0], wanted[-1]
        want = set(wanted)
        errors = self.decode_errors
        continuing = not from_start and self._can_continue(first)
        # Skipping unwanted non-reference frames needs frames identified by pts (not counted)
        # and a decoder that reads skip_frame per frame; a reader that ever mismatched stops.
        skip = self._can_skip and self.codec in _SKIP_CODECS
        pts = self.index.pts if skip else None
        self._skip_pts = {pts[i] for i in want} if pts is not None else None
        self._skip_below = pts[last] if pts is not None else 0
        if from_start:
            self._open()
            self._restart()
        elif not continuing:
            self._start_at(first)
        tries = 0
        while True:
            late = None
            for frame in self._frames():
                k = self._frame_number(frame)
                if self.index.pts is not None:
                    if self._pos is None:  # first frame after repositioning
                        if k > first:
                            late = k
                            break
                    elif k != self._pos + 1 and not self._skipped(self._pos + 1, k, want, errors):
                        raise _IndexMismatch(f"frame {self._pos + 1} did not decode")
                self._pos = k
                self._note_frame(frame)
                if k in want:
                    self._to_rgb(frame, out[k], k)
                if k >= last:
                    return
            if late is None or from_start:
                self._gen = None
                raise _IndexMismatch(f"stream ended or skipped ahead before frame {first}")
            # The seek landed after ``first`` (leading frames of an open GOP, or a container whose
            # seek is approximate): try the keyframe before, then the very start.
            earlier = self._keyframe_before(min(first, late - 1))
            assert self.index.pts is not None, "a late frame was found by its pts"
            if tries == 0 and 0 < earlier < late:
                self._seek(self.index.pts[earlier])
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

    def _to_rgb(self, frame: av.VideoFrame, out: npt.NDArray[np.uint8], k: int) -> None:
        """Convert into ``out`` (an upright ``[H, W, 3]`` uint8 slot) with a single copy."""
        if self._prefault is not None:
            self._prefault.before_write(self._slot[k])  # Note [fresh pages]
        if self._use_graph or not plain_conversion_matches(frame):
            if self._scaler is None:
                self._scaler = DecordScaler(self.rotation, out.shape[1], out.shape[0])
            self._scaler(frame, out)  # decord's own filter graph (Note [decord chroma rows])
            return
        plain_rgb(frame, out)

    def _decode(self, wanted: list[int]) -> torch.Tensor:
        """RGB frames ``wanted`` (sorted, distinct) as uint8 ``[len(wanted), H, W, 3]``."""
        if self._reopen:
            self._open()  # inherited across a fork (Note [fork])
        if not self.stored_width or not self.stored_height:
            self._rescan()  # the container did not say; the first decoded frame does
        batch, buf, self._prefault = new_batch((len(wanted), *self.frame_shape))
        self._slot = {k: j for j, k in enumerate(wanted)}
        out = {k: buf[j] for j, k in enumerate(wanted)}
        try:
            return self._decode_into(wanted, out, batch)
        finally:
            if self._prefault is not None:
                self._prefault.close()
                self._prefault = None

    def _decode_into(
        self, wanted: list[int], out: dict[int, npt.NDArray[np.uint8]], batch: torch.Tensor
    ) -> torch.Tensor:
        for attempt in range(3):
            try:
                for run in (
                    [wanted]
                    if attempt == 2 or self.index.pts is None
                    else runs(self.index.keys, wanted)
                ):
                    self._decode_pass(run, out, from_start=attempt == 2)
                return batch
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

    def abandon_native(self) -> list[object]:
        """Also the decoder and the filter graph (Note [fork])."""
        kept: list[object] = [self._gen, self._scaler, *super().abandon_native()]
        self._scaler = None
        return kept

"""``VideoReader``: decord-compatible random access to video frames, built on FFmpeg through PyAV.

Frame ``i`` is the ``i``-th *presented* frame (presentation-timestamp order) of the frames that
actually decode. See "Note [frame index]" below for how that is kept exact without decoding the
whole file on open.

Note [frame index]
    On open the video stream is demuxed without decoding: the presentation timestamps (pts) of its
    packets, sorted, give frame ``i``'s pts, and the keyframe flags say where decoding can start.
    Packets the demuxer marks as discarded (outside an MP4 edit list) and empty packets (AVI
    "dropped frames") are left out, because FFmpeg's decoder never outputs them. This matches the
    decoded frames for well-formed files at a fraction of the cost. It is verified while decoding:
    frames must come out with consecutive indices of that list. When they do not (a packet that
    fails to decode, a truncated file, a decoder that invents timestamps) the reader rescans once
    by decoding every frame, after which ``len()`` is the number of frames that decode and indices
    past it raise ``FrameIndexError``. Streams without usable timestamps (raw H.264, duplicated
    pts) are rescanned on open and then read by counting frames from the start.

Differences from decord 0.6.0, on purpose: ``len()`` never promises frames that cannot be decoded
(decord counts container entries and can loop forever on them); rotation metadata and non-square
pixels are reported (``rotation``, ``sample_aspect_ratio``) but, like decord, not applied; a frame
whose size differs from the stream's (a mid-stream resolution change) is scaled to the stream's
size, as decord does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np
import torch

from pyvidfast.io.errors import (
    FrameIndexError,
    NoVideoStreamError,
    VideoDecodeError,
    VideoOpenError,
)

__all__ = ["Source", "VideoReader"]

Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


# Decoders that honour skip_frame=NONREF frame by frame (libdav1d, for one, reads it once at open).
_SKIP_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video", "vp9"})


class _IndexMismatch(Exception):
    """Decoded frames disagree with the demuxed index (internal; triggers a rescan)."""


class _FromHere(io.RawIOBase):
    """A binary file seen from its position at open: FFmpeg seeks in absolute offsets."""

    def __init__(self, f: BinaryIO):
        super().__init__()
        self._f, self._base = f, f.tell()
        self.name = getattr(f, "name", None)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            offset += self._base
        return self._f.seek(offset, whence) - self._base

    def tell(self) -> int:
        return self._f.tell() - self._base


def _source_name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, bytes)) else f"<{type(source).__name__}>"


class VideoReader:
    """Random access to the frames of one video stream, as RGB uint8 torch tensors.

    Args:
        source: a path, the file's bytes, or a binary file object (read from its current position;
            it must be seekable).
        num_threads: decoder threads; 0 lets FFmpeg choose (as decord's default).
        device: "cpu" only; ``pyvidfast.io.open_video(source, device="cuda")`` gives the NVDEC
            reader (``pyvidfast.io.nvdec.NvdecVideoReader``, the same interface).

    Raises:
        VideoOpenError: the container cannot be opened (missing, empty, unknown format).
        NoVideoStreamError: there is no video stream.
        VideoDecodeError: the stream has no decodable frame.
    """

    def __init__(self, source: Source, num_threads: int = 0, device: str | torch.device = "cpu"):
        if torch.device(device).type != "cpu":
            # One class per backend, one entry that picks it (as torchcodec's VideoDecoder).
            raise ValueError(
                f"VideoReader decodes on the CPU; for device={device!r} use "
                "pyvidfast.io.open_video(source, device=...) (NVDEC for 'cuda')"
            )
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise ValueError(f"num_threads must be an int >= 0, got num_threads={num_threads!r}")
        self.path = _source_name(source)
        self.num_threads = num_threads
        if isinstance(source, (bytes, bytearray, memoryview)):
            source = io.BytesIO(bytes(source))
        elif not isinstance(source, (str, os.PathLike)) and source.tell() != 0:
            source = _FromHere(source)
        self._source = source
        self._start_pos = None if isinstance(source, (str, os.PathLike)) else source.tell()
        self._container = None
        self._gen: Iterator[av.VideoFrame] | None = None
        self._pos: int | None = -1  # index of the last frame self._gen produced (None: unknown)
        self._verified = False  # True once every frame has been decoded and indexed
        self._skip_pts: set[int] | None = None  # see _iter_frames
        self._can_skip = True
        self._gen_skips = False  # the current generator was started with skipping
        self._rotation: int | None = None
        self.decode_errors = 0
        self._open()
        stream = self._stream
        self.codec = stream.codec_context.name
        self.pix_fmt = stream.codec_context.pix_fmt
        self.width = int(stream.codec_context.width or 0)
        self.height = int(stream.codec_context.height or 0)
        self.time_base = stream.time_base
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        self.sample_aspect_ratio: Fraction | None = Fraction(sar) if sar else None
        self._avg_fps = self._stream_fps(stream)
        try:
            self._build_index()
        except (av.error.FFmpegError, OSError) as exc:
            self.close()
            raise VideoDecodeError(self.path, f"cannot index the stream: {exc}") from exc

    # ---- opening and indexing -------------------------------------------------------------------

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
            raise VideoOpenError(self.path, f"cannot open: {exc}") from exc
        try:
            stream = container.streams.best("video")
        except Exception:
            stream = None
        if stream is None:
            container.close()
            raise NoVideoStreamError(self.path, "no video stream")
        ctx = stream.codec_context
        if self._verified:
            # Frame threads drop different frames after a decode error depending on the thread
            # count; once a file needed a rescan it is decoded one frame at a time so that the
            # frames that come out are the same every time (and on every machine).
            ctx.thread_type, ctx.thread_count = "SLICE", 1
        else:
            ctx.thread_type, ctx.thread_count = "AUTO", self.num_threads
        self._container, self._stream = container, stream
        self._gen, self._pos = None, -1

    def _stream_fps(self, stream) -> float:
        # decord reports the stream's average frame rate; fall back to FFmpeg's guess.
        for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if rate is not None and rate > 0:
                return float(rate)
        return 0.0

    def _build_index(self) -> None:
        pts, durations, keys = [], {}, []
        trusted = True
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.pts is None:
                    trusted = False
                    break
                pts.append(packet.pts)
                durations[packet.pts] = packet.duration or 0
                if packet.is_keyframe:
                    keys.append(packet.pts)
        except Exception:  # a broken container part-way: decoding will tell what is there
            trusted = False
        self._gen, self._pos = None, -1
        if trusted and pts and len(set(pts)) == len(pts) and keys:
            self._set_index(sorted(pts), durations, keys)
        else:
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
        if self._rotation is None:
            self._rotation = int(round(getattr(frame, "rotation", 0) or 0))
        if not self.width or not self.height:
            self.width, self.height = frame.width, frame.height

    # ---- decoding -------------------------------------------------------------------------------

    def _iter_frames(self) -> Iterator[av.VideoFrame]:
        """Frames from the container's current position; packets that fail to decode are counted
        and skipped (what FFmpeg's command line does), never raised.

        While ``self._skip_pts`` is a set, a packet whose pts is not in it is decoded with
        ``skip_frame=NONREF``: a frame nothing else refers to and nobody asked for is not decoded
        at all (the decoder drops it; the frames that do come out are bit-identical)."""
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
            keep = self._skip_pts
            ctx.skip_frame = "DEFAULT" if keep is None or packet.pts in keep else "NONREF"
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.decode_errors += 1
                continue
            yield from frames

    def _restart(self) -> None:
        """New frame generator at the container's current position (index unknown until the
        first frame comes out, except when counting from the start)."""
        self._gen = self._iter_frames()
        self._gen_skips = self._skip_pts is not None
        self._pos = None if self._pts is not None else -1

    def _can_continue(self, first: int) -> bool:
        """Is decoding on from the current position no more work than seeking? Not after a pass
        that skipped frames: packets already in the decoder were skipped for that pass's set."""
        if self._gen is None or self._pos is None or first <= self._pos or self._gen_skips:
            return False
        return self._pts is None or self._pos >= self._keyframe_before(first) - 1

    def _start_at(self, first: int) -> None:
        """Position the decoder so that the next frames lead up to frame ``first``."""
        if self._pts is None or self._keyframe_before(first) == 0:
            self._open()
        else:
            self._seek(self._pts[self._keyframe_before(first)])
        self._restart()

    def _keyframe_before(self, index: int) -> int:
        pos = int(np.searchsorted(self._keys, index, side="right")) - 1
        return int(self._keys[max(pos, 0)])

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
        # Skipping unwanted non-reference frames pays for batches from a fresh position. It needs
        # frames identified by pts (not counted) and a decoder that reads skip_frame per frame;
        # a reader that ever mismatched stops skipping.
        skip = (
            not continuing
            and len(want) > 1
            and self._pts is not None
            and self._can_skip
            and self.codec in _SKIP_CODECS
        )
        self._skip_pts = {self._pts[i] for i in want} if skip else None
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
        """Convert into ``out`` ([H, W, 3] uint8) with a single copy."""
        h, w = self.height, self.width
        if frame.width != w or frame.height != h:
            rgb = frame.reformat(width=w, height=h, format="rgb24")
        else:
            rgb = frame.reformat(format="rgb24")
        plane = rgb.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(h, plane.line_size)
        out[...] = rows[:, : w * 3].reshape(h, w, 3)

    def _decode(self, wanted: list[int]) -> np.ndarray:
        """RGB frames ``wanted`` (sorted, distinct) as uint8 ``[len(wanted), H, W, 3]``."""
        if not self.width or not self.height:
            self._rescan()  # the container did not say; the first decoded frame does
        buf = np.empty((len(wanted), self.height, self.width, 3), dtype=np.uint8)
        out = {k: buf[j] for j, k in enumerate(wanted)}
        for attempt in range(3):
            try:
                self._decode_pass(wanted, out, from_start=attempt == 2)
                return buf
            except _IndexMismatch as exc:
                self._can_skip = False
                if attempt == 2:
                    raise VideoDecodeError(
                        self.path, f"frames do not decode reliably: {exc}"
                    ) from None
                if not self._verified:
                    self._rescan()
                bad = [i for i in wanted if i >= len(self)]
                if bad:
                    raise FrameIndexError(
                        self.path, f"frame {bad[0]} does not decode: only {len(self)} frames decode"
                    ) from None
        raise AssertionError("unreachable")

    # ---- decord-compatible API ------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count if self._pts is None else len(self._pts)

    def get_avg_fps(self) -> float:
        """Average frame rate of the stream (0.0 when the container gives none)."""
        return self._avg_fps

    def _validate(self, indices) -> np.ndarray:
        idx = np.asarray(
            indices.cpu().numpy() if isinstance(indices, torch.Tensor) else indices
        ).reshape(-1)
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"{self.path}: frame indices must be integers, got {idx.dtype}")
        idx = idx.astype(np.int64)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)  # decord accepts negative indices
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise FrameIndexError(
                self.path, f"frame index {int(bad[0])} out of range for {n} frames"
            )
        return idx

    def get_batch(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frames ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]`` RGB."""
        idx = self._validate(indices)
        if idx.size == 0:
            return torch.empty((0, self.height, self.width, 3), dtype=torch.uint8)
        wanted = sorted(set(idx.tolist()))
        try:
            frames = torch.from_numpy(self._decode(wanted))
        except (av.error.FFmpegError, OSError) as exc:  # e.g. a conversion FFmpeg refuses
            self._gen = None
            raise VideoDecodeError(self.path, f"decoding failed: {exc}") from exc
        if len(self) <= int(idx.max()):  # the rescan shrank the stream under the request
            raise FrameIndexError(self.path, f"only {len(self)} frames decode")
        if wanted == idx.tolist():
            return frames
        row = {k: j for j, k in enumerate(wanted)}
        return frames.index_select(0, torch.tensor([row[i] for i in idx.tolist()]))

    def __getitem__(self, key: int | slice | Sequence[int]) -> torch.Tensor:
        if isinstance(key, slice):
            return self.get_batch(range(*key.indices(len(self))))
        if isinstance(key, (int, np.integer)):
            return self.get_batch([int(key)])[0]
        return self.get_batch(key)

    def get_frame_timestamp(self, indices: int | Sequence[int]) -> np.ndarray:
        """``[start, end]`` seconds of each frame from the stream's start (float32 ``[N, 2]``, or
        ``[2]`` for an int), as decord."""
        idx = self._validate(indices)
        if self._pts is None:
            fps = self._avg_fps or 1.0
            start = idx / fps
            end = (idx + 1) / fps
        else:
            tb = float(self.time_base)
            pts = np.asarray(self._pts, dtype=np.float64)
            nxt = np.array(
                [
                    self._pts[i + 1] if i + 1 < len(pts) else pts[i] + self._durations[pts[i]]
                    for i in idx
                ]
            )
            # decord measures from the stream's start time (an edit list's shift is not counted)
            origin = self._stream.start_time if self._stream.start_time is not None else pts[0]
            start, end = (pts[idx] - origin) * tb, (nxt - origin) * tb
        ts = np.stack([start, end], axis=1).astype(np.float32)
        return ts[0] if np.ndim(indices) == 0 else ts

    def get_key_indices(self) -> list[int]:
        """Indices of the keyframes decoding can start from."""
        return list(self._keys)

    @property
    def frame_pts(self) -> list[int] | None:
        """Frame ``i``'s presentation timestamp (Note [frame index]); None when the stream has
        no usable timestamps and frames are counted. The NVDEC reader numbers frames by it."""
        return None if self._pts is None else list(self._pts)

    @property
    def stream_index(self) -> int:
        """Index of the decoded video stream in the container."""
        return self._stream.index

    def get_batch_resized(
        self,
        indices: Sequence[int],
        size: tuple[int, int],
        *,
        out_dtype: torch.dtype = torch.float32,
        layout: str = "TCHW",
        crop: str | tuple[int, int] = "center",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``resize_crop_normalize(get_batch(indices), size, ...)``, each distinct frame once
        (the same call as ``NvdecVideoReader.get_batch_resized``)."""
        from pyvidfast.transform import resize_crop_normalize

        idx = self._validate(indices).tolist()
        distinct = sorted(set(idx))
        options = dict(crop=crop, out_dtype=out_dtype, layout=layout, generator=generator)
        out = resize_crop_normalize(self.get_batch(distinct), size, **options)
        if distinct == idx:
            return out
        rows = torch.tensor([distinct.index(i) for i in idx])
        return out.index_select(0 if layout == "TCHW" else 1, rows)

    # ---- metadata, reported not applied ---------------------------------------------------------

    @property
    def rotation(self) -> int:
        """Display rotation in degrees from the stream's display matrix (0 when none).

        Like decord (and the CogVideoX reference) frames are returned as stored, unrotated.
        """
        if self._rotation is None:
            self.get_batch([0])  # the display matrix travels with decoded frames
        return self._rotation or 0

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)`` of the frames ``get_batch`` returns."""
        return (self.height, self.width, 3)

    def close(self) -> None:
        if self._container is not None:
            self._gen = None
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (
            f"VideoReader({self.path!r}, frames={len(self)}, size={self.width}x{self.height}, "
            f"fps={self._avg_fps:.3f}, codec={self.codec})"
        )

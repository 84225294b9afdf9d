"""``VideoReader``: decord-compatible random access to video frames, built on FFmpeg through PyAV.

The same constructor (``uri, ctx, width, height, num_threads, fault_tol``), indexing and methods
as ``decord.VideoReader`` 0.6.0, returning uint8 torch tensors. Frames come out as decord gives
them: turned upright by the container's display rotation (``rotation``; see
``pyvidfast.io.orientation``) and then resized to ``width`` x ``height`` when those are given.
The decoding engine and how the frame index is kept exact are in ``pyvidfast.io.decoder``.

Differences from decord 0.6.0, on purpose: ``len()`` is settled on open and never promises a
frame past a truncation (decord counts container entries and can loop forever on them); a frame
that does not decode raises ``FrameIndexError`` instead of being replaced by a copy of an earlier
one, so ``fault_tol`` (decord's limit on such copies) is accepted and never reached; non-square
pixels are reported (``sample_aspect_ratio``) and, like decord, not applied; a frame whose size
differs from the stream's (a mid-stream resolution change) is scaled to the stream's size, as
decord does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast

import av
import numpy as np
import torch

from pyvidfast.io.decoder import FFmpegDecoder
from pyvidfast.io.errors import FrameIndexError, VideoDecodeError, ffmpeg_text
from pyvidfast.io.indices import FrameIndices, frame_indices
from pyvidfast.io.source import Source

__all__ = ["Source", "VideoReader"]

# Frame indices as the readers take them (io/indices.py checks them).
Indices = Sequence[int] | np.ndarray | torch.Tensor


class _DecordContext(Protocol):
    """``decord.cpu(0)`` / ``decord.gpu(k)``."""

    device_type: int
    device_id: int


def _device_of(
    ctx: _DecordContext | str | torch.device | None, device: str | torch.device | None
) -> torch.device:
    """decord's ``ctx`` (``decord.cpu(0)``/``gpu(k)`` or anything torch.device takes) or
    pyvidfast's ``device``; giving both is an error unless they agree."""
    chosen = []
    for value in (ctx, device):
        if value is None:
            continue
        kind = getattr(value, "device_type", None)  # a decord.Context: 1 = CPU, 2 = GPU
        if isinstance(kind, int):
            value = "cpu" if kind == 1 else f"cuda:{int(getattr(value, 'device_id', 0))}"
        # anything else torch.device takes or rejects (TypeError) as it is
        chosen.append(torch.device(cast("str | torch.device", value)))
    if len(chosen) == 2 and chosen[0] != chosen[1]:
        raise ValueError(f"ctx={ctx!r} and device={device!r} disagree; give one of them")
    return chosen[0] if chosen else torch.device("cpu")


def _size_arg(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int (-1: unchanged), got {name}={value!r}")
    return int(value)


class VideoReader(FFmpegDecoder):
    """Random access to the frames of one video stream, as RGB uint8 torch tensors.

    Args:
        uri: a path, the file's bytes, or a binary file object (read from its current position;
            it must be seekable).
        ctx: decord's device: ``decord.cpu(0)``, ``decord.gpu(0)``, or a device string.
        width, height: output size after rotation, as decord (each side < 1 keeps the stream's;
            bilinear scaling).
        num_threads: decoder threads; 0 lets FFmpeg choose (as decord's default).
        fault_tol: decord's limit on frames replaced by copies; accepted for compatibility (an
            int or float), never reached: a frame that does not decode raises instead.
        device: pyvidfast's name for ``ctx``; "cpu" only: ``pyvidfast.io.open_video(source,
            device="cuda")`` gives the NVDEC reader (``pyvidfast.io.nvdec.NvdecVideoReader``, the
            same interface).

    ``len()`` is the frame count settled on open (see ``pyvidfast.io.decoder``, Note [frame
    index]); ``num_decodable`` drops below it only for a file found, while reading, to hold
    packets that do not decode. Like decord, it counts the packets an MP4 edit list discards,
    and the indices past the last picture (``padded_from`` on) give that picture (Note [padded
    count] in ``pyvidfast.io.indices``). ``rotation`` is the clockwise turn applied (0, 90, 180,
    270).

    Raises:
        VideoOpenError: the container cannot be opened (missing, empty, unknown format).
        NoVideoStreamError: there is no video stream.
        VideoDecodeError: the stream has no decodable frame.
    """

    def __init__(
        self,
        uri: Source,
        ctx: _DecordContext | str | torch.device | None = None,
        width: int = -1,
        height: int = -1,
        num_threads: int = 0,
        fault_tol: int | float = -1,
        *,
        device: str | torch.device | None = None,
    ) -> None:
        target = _device_of(ctx, device)
        if target.type != "cpu":
            # One class per backend, one entry that picks it (as torchcodec's VideoDecoder).
            raise ValueError(
                f"VideoReader decodes on the CPU; for device={str(target)!r} use "
                "pyvidfast.io.open_video(source, device=...) (NVDEC for 'cuda')"
            )
        if isinstance(fault_tol, bool) or not isinstance(fault_tol, (int, float)):
            raise TypeError(f"fault_tol must be an int or float, got fault_tol={fault_tol!r}")
        self.fault_tol = fault_tol
        size = (_size_arg("width", width), _size_arg("height", height))
        super().__init__(uri, num_threads=num_threads, size=size)

    # ---- decord-compatible API ------------------------------------------------------------------

    def __len__(self) -> int:
        return self.num_frames

    @property
    def padded_from(self) -> int | None:
        """First index that repeats the last picture, on a file whose count includes discarded
        packets as decord's does (Note [padded count] in pyvidfast/io/indices.py); else None."""
        return self.num_pictures if self.num_decodable > self.num_pictures else None

    @property
    def width(self) -> int:
        """Width of the frames returned (after rotation and resizing)."""
        return self.frame_shape[1]

    @property
    def height(self) -> int:
        """Height of the frames returned (after rotation and resizing)."""
        return self.frame_shape[0]

    def get_avg_fps(self) -> float:
        """Average frame rate of the stream (0.0 when the container gives none)."""
        return self._avg_fps

    def get_frames(self, request: FrameIndices) -> torch.Tensor:
        """The distinct frames of a planned request (``pyvidfast.io.indices.frame_indices``), as
        uint8 ``[len(request.distinct), H, W, 3]``; ``request.expand`` gives the asked order.

        For pipelines that transform frames before expanding repeats (each decoded once)."""
        wanted = request.distinct
        if not wanted:
            return torch.empty((0, *self.frame_shape), dtype=torch.uint8)
        if wanted[-1] >= self.num_pictures:  # a padded index is planned as the last picture
            raise FrameIndexError(
                self.path,
                f"frame {wanted[-1]} does not decode: only {self.num_pictures} frames decode",
            )
        try:
            return self._decode(wanted)
        except (av.error.FFmpegError, OSError) as exc:  # e.g. a conversion FFmpeg refuses
            self._gen = None
            raise VideoDecodeError(self.path, f"decoding failed: {ffmpeg_text(exc)}") from exc

    def get_batch(self, indices: Indices) -> torch.Tensor:
        """Frames ``indices`` (any order, repeats allowed) as uint8 ``[N, H, W, 3]`` RGB."""
        request = frame_indices(indices, len(self), self.path, self.padded_from)
        return request.expand(self.get_frames(request))

    def __getitem__(self, key: int | slice | Sequence[int]) -> torch.Tensor:
        if isinstance(key, slice):
            return self.get_batch(range(*key.indices(len(self))))
        if isinstance(key, (int, np.integer)):
            return self.get_batch([int(key)])[0]
        return self.get_batch(key)

    def get_frame_timestamp(self, indices: int | Sequence[int]) -> np.ndarray:
        """``[start, end]`` seconds of each frame from the stream's start (float32 ``[N, 2]``, or
        ``[2]`` for an int), as decord: on a file with a padded count, of every packet, the
        discarded ones first (Note [padded count] in io/indices.py)."""
        request = frame_indices(indices, self.num_decodable, self.path)
        idx = np.asarray(request.distinct, dtype=np.int64)
        if self.index.pts is None:
            fps = self._avg_fps or 1.0
            start, end = idx / fps, (idx + 1) / fps
        else:
            tb = float(self.time_base)
            padded = self.padded_from is not None
            pts = np.sort(
                np.asarray(
                    self.index.pts + self.index.discarded if padded else self.index.pts, float
                )
            )
            last = pts[-1] + self.index.durations[int(pts[-1])]
            nxt = np.append(pts[1:], last)[idx]
            # decord measures from the stream's start time (an edit list's shift is not counted)
            origin = self._stream.start_time if self._stream.start_time is not None else pts[0]
            start, end = (pts[idx] - origin) * tb, (nxt - origin) * tb
        ts = request.expand(torch.from_numpy(np.stack([start, end], axis=1))).numpy()
        ts = ts.astype(np.float32)
        return ts[0] if request.scalar else ts

    def get_key_indices(self) -> list[int]:
        """Indices of the keyframes decoding can start from."""
        return list(self.index.keys)

    def get_batch_resized(
        self,
        indices: Indices,
        size: tuple[int, int],
        *,
        out_dtype: torch.dtype = torch.float32,
        layout: str = "TCHW",
        crop: str | tuple[int, int] = "center",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``resize_crop_normalize(get_batch(indices), size, ...)`` with each distinct frame
        decoded and resized once (the same call as ``NvdecVideoReader.get_batch_resized``)."""
        from pyvidfast.transform import resize_crop_normalize  # io sits below transform

        request = frame_indices(indices, len(self), self.path, self.padded_from)
        frames = self.get_frames(request)
        out = resize_crop_normalize(
            frames, size, crop=crop, out_dtype=out_dtype, layout=layout, generator=generator
        )
        return request.expand(out, 0 if layout == "TCHW" else 1)

    @property
    def frame_pts(self) -> list[int] | None:
        """Picture ``i``'s presentation timestamp (Note [frame index]; ``num_pictures`` of them,
        Note [padded count]); None when the stream has no usable timestamps and frames are
        counted. The NVDEC reader numbers frames by it."""
        return None if self.index.pts is None else list(self.index.pts)

    @property
    def stream_index(self) -> int:
        """Index of the decoded video stream in the container."""
        return self._stream.index

    def __repr__(self) -> str:
        return (
            f"VideoReader({self.path!r}, frames={len(self)}, size={self.width}x{self.height}, "
            f"rotation={self.rotation}, fps={self._avg_fps:.3f}, codec={self.codec})"
        )

"""Display rotation as decord 0.6.0 applies it: which rotation, and turning frames upright.

decord (``VideoReader::GetRotation`` in its ``video_reader.cc``, on the FFmpeg 4.1 it bundles)
reads the stream's ``rotate`` tag, or when that is missing, empty, ``"0"`` or not a number, minus
the angle of the stream's display matrix (``av_display_rotation_get``); it takes that modulo 360,
truncates it to an int and turns the frames clockwise through a filter graph only when it is
exactly 90, 180 or 270 (``transpose=1``, ``transpose=1,transpose=1``, ``transpose=2``). Any other
angle is treated as 0, and a mirroring matrix is not mirrored, only rotated by its angle (a
horizontal flip reads as 180 degrees). For 90 and 270 the frame's height and width swap.

FFmpeg 4.1 exports a display matrix only for MP4/MOV (the ``tkhd`` matrix times the ``mvhd``
one, with a ``rotate`` tag printed from it with ``%g``); newer FFmpeg (the one PyAV bundles) no
longer sets the tag and PyAV does not expose the stream's matrix, so ``decord_rotation`` reads
the matrix from the file's ``moov`` itself. That keeps the rotation known at open time, before
any frame is decoded, and ignores the per-frame matrices decoders attach (H.264 display
orientation SEI), which decord ignores too.

``tests/test_decord_parity.py`` runs decord on rotated files to check all of this.
"""

from __future__ import annotations

import io
import math
import os
import re
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, overload

import numpy as np

from pyvidfast.io.bitstream.boxes import children, read_moov

if TYPE_CHECKING:
    import av.stream
    import numpy.typing as npt
    import torch

__all__ = [
    "decord_rotation",
    "display_matrix_rotation",
    "rotate_frames",
    "rotated_shape",
    "unrotated_view",
]

_ROTATIONS = (0, 90, 180, 270)
_Scalar = TypeVar("_Scalar", bound=np.generic)
_IDENTITY: tuple[int, ...] = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)
_FLOAT_PREFIX = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def display_matrix_rotation(matrix: tuple[int, ...]) -> float:
    """FFmpeg's ``av_display_rotation_get``: the counter-clockwise angle in degrees of a 3x3
    16.16 fixed-point display matrix (row-major), or NaN for a degenerate one."""

    def fixed(v: int) -> float:
        return v / 65536.0

    scale0 = math.hypot(fixed(matrix[0]), fixed(matrix[3]))
    scale1 = math.hypot(fixed(matrix[1]), fixed(matrix[4]))
    if scale0 == 0.0 or scale1 == 0.0:
        return math.nan
    return -math.degrees(math.atan2(fixed(matrix[1]) / scale1, fixed(matrix[0]) / scale0))


def _atof(text: str) -> float:
    """C's ``atof``: the number at the start of ``text``, 0.0 when there is none."""
    m = _FLOAT_PREFIX.match(text)
    return float(m.group(0)) if m else 0.0


def decord_rotation(
    stream: av.stream.Stream, source: str | os.PathLike[str] | BinaryIO | None = None
) -> int:
    """Clockwise rotation (0, 90, 180 or 270) decord 0.6.0 applies to ``stream``'s frames.

    ``stream`` is a PyAV video stream. The display matrix is read from ``source`` (a path or a
    seekable binary file, left at its position), by default the file the stream's container was
    opened from; a source that cannot be read counts as having no matrix.
    """
    tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)
    theta = _atof(tag) if tag and tag != "0" else 0.0
    if theta == 0.0:
        matrix = _mp4_display_matrix(stream, source)
        if matrix is not None:
            theta = _ffmpeg41_rotate_tag(matrix)
    if math.isnan(theta) or math.isinf(theta):
        return 0
    theta = math.fmod(theta, 360.0)
    if theta < 0:
        theta += 360.0
    rotation = int(theta)  # decord: static_cast<int>(GetRotation())
    return rotation if rotation in _ROTATIONS else 0


def _ffmpeg41_rotate_tag(matrix: tuple[int, ...]) -> float:
    """The angle decord sees from FFmpeg 4.1's mov demuxer: its ``rotate`` tag, printed with
    ``%g`` from minus the matrix angle (+360 when negative), or minus the angle itself when the
    matrix is degenerate (no tag; NaN then)."""
    angle = -display_matrix_rotation(matrix)
    if math.isnan(angle):
        return angle
    if angle < 0:
        angle += 360.0
    return _atof(f"{angle:g}")


def _mp4_display_matrix(
    stream: av.stream.Stream, source: str | os.PathLike[str] | BinaryIO | None
) -> tuple[int, ...] | None:
    """The combined tkhd x mvhd matrix of ``stream``'s track, as FFmpeg 4.1 computes it; None
    when the file is not ISO-BMFF, the matrix is the identity, or anything cannot be read."""
    if source is None:
        container = stream.container
        pyio = getattr(container, "file", None)  # PyAV's wrapper of a file object source
        source = getattr(pyio, "file", None) or container.name
    if not isinstance(source, (str, os.PathLike)):
        f = source
        pos = f.tell()
        try:
            return _matrix_from(f, stream.index)
        finally:
            f.seek(pos)
    if not os.path.isfile(source):
        return None
    with open(source, "rb") as f:
        return _matrix_from(f, stream.index)


def _matrix_from(f: BinaryIO, track: int) -> tuple[int, ...] | None:
    try:
        moov = read_moov(f, cut_ok=True)
        if moov is None:
            return None
        return _track_matrix(memoryview(moov), track)
    except (OSError, ValueError, io.UnsupportedOperation):  # unreadable: as having no matrix
        return None


def _matrix_at(buf: memoryview, at: int) -> tuple[int, ...]:
    values = np.frombuffer(bytes(buf[at : at + 36]), dtype=">i4")
    if values.size != 9:
        raise ValueError("truncated matrix")
    return tuple(int(v) for v in values)


def _track_matrix(moov: memoryview, track: int) -> tuple[int, ...] | None:
    """tkhd matrix of the ``track``-th trak (FFmpeg makes one stream per trak, in order) times
    the mvhd matrix, with FFmpeg 4.1's fixed-point arithmetic (``mov_read_tkhd``)."""
    movie = _IDENTITY
    traks = []
    for kind, a, b in children(moov, 0, len(moov), strict=False):
        if kind == b"mvhd":
            movie = _matrix_at(moov, a + (40 if moov[a] == 1 else 28) + 8)
        elif kind == b"trak":
            traks.append((a, b))
    if track >= len(traks):
        return None
    tkhd = next((t for t in children(moov, *traks[track], strict=False) if t[0] == b"tkhd"), None)
    if tkhd is None:
        return None
    a = tkhd[1]
    m = _matrix_at(moov, a + (52 if moov[a] == 1 else 40))
    shifts = (16, 16, 30)
    res = [0] * 9
    for i in range(3):
        for j in range(3):
            total = sum((m[i * 3 + e] * movie[e * 3 + j]) >> shifts[e] for e in range(3))
            res[i * 3 + j] = (total + 2**31) % 2**32 - 2**31  # stored as int32
    return None if tuple(res) == _IDENTITY else tuple(res)


def rotated_shape(height: int, width: int, rotation: int) -> tuple[int, int]:
    """``(height, width)`` of a ``height x width`` frame turned clockwise by ``rotation``."""
    return (width, height) if rotation in (90, 270) else (height, width)


def unrotated_view(frames: npt.NDArray[_Scalar], rotation: int) -> npt.NDArray[_Scalar]:
    """A writable view of upright ``frames`` (``[..., H, W, C]``) in stored orientation: what is
    written into it lands in ``frames`` turned clockwise by ``rotation`` (no copy)."""
    _check_rotation(rotation)
    return np.rot90(frames, k=rotation // 90, axes=(-3, -2))


@overload
def rotate_frames(frames: torch.Tensor, rotation: int) -> torch.Tensor: ...


@overload
def rotate_frames(frames: npt.NDArray[_Scalar], rotation: int) -> npt.NDArray[_Scalar]: ...


def rotate_frames(
    frames: torch.Tensor | npt.NDArray[Any], rotation: int
) -> torch.Tensor | npt.NDArray[Any]:
    """``frames`` (``[T, H, W, C]``, uint8 or any dtype) turned clockwise by ``rotation``
    (0, 90, 180 or 270), as decord turns them; one contiguous copy, none for 0."""
    _check_rotation(rotation)
    if rotation == 0:
        return frames
    k = -(rotation // 90)  # rot90 turns counter-clockwise for positive k
    if isinstance(frames, np.ndarray):
        return np.ascontiguousarray(np.rot90(frames, k=k, axes=(-3, -2)))
    import torch  # here, so that metadata-only users of this module do not pay for torch

    return torch.rot90(frames, k=k, dims=(-3, -2)).contiguous()


def _check_rotation(rotation: int) -> None:
    if rotation not in _ROTATIONS:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got rotation={rotation!r}")

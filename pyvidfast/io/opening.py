"""``open_file`` and ``open_stream``: the one place a reader opens a file.

Note [one open]
    A reader opens a path once, as one binary file that FFmpeg reads through (PyAV passes the
    path's name, so the format is guessed as for the path) and that the moov and TS-tail
    readers seek in and restore; a rescan or a reposition reopens the container on that file,
    and a forked child opens its own (a shared descriptor shares its offset). The NVDEC reader
    takes its packets from the same container (io/nvdec/packets.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, BinaryIO, cast

import av

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

from pyvidfast.io.errors import NoVideoStreamError, VideoDecodeError, VideoOpenError, ffmpeg_text

__all__ = ["open_file", "open_stream"]


def open_file(path: str | os.PathLike[str], name: str) -> BinaryIO:
    """``path`` opened for reading; ``VideoOpenError`` naming ``name`` when it cannot be."""
    try:
        return open(path, "rb")  # noqa: SIM115 (the reader owns it until close())
    except FileNotFoundError:
        raise VideoOpenError(name, "no such file") from None
    except OSError as exc:
        raise VideoOpenError(name, f"cannot open: {exc.strerror or exc}") from None


def open_stream(
    src: str | os.PathLike[str] | BinaryIO, path: str, threads: int | None, x264_build: int | None
) -> tuple[InputContainer, VideoStream]:
    """``(container, stream)`` of ``src`` (a path or a seekable file at its start). ``threads``:
    FFmpeg's thread count with frame and slice threads, or None for one thread (Note [frame
    index]: a file that needed a rescan decodes the same frames on every machine only so);
    ``x264_build``: the encoder version for the H.264 decoder (Note [x264 build], io/bitstream/nal.py)."""
    if isinstance(src, (str, os.PathLike)) and not os.path.exists(src):
        raise VideoOpenError(path, "no such file")
    try:
        container = av.open(src, mode="r", metadata_errors="ignore")
    except Exception as exc:  # FFmpeg errors, OSError, and PyAV's own ValueErrors
        raise VideoOpenError(path, f"cannot open: {ffmpeg_text(exc)}") from exc
    try:
        best = container.streams.best("video")
        stream = cast("VideoStream | None", best)  # a video stream; PyAV's stub says Stream
    except Exception:  # PyAV/FFmpeg refusing to rank the streams: treated as none found
        stream = None
    ctx = None if stream is None else stream.codec_context
    # no stream, or a codec tag FFmpeg has no decoder for (tests/test_fuzz.py)
    if stream is None or ctx is None:
        container.close()
        if stream is None:
            raise NoVideoStreamError(path, "no video stream")
        raise VideoDecodeError(path, "no decoder for the video stream")
    if threads is None:
        ctx.thread_type, ctx.thread_count = "SLICE", 1
    else:
        ctx.thread_type, ctx.thread_count = "AUTO", threads
    if x264_build is not None:
        ctx.options = {"x264_build": str(x264_build)}
    return container, stream

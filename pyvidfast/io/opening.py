"""``open_stream``: an FFmpeg container and its best video stream, set up for decoding.

The one place a reader opens a file (``FFmpegDecoder`` reopens through it for each rescan,
reposition to the start and fork); its errors name the file and FFmpeg's own words.
"""

from __future__ import annotations

import os

import av

from pyvidfast.io.errors import NoVideoStreamError, VideoDecodeError, VideoOpenError, ffmpeg_text

__all__ = ["open_stream"]


def open_stream(src, path: str, threads: int | None, x264_build: int | None) -> tuple:
    """``(container, stream)`` of ``src`` (a path or a seekable file at its start). ``threads``:
    FFmpeg's thread count with frame and slice threads, or None for one thread (Note [frame
    index]: a file that needed a rescan decodes the same frames on every machine only so);
    ``x264_build``: the encoder version for the H.264 decoder (Note [x264 build], io/nal.py)."""
    if isinstance(src, (str, os.PathLike)) and not os.path.exists(src):
        raise VideoOpenError(path, "no such file")
    try:
        container = av.open(src, mode="r", metadata_errors="ignore")
    except Exception as exc:  # FFmpeg errors, OSError, and PyAV's own ValueErrors
        raise VideoOpenError(path, f"cannot open: {ffmpeg_text(exc)}") from exc
    try:
        stream = container.streams.best("video")
    except Exception:  # PyAV/FFmpeg refusing to rank the streams: treated as none found
        stream = None
    ctx = None if stream is None else stream.codec_context
    if ctx is None:  # no stream, or a codec tag FFmpeg has no decoder for (tests/test_fuzz.py)
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

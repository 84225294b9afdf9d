"""Typed errors for reading videos. Every one names the file (``path``) and says why (``reason``).

They subclass ``VideoReadError`` so a data loader can catch one type; ``FrameIndexError`` is also an
``IndexError`` (what decord users catch for out-of-range indices) and ``VideoTooShortError`` a
``ValueError``.
"""

from __future__ import annotations


class VideoReadError(RuntimeError):
    """A video could not be read. ``path`` names the file, ``reason`` says why."""

    def __init__(self, path: object, reason: str | None = None):
        if reason is None:
            # One argument: a whole message. torch's DataLoader re-raises a worker's exception as
            # ``type(exc)(message)``; accepting it keeps the error typed in the main process.
            self.path, self.reason = "", str(path)
            super().__init__(self.reason)
            return
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[VideoReadError], tuple[str, str]]:
        # Errors cross process boundaries (DataLoader workers): rebuild from (path, reason).
        return (type(self), (self.path, self.reason))


class VideoOpenError(VideoReadError):
    """The container could not be opened (missing, empty, not a video, broken header)."""


class NoVideoStreamError(VideoReadError):
    """The container opened but holds no video stream."""


class VideoDecodeError(VideoReadError):
    """No frame (or not the wanted frames) could be decoded from the stream."""


class FrameIndexError(VideoReadError, IndexError):
    """A frame index is outside the frames that actually decode."""


class VideoTooShortError(VideoReadError, ValueError):
    """The clip has too few frames (or no usable frame rate) for the requested sampling."""


def ffmpeg_text(exc: BaseException) -> str:
    """One line for ``exc``: FFmpeg's own words for an FFmpeg error, not ``[Errno 1094995529]``.

    PyAV's ``FFmpegError`` (an ``OSError``) carries ``av_strerror``'s text in ``strerror`` and the
    file in ``filename``; its ``str()`` leads with the negative AVERROR code as an errno.
    """
    strerror = getattr(exc, "strerror", None)
    if not strerror:
        return str(exc).split("\n")[0].strip()
    filename = getattr(exc, "filename", None)
    return f"{strerror}: {filename}" if filename else strerror


class RemoteNotFoundError(VideoOpenError):
    """A remote object is gone (HTTP 404, S3 NoSuchKey): ``path`` is the URL."""


class RemoteIOError(VideoReadError):
    """A remote read kept failing (5xx, resets, timeouts, short bodies) after every retry, or
    failed in a way retrying cannot fix (403). Says nothing about the file's contents."""

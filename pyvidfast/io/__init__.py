"""File -> probe/demux -> decode: metadata (``probe``, ``mp4``), the CPU ``VideoReader`` (FFmpeg
through PyAV), NVDEC decoding (the ``nvdec`` package), one entry for both
(``video.open_video(source, device=...)``) and the typed errors (``errors``).

Names are imported on first use: metadata workers (``probe``) should not pay for torch.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what ``__getattr__`` imports on first use, for type checkers
    from pyvidfast.io.errors import (  # noqa: F401
        FrameIndexError,
        NoVideoStreamError,
        VideoDecodeError,
        VideoOpenError,
        VideoReadError,
        VideoTooShortError,
    )
    from pyvidfast.io.reader import VideoReader  # noqa: F401
    from pyvidfast.io.video import Video, open_video  # noqa: F401

_EXPORTS = {
    "VideoReader": "pyvidfast.io.reader",
    "FrameIndexError": "pyvidfast.io.errors",
    "NoVideoStreamError": "pyvidfast.io.errors",
    "VideoDecodeError": "pyvidfast.io.errors",
    "VideoOpenError": "pyvidfast.io.errors",
    "VideoReadError": "pyvidfast.io.errors",
    "VideoTooShortError": "pyvidfast.io.errors",
    "Video": "pyvidfast.io.video",
    "open_video": "pyvidfast.io.video",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pyvidfast.io' has no attribute {name!r}")

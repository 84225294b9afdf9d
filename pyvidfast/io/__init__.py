"""File -> probe/demux -> decode: metadata (``probe``, ``mp4``), the CPU ``VideoReader`` (FFmpeg
through PyAV), NVDEC decoding (the ``nvdec`` package), one entry for both
(``video.open_video(source, device=...)``) and the typed errors (``errors``).

Names are imported on first use: metadata workers (``probe``) should not pay for torch.
"""

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


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pyvidfast.io' has no attribute {name!r}")

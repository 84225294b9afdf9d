"""pyvidfast: fast video data preparation and loading for text-to-video training."""

from pyvidfast._extension import has_cuda, has_native

__version__ = "0.1.0"

__all__ = ["VideoReader", "__version__", "has_cuda", "has_native"]


def __getattr__(name: str) -> type:
    # Imported on first use so that `import pyvidfast` (and the CLI's --help) stays light.
    if name == "VideoReader":
        from pyvidfast.io.reader import VideoReader

        return VideoReader
    raise AttributeError(f"module 'pyvidfast' has no attribute {name!r}")

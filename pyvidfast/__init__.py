"""pyvidfast: fast video data preparation and loading for text-to-video training."""

from pyvidfast._extension import has_cuda, has_native

__version__ = "0.1.0"

__all__ = ["__version__", "has_cuda", "has_native"]

"""Drop-ins for Open-Sora's dataset tools: datautil, filter_large_videos,
ffmpeg_filter_without_errors (same flags, columns and file names), and their functions.

Submodules load on first use, so ``python -m pyvidfast.opensora.datautil`` does not import itself
twice. ``filter_large_videos`` the function shares its module's name: import it as
``from pyvidfast.opensora.filter_large_videos import filter_large_videos``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "INFO_COLUMNS": "info",
    "add_info": "info",
    "compute_info": "info",
    "summarize": "info",
    "video_info": "info",
    "remove_empty_caption": "datautil",
    "filter_without_errors": "ffmpeg_filter_without_errors",
    "add_file_size": "filter_large_videos",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pyvidfast.opensora' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pyvidfast.opensora.{_EXPORTS[name]}"), name)

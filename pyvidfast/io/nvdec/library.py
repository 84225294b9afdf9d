"""Loading PyNvVideoCodec: the driver libraries it needs, the one error when it cannot be used.

``import PyNvVideoCodec`` fails without the driver's ``libnvidia-encode.so.1`` (even for
decoding), and decoding needs ``libnvcuvid.so.1``. Both are dlopen()ed first, so
``NvdecUnavailableError`` names the missing library (and the container setting that usually
hides it) instead of PyNvVideoCodec's long troubleshooting text. The import happens on first use
only: ``import pyvidfast`` never touches the GPU stack.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = [
    "DRIVER_LIBRARIES",
    "NvdecUnavailableError",
    "missing_driver_libraries",
    "no_cuda_device",
    "nvdec_available",
    "nvdec_module",
    "require_nvdec",
]

log = logging.getLogger("pyvidfast.io.nvdec")

# The driver libraries PyNvVideoCodec needs (NVIDIA's container toolkit mounts them only with
# NVIDIA_DRIVER_CAPABILITIES including "video").
DRIVER_LIBRARIES = ("libnvcuvid.so.1", "libnvidia-encode.so.1")


class NvdecUnavailableError(RuntimeError):
    """NVDEC cannot be used here: a driver library or PyNvVideoCodec is missing, or no GPU."""


def missing_driver_libraries(loader: Callable[[str], Any] = ctypes.CDLL) -> list[str]:
    """The entries of ``DRIVER_LIBRARIES`` that cannot be loaded (``loader`` as ``ctypes.CDLL``)."""
    missing = []
    for name in DRIVER_LIBRARIES:
        try:
            loader(name)
        except OSError:
            missing.append(name)
    return missing


def unavailable_message(missing: Sequence[str], import_error: BaseException | None = None) -> str:
    """The one error text: which library is missing and what usually fixes it."""
    if missing:
        return (
            f"NVDEC decoding needs the NVIDIA driver's {' and '.join(missing)}, which cannot be "
            "loaded here (PyNvVideoCodec imports libnvidia-encode.so.1 even to decode; decoding "
            "uses libnvcuvid.so.1). In a container, start it with "
            "NVIDIA_DRIVER_CAPABILITIES=compute,utility,video; on a host, install the full "
            "driver (check with `ldconfig -p | grep -E 'nvcuvid|nvidia-encode'`). "
            "Use device='cpu' to decode with FFmpeg instead."
        )
    if isinstance(import_error, ModuleNotFoundError):
        return (
            "NVDEC decoding needs PyNvVideoCodec, which is not installed: "
            "pip install 'pyvidfast[gpu]' (or pynvvideocodec>=2.0). Use device='cpu' to decode "
            "with FFmpeg instead."
        )
    first = str(import_error).strip().splitlines()[0] if import_error else "unknown error"
    return (
        f"PyNvVideoCodec is installed but failed to import: {first}. The driver may be too old "
        "for it (it needs NVENC API 12.1 or newer, driver >= 530) or the wheel does not match "
        "this Python. Use device='cpu' to decode with FFmpeg instead."
    )


_nvc: Any = None
_nvc_error: NvdecUnavailableError | None = None
_nvc_lock = threading.Lock()


def nvdec_module(
    *, loader: Callable[[str], Any] = ctypes.CDLL, importer: Callable[[], Any] | None = None
) -> Any:
    """``PyNvVideoCodec``, imported on first call; else ``NvdecUnavailableError`` (also cached).

    ``loader`` and ``importer`` exist for tests (a call with either is not cached).
    """
    global _nvc, _nvc_error
    testing = importer is not None or loader is not ctypes.CDLL
    with _nvc_lock:
        if not testing:
            if _nvc is not None:
                return _nvc
            if _nvc_error is not None:
                raise _nvc_error
        error: NvdecUnavailableError | None = None
        module = None
        missing = missing_driver_libraries(loader)
        if missing:
            error = NvdecUnavailableError(unavailable_message(missing))
        else:
            try:
                if importer is None:
                    import PyNvVideoCodec

                    module = PyNvVideoCodec
                else:
                    module = importer()
            except Exception as exc:  # ImportError, or its RuntimeError on an old driver
                error = NvdecUnavailableError(unavailable_message([], exc))
                error.__cause__ = exc
        if testing:
            if error is not None:
                raise error
            return module
        _nvc, _nvc_error = module, error
        if error is not None:
            raise error
        return module


def no_cuda_device() -> str | None:
    """Why torch has no CUDA device here, as one line; None when it has one."""
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"no CUDA device: torch {torch.__version__} is a CPU build"
    return (
        f"no CUDA device: torch {torch.__version__} is built for CUDA {torch.version.cuda} but "
        "sees no GPU (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides the GPUs)"
    )


def require_nvdec() -> Any:
    """The check every ``device="cuda"`` entry point makes first (``check --device cuda``,
    ``open_video``, the datasets): a CUDA device, then PyNvVideoCodec and its driver libraries.
    Returns ``PyNvVideoCodec``; else ``NvdecUnavailableError`` whose message is one plain line,
    the cause nearest the user first (a CPU build of torch before a missing ``libnvcuvid``)."""
    problem = no_cuda_device()
    if problem is not None:
        raise NvdecUnavailableError(problem)
    return nvdec_module()


def nvdec_available() -> bool:
    """True when PyNvVideoCodec imports and torch sees a CUDA device."""
    if not torch.cuda.is_available():
        return False
    try:
        nvdec_module()
    except NvdecUnavailableError:
        return False
    return True

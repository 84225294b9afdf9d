"""Loads the native module ``pyvidfast._C`` once.

An import failure is recorded, not raised: pure-Python features keep working, and the first call
that needs native code raises one error listing the likely causes, chained to the original.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_C: ModuleType | None = None  # untyped: pybind11 writes no stubs
_IMPORT_ERROR: BaseException | None = None

try:
    _C = importlib.import_module("pyvidfast._C")
except ImportError as exc:  # recorded; see native()
    _IMPORT_ERROR = exc


class NativeUnavailableError(RuntimeError):
    """The compiled extension pyvidfast._C could not be loaded."""


class CudaUnavailableError(RuntimeError):
    """CUDA was asked for but is not usable (not built, or no GPU / torch without CUDA)."""


def has_native() -> bool:
    """True when the compiled extension loaded."""
    return _C is not None


def has_cuda() -> bool:
    """True when the extension was built with CUDA kernels and torch sees a CUDA device."""
    if _C is None or not _C.has_cuda():
        return False
    import torch

    return torch.cuda.is_available()


def native() -> ModuleType:
    """Return the extension module or raise one error that names the likely causes."""
    if _C is None:
        raise NativeUnavailableError(
            "pyvidfast's native extension (pyvidfast._C) could not be imported. Likely causes: "
            "the package was not built (run `pip install .` from the source tree rather than "
            "importing it in place), the build was for another Python version, or a shared "
            f"library it needs is missing. Original error: {_IMPORT_ERROR!r}"
        ) from _IMPORT_ERROR
    return _C


def require_cuda() -> ModuleType:
    """Return the extension module when its CUDA kernels can run, else raise why not."""
    mod = native()
    if not mod.has_cuda():
        raise CudaUnavailableError(
            "CUDA support was not built: this pyvidfast was compiled without nvcc. Rebuild with "
            "PYVIDFAST_CUDA=ON (nvcc on PATH or at /usr/local/cuda) to get the GPU kernels."
        )
    import torch

    if not torch.cuda.is_available():
        raise CudaUnavailableError(
            "pyvidfast was built with CUDA but torch sees no CUDA device "
            f"(torch {torch.__version__}, torch.version.cuda={torch.version.cuda})."
        )
    return mod

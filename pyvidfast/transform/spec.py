"""Arguments every resize entry point shares, each checked in one place: the output spec
(``out_dtype`` and ``layout``: the transform ops, the YUV ops and the CogVideoX datasets call
``check_output_spec``) and the YUV colour settings (``matrix``, ``full_range``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = [
    "LAYOUTS",
    "MATRICES",
    "OUT_DTYPE_NAMES",
    "check_full_range",
    "check_matrix",
    "check_output_spec",
]

# torch dtype -> the name the native module takes.
OUT_DTYPE_NAMES = {
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
    torch.uint8: "uint8",
}
LAYOUTS = ("TCHW", "CTHW")
# YUV matrices and the codes the native module takes.
MATRIX_CODES = {"bt601": 0, "bt709": 1, "bt2020": 2}
MATRICES = tuple(MATRIX_CODES)
_BY_NAME = {name: dtype for dtype, name in OUT_DTYPE_NAMES.items()}


def check_output_spec(
    out_dtype: Any, layout: Any, *, allow_uint8: bool = True, allow_names: bool = False
) -> torch.dtype:
    """The torch dtype for ``out_dtype``, after checking it and ``layout`` ("TCHW" or "CTHW").

    ``allow_names=True`` also takes a dtype's name ("bfloat16"; the datasets' keyword options),
    ``allow_uint8=False`` rejects torch.uint8 (the datasets return normalised floats only).
    Raises TypeError / ValueError naming the value.
    """
    if isinstance(out_dtype, str) and allow_names:
        out_dtype = _BY_NAME.get(out_dtype, out_dtype)
    ok = out_dtype in OUT_DTYPE_NAMES and (allow_uint8 or out_dtype != torch.uint8)
    if not ok:
        allowed = [d for d in OUT_DTYPE_NAMES if allow_uint8 or d != torch.uint8]
        if isinstance(out_dtype, str) and allow_names:
            names = [OUT_DTYPE_NAMES[d] for d in allowed]
            raise ValueError(f"out_dtype must be one of {names}, got {out_dtype!r}")
        if not isinstance(out_dtype, torch.dtype):
            raise TypeError(f"out_dtype must be a torch.dtype, got out_dtype={out_dtype!r}")
        listed = ", ".join(f"torch.{OUT_DTYPE_NAMES[d]}" for d in allowed)
        raise ValueError(f"out_dtype must be {listed}, got out_dtype={out_dtype}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'TCHW' or 'CTHW', got layout={layout!r}")
    dtype: torch.dtype = out_dtype  # a key of OUT_DTYPE_NAMES
    return dtype


def check_matrix(v: Any, name: str = "matrix") -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, got {name}={v!r}")
    if v not in MATRIX_CODES:
        raise ValueError(f"{name} must be one of {MATRICES}, got {name}={v!r}")
    return v


def check_full_range(v: Any, name: str = "full_range") -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {name}={v!r}")
    return bool(v)

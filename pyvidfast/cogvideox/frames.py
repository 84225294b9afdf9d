"""The datasets' output options (``out_dtype``, ``layout``)."""

from __future__ import annotations

import torch

_DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
_LAYOUTS = ("TCHW", "CTHW")


def check_options(out_dtype: torch.dtype | str, layout: str) -> torch.dtype:
    """Validate the extra keyword options the datasets take; returns the torch dtype."""
    if isinstance(out_dtype, str):
        if out_dtype not in _DTYPES:
            raise ValueError(f"out_dtype must be one of {sorted(_DTYPES)}, got {out_dtype!r}")
        out_dtype = _DTYPES[out_dtype]
    if out_dtype not in _DTYPES.values():
        raise ValueError(
            f"out_dtype must be torch.float32, torch.bfloat16 or torch.float16, got {out_dtype}"
        )
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'TCHW' or 'CTHW', got layout={layout!r}")
    return out_dtype

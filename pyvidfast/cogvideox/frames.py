"""The datasets' output options (``out_dtype``, ``layout``)."""

from __future__ import annotations

import torch

from pyvidfast.transform import check_output_spec


def check_options(out_dtype: torch.dtype | str, layout: str) -> torch.dtype:
    """Validate the extra keyword options the datasets take; returns the torch dtype."""
    return check_output_spec(out_dtype, layout, allow_uint8=False, allow_names=True)

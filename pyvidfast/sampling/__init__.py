"""Frame-index rules: which frames a dataset takes from a clip (pure functions, no I/O)."""

from pyvidfast.sampling.cogvideox import (
    SamplingError,
    pad_indices,
    sft_indices,
    video_dataset_indices,
)

__all__ = ["SamplingError", "pad_indices", "sft_indices", "video_dataset_indices"]

"""Frame-index rules: which frames a dataset takes from a clip (pure functions, no I/O)."""

from pyvidfast.sampling.cogvideox import (
    SamplingError,
    check_video_dataset_duration,
    pad_indices,
    sft_indices,
    video_dataset_indices,
    video_dataset_min_duration,
    video_dataset_range,
)

__all__ = [
    "SamplingError",
    "check_video_dataset_duration",
    "pad_indices",
    "sft_indices",
    "video_dataset_indices",
    "video_dataset_min_duration",
    "video_dataset_range",
]

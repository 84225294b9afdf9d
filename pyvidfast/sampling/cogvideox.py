"""Which frames CogVideoX's datasets take: pure functions of the clip's numbers, no I/O.

Both functions return the frame index of every output frame *after* the reference's
``pad_last_frame`` (exactly ``max_num_frames`` / ``num_frames`` entries, repeats allowed), so a
reader decodes each distinct frame once and the dataset gathers. They reproduce CogVideoX SAT
``data_video.py`` (``SFTDataset.__getitem__``, ``load_video``) wherever the reference returns a
sample; see "Note [reference crashes]" for the inputs on which it does not.

Note [reference crashes]
    Where the reference fails or skips the sample: (1) SFTDataset long branch, fps ``A < f``:
    resample to ``f`` by nearest earlier frame, ``start + floor(k * A / f)``; (2) long-branch
    indices past the last frame: keep the first ``M``, pad with the last frame; (3) nothing left
    after skipping, fps <= 0 or no frames: raise ``SamplingError``; (4) float ``skip_frms_num``:
    ``randint(ceil(S), b)``; (5) VideoDataset indices past the end: pad. Details: docs/notes.md.
"""

from __future__ import annotations

import math
import random

import numpy as np

__all__ = [
    "SamplingError",
    "check_video_dataset_duration",
    "pad_indices",
    "sft_indices",
    "video_dataset_indices",
    "video_dataset_min_duration",
    "video_dataset_range",
]


class SamplingError(ValueError):
    """The clip cannot give a sample under these settings (the reason says why)."""


def pad_indices(indices: list[int], num_frames: int) -> list[int]:
    """The reference's ``pad_last_frame`` on indices: keep the first ``num_frames``, else repeat
    the last until there are ``num_frames``."""
    if not indices:
        raise SamplingError("no frame selected")
    out = list(indices[:num_frames])
    return out + [out[-1]] * (num_frames - len(out))


def _check(frame_count: int, avg_fps: float, fps: float, max_num_frames: int) -> None:
    if frame_count <= 0:
        raise SamplingError(f"the clip has no frames (frame_count={frame_count})")
    if not (avg_fps > 0 and math.isfinite(avg_fps)):
        raise SamplingError(f"the clip has no usable frame rate (avg_fps={avg_fps})")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got fps={fps}")
    if max_num_frames < 1:
        raise ValueError(f"max_num_frames must be >= 1, got max_num_frames={max_num_frames}")


def sft_indices(
    frame_count: int,
    avg_fps: float,
    fps: float,
    max_num_frames: int,
    skip_frms_num: float = 3,
) -> tuple[list[int], int]:
    """SFTDataset's frames: ``(indices, num_frames)``.

    ``indices`` has ``max_num_frames`` entries (after last-frame padding); ``num_frames`` is the
    value the reference returns in the sample (``max_num_frames``, or the ``4k+1`` count of a short
    clip). ``frame_count`` is ``len(VideoReader)``, ``avg_fps`` its ``get_avg_fps()``.
    """
    n_total, a, f, m = int(frame_count), float(avg_fps), fps, int(max_num_frames)
    _check(n_total, a, f, m)
    start = int(skip_frms_num)
    if n_total / a * f > m:  # long: M frames at (about) f fps from `start`
        end = int(start + m / f * a)
        step = (end - start) // m
        if step > 0:
            idx = list(range(start, end, step))[:m]
        else:  # Note [reference crashes] 1
            idx = [start + math.floor(k * a / f) for k in range(m)]
        idx = [min(i, n_total - 1) for i in idx]  # Note [reference crashes] 2
        num = m
    elif n_total > m:  # medium: M frames spread over the clip, step >= 1
        end = int(n_total - skip_frms_num)
        idx = list(range(start, end, max((end - start) // m, 1)))
        if not idx:
            raise SamplingError(
                f"{n_total} frames leave none after skipping {skip_frms_num} at each end"
            )
        num = m
    else:  # short: the largest 4k+1 <= the frames left after skipping
        end = int(n_total - skip_frms_num)
        n = end - start
        num = n - 3 if n % 4 == 0 else n - n % 4 + 1
        if num <= 0:
            raise SamplingError(
                f"{n_total} frames leave {max(n, 0)} after skipping {skip_frms_num} at each end; "
                "at least 1 is needed"
            )
        idx = list(range(start, start + num))
    return pad_indices(idx, m), num


def video_dataset_min_duration(
    num_frames: int, fps: float, skip_frms_num: float, actual_fps: float
) -> float:
    """The shortest clip (seconds) VideoDataset samples from: ``N / F + 2 * S / Fa``, the
    reference's ``required_duration``; shorter samples are skipped."""
    return num_frames / fps + 2 * skip_frms_num / actual_fps


def _check_video_dataset_args(actual_fps: float, num_frames: int, fps: float) -> None:
    if not (actual_fps > 0 and math.isfinite(actual_fps)):
        raise SamplingError(f"unusable fps {actual_fps!r}")
    if not fps > 0 or num_frames < 1:
        raise ValueError(
            f"fps and num_frames must be positive, got fps={fps}, num_frames={num_frames}"
        )


def check_video_dataset_duration(
    duration: float, actual_fps: float, num_frames: int, fps: float, skip_frms_num: float = 0.0
) -> None:
    """Raise ``SamplingError`` when the clip is shorter than ``video_dataset_min_duration``."""
    fa = float(actual_fps)
    _check_video_dataset_args(fa, int(num_frames), fps)
    need = video_dataset_min_duration(int(num_frames), fps, skip_frms_num, fa)
    if not float(duration) >= need:
        raise SamplingError(
            f"duration {float(duration):.3f}s is shorter than the {need:.3f}s needed"
        )


def video_dataset_range(
    duration: float,
    actual_fps: float,
    frame_count: int,
    num_frames: int,
    fps: float,
    skip_frms_num: float = 0.0,
) -> tuple[int, int, float]:
    """``(low, high, span)``: VideoDataset draws its start frame in ``[low, high]`` and takes
    ``span`` source frames from there. Raises ``SamplingError`` where the reference skips the
    sample (too short for ``num_frames`` at ``fps`` after skipping), before any decoding."""
    d, fa, n, s = float(duration), float(actual_fps), int(num_frames), skip_frms_num
    check_video_dataset_duration(d, fa, n, fps, s)
    if frame_count <= 0:
        raise SamplingError("the clip has no frames")
    length = min(int(d * fa) - 1, int(frame_count))
    span = n / fps * fa
    max_seek = int(length - s - span)
    low = math.ceil(s)  # Note [reference crashes] 4
    if max_seek + 1 < low:
        raise SamplingError(
            f"{length} usable frames are too few for {n} frames at {fps} fps skipping {s}"
        )
    if int(low + span) <= low:
        raise SamplingError(f"{n} frames at {fps} fps span less than one frame at {fa} fps")
    return low, max_seek + 1, span


def video_dataset_indices(
    duration: float,
    actual_fps: float,
    frame_count: int,
    num_frames: int,
    fps: float,
    skip_frms_num: float = 0.0,
    rng: random.Random | None = None,
) -> list[int]:
    """VideoDataset's frames (``num_frames`` entries after padding) for one sample.

    ``duration`` and ``actual_fps`` come from the shard (``.duration``, ``.fps`` or the meta
    file), ``frame_count`` is ``len(VideoReader)``. The start frame is drawn with ``rng``
    (default: the ``random`` module's global generator, as the reference). Raises
    ``SamplingError`` where the reference skips the sample.
    """
    n = int(num_frames)
    low, high, span = video_dataset_range(duration, actual_fps, frame_count, n, fps, skip_frms_num)
    start = (rng or random).randint(low, high)
    end = int(start + span)
    idx = np.arange(start, end, (end - start) / n).astype(int).tolist()
    idx = [min(i, int(frame_count) - 1) for i in idx]  # Note [reference crashes] 5
    return pad_indices(idx, n)

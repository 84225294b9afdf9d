"""Frame-index rules against a literal transcription of CogVideoX SAT data_video.py."""

from __future__ import annotations

import itertools
import math
import random
import warnings

import numpy as np
import pytest
import torch

from pyvidfast.sampling import (
    SamplingError,
    check_video_dataset_duration,
    pad_indices,
    sft_indices,
    video_dataset_indices,
    video_dataset_min_duration,
    video_dataset_range,
)


def _pad_last_frame(tensor, num_frames):
    # data_video.pad_last_frame, verbatim
    if len(tensor) < num_frames:
        pad_length = num_frames - len(tensor)
        last_frame = tensor[-1]
        pad_tensor = last_frame.unsqueeze(0).expand(pad_length, *tensor.shape[1:])
        return torch.cat([tensor, pad_tensor], dim=0)
    return tensor[:num_frames]


def reference_sft(ori_vlen, actual_fps, fps, max_num_frames, skip_frms_num):
    """SFTDataset.__getitem__ with decord replaced by a tensor whose frame i holds i."""
    video = torch.arange(ori_vlen).reshape(-1, 1)

    def get_batch(idx):
        idx = np.asarray(idx)
        if idx.size and (idx.min() < 0 or idx.max() >= ori_vlen):
            raise IndexError("decord: out of range")
        return video[torch.from_numpy(idx.astype(np.int64))]

    if ori_vlen / actual_fps * fps > max_num_frames:
        num_frames = max_num_frames
        start = int(skip_frms_num)
        end = int(start + num_frames / fps * actual_fps)
        end_safty = min(int(start + num_frames / fps * actual_fps), int(ori_vlen))
        indices = np.arange(start, end, (end - start) // num_frames).astype(int)
        temp_frms = get_batch(np.arange(start, end_safty))
        tensor_frms = temp_frms[torch.tensor((indices - start).tolist())]
    elif ori_vlen > max_num_frames:
        num_frames = max_num_frames
        start = int(skip_frms_num)
        end = int(ori_vlen - skip_frms_num)
        indices = np.arange(start, end, max((end - start) // num_frames, 1)).astype(int)
        temp_frms = get_batch(np.arange(start, end))
        tensor_frms = temp_frms[torch.tensor((indices - start).tolist())]
    else:

        def nearest_smaller_4k_plus_1(n):
            remainder = n % 4
            if remainder == 0:
                return n - 3
            return n - remainder + 1

        start = int(skip_frms_num)
        end = int(ori_vlen - skip_frms_num)
        num_frames = nearest_smaller_4k_plus_1(end - start)
        end = int(start + num_frames)
        tensor_frms = get_batch(np.arange(start, end))
    tensor_frms = _pad_last_frame(tensor_frms, max_num_frames)
    return tensor_frms.reshape(-1).tolist(), num_frames


FPS_VALUES = [5, 8, 10, 12.5, 15, 23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 120]


@pytest.mark.parametrize("fps,max_num_frames", [(8, 49), (8, 13), (12, 25), (16, 49)])
@pytest.mark.parametrize("skip", [3, 0, 2.5, 3.0])
def test_sft_matches_reference_wherever_it_returns(fps, max_num_frames, skip):
    compared = fixed = 0
    for length, avg_fps in itertools.product(range(1, 460, 3), FPS_VALUES):
        try:
            expected = reference_sft(length, avg_fps, fps, max_num_frames, skip)
        except (IndexError, ValueError, ZeroDivisionError, RuntimeError):
            expected = None
        try:
            got = sft_indices(length, avg_fps, fps, max_num_frames, skip)
        except SamplingError:
            assert expected is None, (length, avg_fps)
            continue
        if expected is not None:
            assert got == expected, (length, avg_fps)
            compared += 1
        else:  # Note [reference crashes] 1 and 2: a full, in-range, non-decreasing selection
            idx, num = got
            assert len(idx) == max_num_frames and num == max_num_frames
            assert all(0 <= i < length for i in idx) and idx == sorted(idx)
            fixed += 1
    assert compared > 500


def test_spec_worked_cases():
    def case(length, avg_fps):
        return sft_indices(length, avg_fps, 8, 49, 3)

    idx, num = case(300, 24)
    assert idx == list(range(3, 148, 3)) and num == 49
    idx, num = case(300, 30)  # 61 candidate indices, the first 49 kept
    assert idx == list(range(3, 148, 3)) and num == 49
    idx, num = case(600, 60)
    assert idx == list(range(3, 340, 7)) and num == 49
    idx, num = case(150, 30)  # medium
    assert idx == list(range(3, 100, 2)) and num == 49
    idx, num = case(48, 24)  # short: 4k+1 = 41, then frame 43 repeated
    assert idx == list(range(3, 44)) + [43] * 8 and num == 41


def test_low_fps_long_clip_resamples_instead_of_crashing():
    # 5 fps source, 8 fps wanted: the reference's step is 0 (np.arange raises).
    with pytest.raises(ZeroDivisionError):
        reference_sft(100, 5, 8, 49, 3)
    idx, num = sft_indices(100, 5, 8, 49, 3)
    assert num == 49
    assert idx == [3 + math.floor(k * 5 / 8) for k in range(49)]
    # each source frame shown 8/5 times on average: 49 outputs cover 31 source frames
    assert len(set(idx)) == 31


def test_indices_past_the_end_become_the_last_frame():
    # A == f: 49 indices 3..51 but only 50 frames (the reference indexes frame 50 and 51).
    with pytest.raises(IndexError):
        reference_sft(50, 8, 8, 49, 3)
    idx, num = sft_indices(50, 8, 8, 49, 3)
    assert idx == list(range(3, 50)) + [49, 49] and num == 49


@pytest.mark.parametrize(
    "length,avg_fps", [(6, 24), (5, 24), (1, 24), (0, 24), (40, 0.0), (40, float("nan"))]
)
def test_unusable_clips_raise_sampling_error(length, avg_fps):
    with pytest.raises(SamplingError):
        sft_indices(length, avg_fps, 8, 49, 3)


def test_pad_indices():
    assert pad_indices([1, 2], 4) == [1, 2, 2, 2]
    assert pad_indices([1, 2, 3, 4, 5], 3) == [1, 2, 3]
    with pytest.raises(SamplingError):
        pad_indices([], 3)


def reference_load_video_indices(duration, actual_fps, vlen, num_frames, wanted_fps, skip, rng):
    """data_video.load_video's index arithmetic (decord replaced by a frame-number tensor)."""
    video = torch.arange(vlen).reshape(-1, 1)
    ori_vlen = min(int(duration * actual_fps) - 1, vlen)
    max_seek = int(ori_vlen - skip - num_frames / wanted_fps * actual_fps)
    start = rng.randint(skip, max_seek + 1)
    end = int(start + num_frames / wanted_fps * actual_fps)
    indices = np.arange(start, end, (end - start) / num_frames).astype(int)
    if end > vlen:
        raise IndexError("decord: out of range")
    temp_frms = video[torch.arange(start, end)]
    tensor_frms = temp_frms[torch.tensor((indices - start).tolist())]
    return _pad_last_frame(tensor_frms, num_frames).reshape(-1).tolist()


@pytest.mark.parametrize("skip", [0, 3])
def test_video_dataset_matches_reference(skip):
    compared = 0
    for (vlen, actual_fps), (num_frames, fps) in itertools.product(
        itertools.product([20, 49, 80, 150, 301], [8, 10, 24, 25, 29.97, 30, 60]),
        [(49, 8), (16, 8), (13, 4)],
    ):
        duration = vlen / actual_fps
        if duration < num_frames / fps + 2 * skip / actual_fps:
            with pytest.raises(SamplingError):
                video_dataset_indices(duration, actual_fps, vlen, num_frames, fps, skip)
            continue
        for seed in range(5):
            try:
                expected = reference_load_video_indices(
                    duration, actual_fps, vlen, num_frames, fps, skip, random.Random(seed)
                )
            except (ValueError, IndexError):
                expected = None
            try:
                got = video_dataset_indices(
                    duration, actual_fps, vlen, num_frames, fps, skip, random.Random(seed)
                )
            except SamplingError:
                assert expected is None
                continue
            assert len(got) == num_frames and max(got) < vlen
            if expected is not None:
                assert got == expected
                compared += 1
    assert compared > 50


def test_video_dataset_float_skip_works():
    # random.randint(3.5, ...) raises in the reference (ValueError on 3.11, TypeError on 3.12).
    with pytest.raises((ValueError, TypeError)), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        random.Random(0).randint(3.5, 10)
    got = video_dataset_indices(10.0, 30, 300, 49, 8, 3.5, random.Random(0))
    assert len(got) == 49 and got[0] >= 4


def test_video_dataset_uses_global_random_by_default():
    random.seed(1234)
    a = video_dataset_indices(10.0, 30, 300, 16, 8, 0)
    random.seed(1234)
    b = video_dataset_indices(10.0, 30, 300, 16, 8, 0)
    assert a == b


@pytest.mark.parametrize("num_frames, fps", [(49, 8), (16, 8), (13, 4)])
@pytest.mark.parametrize("skip", [0, 3, 2.5])
@pytest.mark.parametrize("actual_fps", [8, 24, 29.97, 60])
def test_video_dataset_duration_rule(num_frames, fps, skip, actual_fps):
    """One rule for VideoDataset, the shard writer and the index function: the reference's
    ``required_duration = num_frames / fps + 2 * skip_frms_num / actual_fps``, skipped below."""
    need = video_dataset_min_duration(num_frames, fps, skip, actual_fps)
    assert need == num_frames / fps + 2 * skip / actual_fps
    check_video_dataset_duration(need, actual_fps, num_frames, fps, skip)
    for short in (need * (1 - 1e-9), need / 2, 0.0, float("nan")):
        with pytest.raises(SamplingError, match="shorter than"):
            check_video_dataset_duration(short, actual_fps, num_frames, fps, skip)
        with pytest.raises(SamplingError):
            video_dataset_range(short, actual_fps, 10_000, num_frames, fps, skip)


def test_video_dataset_range_bounds_every_start():
    low, high, span = video_dataset_range(10.0, 30, 300, 16, 8, 3)
    assert (low, span) == (3, 60.0) and high == int(299 - 3 - 60) + 1
    for seed in range(20):
        idx = video_dataset_indices(10.0, 30, 300, 16, 8, 3, random.Random(seed))
        assert low <= idx[0] <= high

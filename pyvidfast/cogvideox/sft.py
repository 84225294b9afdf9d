"""``SFTDataset``: CogVideoX SAT's folder dataset (``.mp4`` files + ``.txt`` captions), faster.

Same constructor, index, captions, frame choice (``pyvidfast.sampling.sft_indices``) and sample
dict as ``data_video.SFTDataset``; decoding goes through ``pyvidfast.VideoReader`` (only the chosen
frames are converted to RGB) and the resize through ``pyvidfast.transform``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from pyvidfast.cogvideox.frames import check_options, sample_tensor
from pyvidfast.io.errors import FrameIndexError, VideoTooShortError
from pyvidfast.io.reader import VideoReader
from pyvidfast.sampling import SamplingError, sft_indices

__all__ = ["SFTDataset", "caption_path_for", "read_caption", "scan_sft_folder"]

log = logging.getLogger("pyvidfast.cogvideox")
_reported: set[str] = set()


def _report_geometry(reader: VideoReader, path: str) -> None:
    """Rotation and non-square pixels are left as stored, as the reference does; say so once."""
    sar = reader.sample_aspect_ratio
    if (reader.rotation or (sar and sar != 1)) and path not in _reported:
        _reported.add(path)
        log.warning(
            "%s: display rotation %d degrees, sample aspect ratio %s: frames are used as stored "
            "(not rotated or stretched), as in CogVideoX's SFTDataset",
            path,
            reader.rotation,
            sar,
        )


def caption_path_for(video_path: str) -> str:
    """The reference's caption path: every ``.mp4`` -> ``.txt``, then every ``videos`` ->
    ``labels`` (anywhere in the path, as ``str.replace`` does)."""
    return video_path.replace(".mp4", ".txt").replace("videos", "labels")


def read_caption(caption_path: str) -> str:
    """First line of the caption file, not stripped; ``""`` when the file is missing or empty
    (the reference raises IndexError on an empty file)."""
    if not os.path.exists(caption_path):
        return ""
    try:
        with open(caption_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{caption_path}: caption is not UTF-8 ({exc})") from None
    return lines[0] if lines else ""


def scan_sft_folder(data_dir: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``(video_paths, captions)`` in the reference's order: ``os.walk``, names ending ``.mp4``."""
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"SFTDataset data_dir {data_dir!r} is not a directory")
    paths, captions, unlabelled = [], [], []
    for root, _dirs, files in os.walk(data_dir):
        for name in files:
            if name.endswith(".mp4"):
                path = os.path.join(root, name)
                paths.append(path)
                captions.append(read_caption(caption_path_for(path)))
                if not os.path.exists(caption_path_for(path)):
                    unlabelled.append(path)
    if unlabelled:
        log.warning(
            "%d of %d videos in %s have no caption file and train with an empty caption, as in "
            "CogVideoX's SFTDataset; e.g. %s (expected %s)",
            len(unlabelled),
            len(paths),
            data_dir,
            unlabelled[0],
            caption_path_for(unlabelled[0]),
        )
    return paths, captions


class SFTDataset(Dataset):
    """Drop-in for CogVideoX SAT ``data_video.SFTDataset``.

    Args:
        data_dir: folder searched recursively for ``*.mp4``; captions as ``caption_path_for``.
        video_size: ``[height, width]`` of the output frames.
        fps: frames per second to sample at.
        max_num_frames: frames per sample (``M``; the VAE wants ``4k + 1``).
        skip_frms_num: frames ignored at each end of the clip.
        out_dtype: torch.float32 (reference), torch.bfloat16 or torch.float16 (half the memory).
        layout: "TCHW" (reference, ``[T, C, H, W]``) or "CTHW" (what the 3D VAE takes).
        num_threads: decoder threads per item (0: FFmpeg chooses, as decord).
        device: "cpu", or a CUDA device for NVDEC decoding and the fused GPU kernel (samples
            are CUDA tensors; not yet verified on a GPU).

    Items are ``{"mp4": [M, 3, H, W] in [-1, 1], "txt": str, "num_frames": int, "fps": fps}``.
    A file that cannot give a sample raises a ``pyvidfast.io.errors.VideoReadError`` subclass
    naming it (``VideoTooShortError`` when it has too few frames).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        video_size: Sequence[int],
        fps: float,
        max_num_frames: int,
        skip_frms_num: float = 3,
        *,
        out_dtype: torch.dtype | str = torch.float32,
        layout: str = "TCHW",
        num_threads: int = 0,
        device: str | torch.device = "cpu",
    ):
        super().__init__()
        self.device = torch.device(device)
        self.video_size = (int(video_size[0]), int(video_size[1]))
        self.fps = fps
        self.max_num_frames = int(max_num_frames)
        self.skip_frms_num = skip_frms_num
        self.out_dtype = check_options(out_dtype, layout)
        self.layout = layout
        self.num_threads = num_threads
        self.video_paths, self.captions = scan_sft_folder(data_dir)

    def __len__(self) -> int:
        return len(self.video_paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.video_paths[index]
        if self.device.type == "cuda":
            # NVDEC + the fused kernel; use DataLoader(num_workers=0) or GpuBatchLoader, since
            # CUDA does not survive fork.
            from pyvidfast.cogvideox.gpu import cuda_sample, sft_rule

            rule = sft_rule(self.fps, self.max_num_frames, self.skip_frms_num)
            frames, num = cuda_sample(
                path,
                rule,
                self.video_size,
                out_dtype=self.out_dtype,
                layout=self.layout,
                device=self.device,
            )
            return {"mp4": frames, "txt": self.captions[index], "num_frames": num, "fps": self.fps}
        with VideoReader(path, num_threads=self.num_threads) as reader:
            frames, num = self._frames(reader, path)
        return {"mp4": frames, "txt": self.captions[index], "num_frames": num, "fps": self.fps}

    def _frames(self, reader: VideoReader, path: str) -> tuple[torch.Tensor, int]:
        # len(reader) comes from the container; a file that turns out to decode fewer frames
        # shrinks it while decoding, and the indices are then chosen again for the true length.
        for _ in range(2):
            length = len(reader)
            try:
                indices, num = sft_indices(
                    length, reader.get_avg_fps(), self.fps, self.max_num_frames, self.skip_frms_num
                )
            except SamplingError as exc:
                raise VideoTooShortError(path, str(exc)) from None
            try:
                frames = sample_tensor(
                    reader, indices, self.video_size, self.out_dtype, self.layout
                )
            except FrameIndexError:
                if len(reader) < length:
                    continue
                raise
            if len(reader) == length:
                _report_geometry(reader, path)
                return frames, num
        raise FrameIndexError(path, f"frame count changed while decoding (now {len(reader)})")

    @classmethod
    def create_dataset_function(cls, path: str, args: Any, **kwargs: Any) -> SFTDataset:
        """How SAT builds datasets from YAML ``data.params`` (``args`` is unused, as upstream)."""
        return cls(data_dir=path, **kwargs)

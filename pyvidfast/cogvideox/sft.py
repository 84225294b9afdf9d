"""``SFTDataset``: CogVideoX SAT's folder dataset (``.mp4`` files + ``.txt`` captions), faster.

Same constructor, index, captions, frame choice (``pyvidfast.sampling.sft_indices``) and sample
dict as ``data_video.SFTDataset``; decoding goes through ``pyvidfast.VideoReader`` (only the chosen
frames are converted to RGB, turned upright by the display rotation as decord turns them) and the
resize through ``pyvidfast.transform``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch.utils.data import Dataset

from pyvidfast.cogvideox.clips import ClipRequest, ClipRunner, ClipSpec, open_and_load, sft_rule
from pyvidfast.cogvideox.frames import check_options
from pyvidfast.io.storage import exists, find_files, is_remote, read_bytes
from pyvidfast.io.video import Video

__all__ = ["SFTDataset", "caption_path_for", "read_caption", "scan_sft_folder"]

log = logging.getLogger("pyvidfast.cogvideox")
_reported: set[str] = set()


def _report_geometry(reader: Video) -> None:
    """Non-square pixels are left as stored, as the reference (decord) does; say so once.
    Display rotation is applied, as decord applies it (``pyvidfast.io.orientation``)."""
    sar = reader.sample_aspect_ratio
    path = reader.path
    if sar and sar != 1 and path not in _reported:
        _reported.add(path)
        log.warning(
            "%s: sample aspect ratio %s: frames are used as stored (not stretched), as in "
            "CogVideoX's SFTDataset",
            path,
            sar,
        )


def caption_path_for(video_path: str) -> str:
    """The reference's caption path: every ``.mp4`` -> ``.txt``, then every ``videos`` ->
    ``labels`` (anywhere in the path, as ``str.replace`` does)."""
    return video_path.replace(".mp4", ".txt").replace("videos", "labels")


def read_caption(caption_path: str) -> str:
    """First line of the caption file, not stripped; ``""`` when the file is missing or empty
    (the reference raises IndexError on an empty file). A URL is read from its store."""
    if not exists(caption_path):
        return ""
    try:
        if is_remote(caption_path):
            lines = read_bytes(caption_path).decode("utf-8").splitlines()
        else:
            with open(caption_path, encoding="utf-8") as f:
                lines = f.read().splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{caption_path}: caption is not UTF-8 ({exc})") from None
    return lines[0] if lines else ""


def _scan_local(data_dir: str) -> tuple[list[str], list[str], list[str]]:
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
    return paths, captions, unlabelled


def _scan_remote(data_dir: str) -> tuple[list[str], list[str], list[str]]:
    """``(videos, captions, videos without a caption file)`` under a URL prefix: one listing,
    then the captions read in threads; in listing (sorted) order, as no ``os.walk`` exists."""
    listed = {url for url, _size in find_files(data_dir)}
    if not listed:
        raise FileNotFoundError(f"SFTDataset data_dir {data_dir!r} holds no objects")
    paths = sorted(u for u in listed if u.endswith(".mp4"))
    unlabelled = [p for p in paths if caption_path_for(p) not in listed]

    def caption(path: str) -> str:
        return "" if path in unlabelled else read_caption(caption_path_for(path))

    with ThreadPoolExecutor(16) as pool:
        return paths, list(pool.map(caption, paths)), unlabelled


def scan_sft_folder(data_dir: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``(video_paths, captions)`` in the reference's order: ``os.walk``, names ending ``.mp4``."""
    data_dir = os.fspath(data_dir)
    scan = _scan_remote if is_remote(data_dir) else _scan_local
    paths, captions, unlabelled = scan(data_dir)
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
        device: "cpu", or a CUDA device: NVDEC decoding and the fused YUV resize, samples on
            the GPU, files NVDEC cannot take read on the CPU (``pyvidfast.io.open_video``). Use
            ``DataLoader(dataset, batch_size=B, num_workers=0)``: each batch is decoded
            concurrently across the NVDEC engines in threads (CUDA does not survive ``fork``).
        decoder_pool: NVDEC decoders (``pyvidfast.io.nvdec.DecoderPool``; default: the GPU's).
            ``pyvidfast.io.nvdec.standin.standin_pool()`` runs the NVDEC path on the CPU.

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
        decoder_pool: Any = None,
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
        self.decoder_pool = decoder_pool
        self.video_paths, self.captions = scan_sft_folder(data_dir)
        self._runner: ClipRunner | None = None

    def __len__(self) -> int:
        return len(self.video_paths)

    @property
    def spec(self) -> ClipSpec:
        return ClipSpec(self.video_size, self.out_dtype, self.layout)

    def requests(self) -> list[ClipRequest]:
        """The items as ``ClipRequest``s (listing, captions, index rule)."""
        rule = sft_rule(self.fps, self.max_num_frames, self.skip_frms_num)
        return [ClipRequest(p, c, rule) for p, c in zip(self.video_paths, self.captions)]

    def _item(self, index: int, clip: tuple[torch.Tensor, int]) -> dict[str, Any]:
        frames, num = clip
        return {"mp4": frames, "txt": self.captions[index], "num_frames": num, "fps": self.fps}

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """The items of a batch (``DataLoader`` calls this with the batch's indices). On NVDEC
        the clips are decoded concurrently, one thread per engine; on the CPU one by one (the
        DataLoader's workers give the parallelism there)."""
        requests = self.requests()
        wanted = [requests[i] for i in indices]
        if self.device.type == "cpu" and self.decoder_pool is None:
            clips = [
                open_and_load(
                    r, self.spec, self.device, num_threads=self.num_threads, after=_report_geometry
                )
                for r in wanted
            ]
        else:
            clips = self._clip_runner().run(wanted)
            for clip in clips:
                if isinstance(clip, BaseException):
                    raise clip
        return [self._item(i, clip) for i, clip in zip(indices, clips)]

    def _clip_runner(self) -> ClipRunner:
        if self._runner is None:
            self._runner = ClipRunner(
                self.spec, self.device, pool=self.decoder_pool, after=_report_geometry
            )
        return self._runner

    @property
    def fallbacks(self) -> list[tuple[str, str]]:
        """``(file, reason)`` of the items the NVDEC path read on the CPU so far."""
        return [] if self._runner is None else list(self._runner.fallbacks)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_runner"] = None  # threads and CUDA streams stay in the process that made them
        return state

    @classmethod
    def create_dataset_function(cls, path: str, args: Any, **kwargs: Any) -> SFTDataset:
        """How SAT builds datasets from YAML ``data.params`` (``args`` is unused, as upstream)."""
        return cls(data_dir=path, **kwargs)

"""A small generated dataset for the demo and the tests: good clips and clips broken in real ways.

``make_sample_dataset(folder)`` writes clips in several codecs, containers and sizes (H.264,
HEVC, VP9, MPEG-4 part 2, AV1 when PyAV's FFmpeg has an AV1 encoder; with and without audio;
landscape and portrait), then derives broken ones the way real files break: a download cut short
(Matroska truncated mid-cluster, MP4 cut before its moov), bytes overwritten inside the
bitstream, a zero-byte file, random bytes named .mp4, a path that does not exist, and a
variable-frame-rate clip whose timestamps ffmpeg's null muxer rejects. It writes ``dataset.csv``
(``path, text``) with some captions empty or missing, and returns the table plus what each row
is expected to become (``expect``: kept, or the step that drops it).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import pandas as pd

__all__ = ["Clip", "encoder_available", "make_clip", "make_sample_dataset"]


@dataclass(frozen=True)
class Clip:
    """One generated clip: file name, codec, container, size, frames, fps, audio."""

    name: str
    codec: str
    width: int
    height: int
    frames: int = 12
    fps: int = 24
    audio: bool = False
    pts: tuple[int, ...] | None = None  # explicit pts in 1/1000 s (variable frame rate)
    noise: bool = False  # random pixels: large files


def encoder_available(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def _frame(i: int, width: int, height: int, rng: np.random.Generator | None) -> av.VideoFrame:
    if rng is not None:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        y, x = np.mgrid[0:height, 0:width]
        rgb = np.stack(
            [(x * 4 + i * 9) % 256, (y * 4 + i * 5) % 256, ((x + y) * 2 + i * 17) % 256], axis=-1
        ).astype(np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def make_clip(path: str, clip: Clip, seed: int = 0) -> str:
    """Encode ``clip`` to ``path`` (container from the extension)."""
    rng = np.random.default_rng(seed) if clip.noise else None
    with av.open(path, "w") as out:
        stream = out.add_stream(clip.codec, rate=clip.fps)
        stream.width, stream.height = clip.width, clip.height
        stream.pix_fmt = "yuv420p"
        if clip.codec in ("libx264", "libx265"):
            stream.options = {"preset": "ultrafast"}
            if clip.codec == "libx265":
                stream.options["x265-params"] = "log-level=none"
        elif clip.codec == "libvpx-vp9":
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        elif clip.codec == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner unless told not to
            stream.options = {"preset": "10"}
        if clip.pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        audio = None
        if clip.audio:
            audio = out.add_stream("aac", rate=16000, layout="mono")
        for i in range(clip.frames):
            frame = _frame(i, clip.width, clip.height, rng)
            if clip.pts is not None:
                frame.pts, frame.time_base = clip.pts[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio is not None:
            seconds = clip.frames / clip.fps
            samples = int(16000 * seconds)
            t = np.arange(samples) / 16000
            tone = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[start : start + 1024][None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, start
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return path


def _good_clips() -> list[Clip]:
    clips = [
        Clip("h264_320x240.mp4", "libx264", 320, 240, frames=24, audio=True),
        Clip("h264_portrait_144x256.mp4", "libx264", 144, 256, frames=16, fps=30),
        Clip("hevc_256x144.mp4", "libx265", 256, 144, frames=12, fps=25),
        Clip("vp9_160x120.webm", "libvpx-vp9", 160, 120, frames=12, fps=30),
        Clip("mpeg4_176x144.avi", "mpeg4", 176, 144, frames=15, fps=15),
        Clip("mpeg4_96x64.mkv", "mpeg4", 96, 64, frames=10, fps=10, audio=True),
    ]
    if encoder_available("libsvtav1"):
        clips.append(Clip("av1_128x96.mkv", "libsvtav1", 128, 96, frames=8, fps=24))
    return [c for c in clips if encoder_available(c.codec)]


def _cut(src: str, dst: str, fraction: float) -> str:
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * fraction)])
    return dst


def _scribble(src: str, dst: str, seed: int) -> str:
    """Overwrite a few runs of bytes in the second half of the file (bit rot, a bad copy)."""
    data = bytearray(open(src, "rb").read())
    rng = np.random.default_rng(seed)
    for start in rng.integers(len(data) // 2, len(data) - 64, 6):
        data[start : start + 48] = rng.integers(0, 256, 48, dtype=np.uint8).tobytes()
    with open(dst, "wb") as f:
        f.write(bytes(data))
    return dst


def make_sample_dataset(folder: str, big_mib: float = 1.2) -> pd.DataFrame:
    """Write the sample clips and ``dataset.csv`` into ``folder``; returns the table.

    Columns: ``path, text`` (as the CSV) plus ``expect`` (``kept`` or the dropping step:
    ``noempty``, ``le{N}MB`` for N below ``big_mib``, ``withouterror``) and ``what``.
    """
    os.makedirs(folder, exist_ok=True)
    rows: list[tuple[str, object, str, str]] = []

    def add(name: str, text: object, expect: str, what: str) -> None:
        rows.append((os.path.join(folder, name), text, expect, what))

    for i, clip in enumerate(_good_clips()):
        make_clip(os.path.join(folder, clip.name), clip, seed=i)
        add(clip.name, f"a test pattern, {clip.codec}, {clip.width}x{clip.height}", "kept", "good")

    # Good files with captions the empty-caption step drops.
    add("h264_320x240.mp4", "", "noempty", "good file, empty caption")
    add("vp9_160x120.webm", math.nan, "noempty", "good file, missing caption")

    big = Clip("big_noise_320x240.mp4", "libx264", 320, 240, frames=40, noise=True)
    make_clip(os.path.join(folder, big.name), big, seed=99)
    add(big.name, "random noise, a large file", "le", f"larger than {big_mib:g} MiB")

    base_mkv = os.path.join(folder, "h264_clip.mkv")
    make_clip(base_mkv, Clip("h264_clip.mkv", "libx264", 320, 240, frames=24), seed=7)
    add("h264_clip.mkv", "the clip the broken ones are cut from", "kept", "good")
    base_mp4 = os.path.join(folder, "h264_320x240.mp4")

    _cut(base_mkv, os.path.join(folder, "truncated.mkv"), 0.6)
    add("truncated.mkv", "a download cut short", "withouterror", "Matroska cut mid-cluster")
    _cut(base_mp4, os.path.join(folder, "moov_missing.mp4"), 0.7)
    add("moov_missing.mp4", "an MP4 cut before its moov", "withouterror", "MP4 without moov")
    _scribble(base_mkv, os.path.join(folder, "bitrot.mkv"), seed=3)
    add("bitrot.mkv", "bytes overwritten in the bitstream", "withouterror", "corrupt bitstream")
    open(os.path.join(folder, "zero_bytes.mp4"), "wb").close()
    add("zero_bytes.mp4", "an empty file", "withouterror", "0 bytes")
    with open(os.path.join(folder, "not_a_video.mp4"), "wb") as f:
        f.write(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    add("not_a_video.mp4", "random bytes named .mp4", "withouterror", "not a video")
    add("missing.mp4", "a row whose file is gone", "le", "missing file")

    vfr = (0, 33, 40, 45, 66, 100, 133, 166, 200, 250, 251, 252, 300, 333)
    make_clip(
        os.path.join(folder, "vfr_phone.mkv"),
        Clip("vfr_phone.mkv", "libx264", 160, 120, frames=len(vfr), fps=30, pts=vfr),
    )
    add("vfr_phone.mkv", "variable frame rate", "withouterror", "non-monotonic dts (timestamps)")

    table = pd.DataFrame(rows, columns=["path", "text", "expect", "what"])
    table["expect"] = table["expect"].replace("le", f"le{big_mib:g}MB")
    table[["path", "text"]].to_csv(os.path.join(folder, "dataset.csv"), index=False)
    return table

"""Synthetic test clips whose pixels encode their frame number (written to temp dirs).

Each frame shows its number as 12 bits, one per block of a 4 x 3 grid (white = 1, black = 0),
which survives lossy coding at any quality; ``frame_number`` reads it back from an RGB frame, so a
test can prove exactly which frames a reader or dataset returned.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

COLS, ROWS = 4, 3
BITS = COLS * ROWS


def pattern(index: int, height: int, width: int) -> np.ndarray:
    """RGB uint8 frame showing ``index`` (< 4096) as bits; a per-frame gradient in the gaps keeps
    the encoder honest (no two frames are identical images)."""
    if not 0 <= index < 1 << BITS:
        raise ValueError(f"index {index} does not fit in {BITS} bits")
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 2] = (np.arange(width)[None, :] * 3 + index * 7) % 64  # blue texture, below 64
    bh, bw = height // ROWS, width // COLS
    for bit in range(BITS):
        r, c = divmod(bit, COLS)
        if index >> bit & 1:
            img[r * bh + 1 : (r + 1) * bh - 1, c * bw + 1 : (c + 1) * bw - 1] = 255
    return img


def frame_number(frame) -> int:
    """Read the number back from an RGB frame ([H, W, 3] or [3, H, W], uint8 or in [-1, 1])."""
    x = np.asarray(frame, dtype=np.float32)
    if x.shape[0] == 3 and x.shape[-1] != 3:
        x = x.transpose(1, 2, 0)
    if x.min() < 0:  # normalised (x - 127.5) / 127.5
        x = x * 127.5 + 127.5
    gray = x[..., 0]  # red: 255 in set blocks, 0 elsewhere (the texture is blue)
    h, w = gray.shape
    bh, bw = h // ROWS, w // COLS
    value = 0
    for bit in range(BITS):
        r, c = divmod(bit, COLS)
        block = gray[
            r * bh + bh // 4 : (r + 1) * bh - bh // 4, c * bw + bw // 4 : (c + 1) * bw - bw // 4
        ]
        if block.mean() > 127:
            value |= 1 << bit
    return value


def as_fraction(fps: float | Fraction | str) -> Fraction:
    if isinstance(fps, Fraction):
        return fps
    if abs(float(fps) - 29.97) < 1e-6:
        return Fraction(30000, 1001)
    return Fraction(str(fps)).limit_denominator(1001)


def make_clip(
    path: str | Path,
    num_frames: int,
    fps: float | Fraction = 24,
    codec: str = "libx264",
    size: tuple[int, int] = (64, 48),
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio: str | None = None,
) -> Path:
    """Encode ``num_frames`` pattern frames to ``path`` (container from the suffix).

    ``size`` is (width, height). ``pts`` (in ``time_base``) makes variable-frame-rate clips;
    by default frame ``i`` has pts ``i`` in ``1/fps``. ``audio`` names an audio encoder whose
    stream is declared (in the header, an MPEG-TS program map) but gets no packets.
    """
    path = Path(path)
    rate = as_fraction(fps)
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        tb = time_base or 1 / rate  # the muxer may change stream.time_base: keep our own
        stream.time_base = tb
        stream.codec_context.time_base = tb
        if options:
            stream.options = dict(options)
        if audio is not None:
            out.add_stream(audio, rate=48000)
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, height, width), format="rgb24")
            frame = frame.reformat(format=pix_fmt)
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = tb
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path

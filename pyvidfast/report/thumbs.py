"""Contact-sheet thumbnails: the first, middle and last frame of a clip from ``VideoReader``.

Decoding runs in worker processes with a per-clip timeout (``parallel.pool``), so a file that
hangs or crashes the decoder costs its own thumbnails, not the report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Thumbs", "make_thumbs", "thumbs_of"]

THUMB_WIDTH = 160


@dataclass
class Thumbs:
    """Up to three JPEG data URIs of one clip, or why it gave none."""

    path: str
    images: list[str] = field(default_factory=list)
    error: str | None = None


def _jpeg_uri(frame) -> str:
    from PIL import Image

    image = Image.fromarray(frame.numpy())
    height = max(1, round(image.height * THUMB_WIDTH / max(image.width, 1)))
    image = image.resize((THUMB_WIDTH, min(height, 3 * THUMB_WIDTH)), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def thumbs_of(path: str) -> Thumbs:
    """Thumbnails of frames 0, n // 2 and n - 1 (fewer for short clips); never raises."""
    from pyvidfast.io.errors import VideoReadError
    from pyvidfast.io.reader import VideoReader

    try:
        with VideoReader(path, num_threads=1) as reader:
            n = len(reader)
            indices = sorted({0, n // 2, n - 1}) if n > 0 else []
            frames = reader.get_batch(indices) if indices else []
            return Thumbs(path, [_jpeg_uri(f) for f in frames])
    except VideoReadError as exc:
        return Thumbs(path, error=str(exc)[:300])


def make_thumbs(paths: Sequence[str], timeout: float = 60, workers: int | None = None) -> list:
    """``thumbs_of`` every path in worker processes; a timeout or crash is that clip's error."""
    if not paths:
        return []
    import pyvidfast.io.reader  # noqa: F401  (once here: forked workers would each import torch)
    from pyvidfast.parallel.pool import map_with_timeout

    results = map_with_timeout(
        thumbs_of,
        list(paths),
        num_workers=workers,
        timeout=timeout,
        on_timeout=lambda p: Thumbs(p, error=f"no frame within {timeout:g}s"),
        on_crash=lambda p, code: Thumbs(p, error=f"decoder crashed (exit code {code})"),
    )
    return [
        r if isinstance(r, Thumbs) else Thumbs(p, error=f"{type(r).__name__}: {r}"[:300])
        for p, r in zip(paths, results)
    ]

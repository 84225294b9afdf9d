"""Generated clips carrying display rotation, for the decord parity tests (written to temp dirs).

Rotation tags go through the ffmpeg CLI: ``-metadata:s:v:0 rotate=N`` on a stream copy, which
ffmpeg 5.1's MP4/MOV muxer turns into a ``tkhd`` matrix (when encoding, 5.1 drops the tag; its
Matroska muxer writes no rotation at all, but keeps an upper-case ``ROTATE`` tag, which decord
reads). Matrices the CLI cannot write (45 degrees, mirrors) are patched into ``tkhd`` in place.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np

FFMPEG = shutil.which("ffmpeg")
ONE = 1 << 16  # 1.0 in the matrix's 16.16 fixed point

# name -> (suffix, ffmpeg muxer flags, stream tag or None, tkhd matrix to patch in or None)
ROTATED = {
    "mp4_rot90": (".mp4", [], "rotate=90", None),
    "mp4_rot180": (".mp4", [], "rotate=180", None),
    "mp4_rot270": (".mp4", [], "rotate=270", None),
    "mp4_rot_minus90": (".mp4", [], "rotate=-90", None),
    "mov_rot90": (".mov", [], "rotate=90", None),
    "frag_mp4_rot90": (".mp4", ["-movflags", "frag_keyframe+empty_moov"], "rotate=90", None),
    "mkv_rot90": (".mkv", [], "rotate=90", None),  # dropped: Matroska gets no rotation
    "mkv_tag_rot90": (".mkv", [], "ROTATE=90", None),  # a plain tag, which decord reads
    "mkv_tag_rot450": (".mkv", [], "ROTATE=450", None),  # taken modulo 360
    "mkv_tag_rot45": (".mkv", [], "ROTATE=45", None),  # not a right angle: none
    "mp4_matrix45": (".mp4", [], None, "rot45"),
    "mp4_hflip": (".mp4", [], None, "hflip"),
    "mp4_vflip_rot90": (".mp4", [], None, "transpose"),
}


def matrix(kind: str) -> tuple[int, ...]:
    """Row-major 3x3 display matrix (16.16; the last column 2.30) for a named transform."""
    if kind == "rot45":
        c = round(math.cos(math.pi / 4) * ONE)
        return (c, c, 0, -c, c, 0, 0, 0, 1 << 30)
    if kind == "hflip":
        return (-ONE, 0, 0, 0, ONE, 0, 0, 0, 1 << 30)
    if kind == "transpose":  # a mirror about the diagonal
        return (0, ONE, 0, ONE, 0, 0, 0, 0, 1 << 30)
    raise ValueError(f"unknown matrix {kind!r}")


def _encode(path: Path, flags: list[str], tag: str | None, frames: int, size: str) -> None:
    plain = path.with_name(f"plain_{frames}_{size}.mkv")  # encoded once per folder, then copied
    if not plain.exists():
        cmd = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i"]
        cmd += [f"testsrc2=size={size}:rate=10:duration={frames / 10}"]
        cmd += ["-c:v", "libx264", "-g", "4", "-bf", "2", "-pix_fmt", "yuv420p", str(plain)]
        subprocess.run(cmd, check=True, capture_output=True)
    copy = [FFMPEG, "-v", "error", "-y", "-i", str(plain), "-c", "copy"]
    if tag is not None:
        copy += ["-metadata:s:v:0", tag]
    subprocess.run([*copy, *flags, str(path)], check=True, capture_output=True)


def patch_tkhd_matrix(path: Path, values: tuple[int, ...]) -> None:
    """Overwrite the first video track's tkhd matrix (the file is small: read it whole)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    if at < 0:
        raise ValueError(f"{path}: no tkhd box")
    body = at + 4
    offset = body + (52 if data[body] == 1 else 40)
    data[offset : offset + 36] = np.asarray(values, dtype=">i4").tobytes()
    path.write_bytes(bytes(data))


def make_rotated(folder: Path, name: str, frames: int = 12, size: str = "96x64") -> Path:
    """Write the clip ``name`` of ``ROTATED`` into ``folder``; returns its path."""
    suffix, flags, tag, patch = ROTATED[name]
    path = Path(folder) / f"{name}{suffix}"
    _encode(path, flags, tag, frames, size)
    if patch is not None:
        patch_tkhd_matrix(path, matrix(patch))
    return path

"""A corpus shaped like scraped web video, generated with the ffmpeg CLI into a folder.

Many small files over MP4/MOV, MKV/WebM, MPEG-TS/PS, AVI, FLV and 3GP; H.263, MPEG-2, MPEG-4
Part 2, VP8, VP9, AV1, HEVC 8/10-bit and H.264 (also annex-B inside MP4); 4K and 8K fragments of
a few frames; short clips with huge frames; MP4s cut short with the moov first and last, Matroska
and MPEG-TS cut mid-GOP, a TS that starts mid-GOP; an MP4 with no usable ``mdhd`` timescale and
corrupt NAL sizes from early on; edit lists, rotation, audio-only, empty and garbage files.
``benchmarks/bench_mix.py`` times ``--info`` and ``check`` on it against the references, and
tests/test_mix.py checks every row and verdict. Noise in the picture gives P/B-frames of a real
size. Broken files are cut or patched from a clean one with tests/media_broken.py's box walker.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from media_broken import find_box, sample_ranges

# name -> (file name, ffmpeg output arguments, picture size, seconds or frames, audio)
#   size "WxH"; "d" a duration in seconds or "f" a frame count; audio an encoder or None.
_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "48", "-pix_fmt", "yuv420p"]
_X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=3"]
_VP9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]
_VP9_ALTREF = ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "5", "-auto-alt-ref", "1"]
_VP8 = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]
_AV1 = ["-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1"]
_MPEG4 = ["-c:v", "mpeg4", "-q:v", "5"]

RECIPES: dict[str, tuple[str, list[str], str, tuple[str, float], str | None]] = {
    "mp4_h264_faststart": (
        "h264_faststart.mp4",
        _X264 + ["-movflags", "faststart"],
        "640x360",
        ("d", 2),
        "aac",
    ),
    "mp4_h264_moovlast": ("h264_moovlast.mp4", _X264, "640x360", ("d", 2), "aac"),
    "mov_h264": ("h264.mov", _X264, "480x270", ("d", 2), "aac"),
    "mp4_h264_720p": ("h264_720p.mp4", _X264, "1280x720", ("d", 2), None),
    "mp4_h264_vfr_odd_size": (
        "h264_odd.mp4",
        _X264 + ["-pix_fmt", "yuv444p"],
        "322x182",
        ("d", 2),
        None,
    ),
    "mp4_h264_rotated": (
        "h264_rotated.mp4",
        _X264 + ["-metadata:s:v", "rotate=90"],
        "320x240",
        ("d", 1),
        None,
    ),
    "mp4_hevc_8bit": ("hevc8.mp4", _X265 + ["-tag:v", "hvc1"], "640x360", ("d", 2), "aac"),
    "mp4_hevc_10bit": (
        "hevc10.mp4",
        _X265 + ["-pix_fmt", "yuv420p10le"],
        "640x360",
        ("d", 2),
        None,
    ),
    "mkv_hevc": ("hevc.mkv", _X265, "480x270", ("d", 2), "libopus"),
    "mkv_h264": ("h264.mkv", _X264, "640x360", ("d", 2), "libvorbis"),
    "webm_vp8": ("vp8.webm", _VP8, "640x360", ("d", 2), "libopus"),
    "webm_vp9": ("vp9.webm", _VP9, "640x360", ("d", 2), "libopus"),
    "webm_vp9_altref": ("vp9_altref.webm", _VP9_ALTREF, "320x240", ("d", 2), None),
    "mkv_vp9_10bit": (
        "vp9_10bit.mkv",
        _VP9 + ["-pix_fmt", "yuv420p10le"],
        "320x240",
        ("d", 1),
        None,
    ),
    "webm_av1": ("av1.webm", _AV1, "640x360", ("d", 1), None),
    "mp4_av1": ("av1.mp4", _AV1, "480x270", ("d", 1), None),
    "ts_h264": ("h264.ts", _X264, "640x360", ("d", 2), "mp2"),
    "ts_hevc": ("hevc.ts", _X265, "640x360", ("d", 2), None),
    "ts_mpeg2": (
        "mpeg2.ts",
        ["-c:v", "mpeg2video", "-q:v", "4", "-bf", "2"],
        "720x576",
        ("d", 2),
        "mp2",
    ),
    "mpg_mpeg2_ps": ("mpeg2.mpg", ["-c:v", "mpeg2video", "-q:v", "4"], "352x288", ("d", 2), "mp2"),
    "avi_mpeg4": ("mpeg4.avi", _MPEG4, "640x360", ("d", 2), "libmp3lame"),
    "avi_mpeg4_bframes": ("mpeg4_bf.avi", _MPEG4 + ["-bf", "2"], "320x240", ("d", 2), None),
    "avi_mjpeg": (
        "mjpeg.avi",
        ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"],
        "320x240",
        ("d", 1),
        None,
    ),
    "mp4_mpeg4": ("mpeg4.mp4", _MPEG4, "480x270", ("d", 2), "aac"),
    "flv_sorenson": (
        "sorenson.flv",
        ["-c:v", "flv", "-q:v", "5"],
        "320x240",
        ("d", 2),
        "libmp3lame",
    ),
    "flv_h264": ("h264.flv", _X264, "640x360", ("d", 2), "aac"),
    "3gp_h263": ("h263.3gp", ["-c:v", "h263", "-q:v", "5"], "176x144", ("d", 2), None),
    "3gp_mpeg4": ("mpeg4.3gp", _MPEG4, "352x288", ("d", 2), None),
    "mp4_h264_4k_fragment": ("h264_4k.mp4", _X264, "3840x2160", ("f", 4), None),
    "ts_hevc_4k_fragment": ("hevc_4k.ts", _X265, "3840x2160", ("f", 5), None),
    "mkv_h264_8k_fragment": ("h264_8k.mkv", _X264, "7680x4320", ("f", 2), None),
    "mp4_hevc_8k_fragment": ("hevc_8k.mp4", _X265, "7680x4320", ("f", 2), None),
    "ts_h264_1440p_short": ("h264_1440p.ts", _X264, "2560x1440", ("f", 9), None),
    "mp4_h264_1440p_short": ("h264_1440p.mp4", _X264, "2560x1440", ("f", 6), None),
    "webm_vp9_4k_fragment": ("vp9_4k.webm", _VP9, "3840x2160", ("f", 3), None),
    "mp4_h264_1080p_cut_source": (
        "h264_1080p.mp4",
        _X264 + ["-movflags", "faststart"],
        "1920x1080",
        ("d", 2),
        "aac",
    ),
    "mp4_audio_only": ("audio_only.mp4", ["-vn"], "320x240", ("d", 1), "aac"),
}


def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def encode(path: Path, args: list[str], size: str, length: tuple[str, float], audio: str | None):
    """One file from testsrc2 with temporal noise (and a sine tone when ``audio`` is given)."""
    kind, amount = length
    rate = 25
    seconds = amount if kind == "d" else amount / rate
    source = f"testsrc2=s={size}:r={rate}:d={seconds}"
    cmd = [_ffmpeg(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:a", audio]
        cmd += ["-ar", "48000"] if audio == "libopus" else ["-ar", "44100"]
    if "-vn" not in args:
        cmd += ["-vf", "noise=alls=10:allf=t"]
    if kind == "f":
        cmd += ["-frames:v", str(int(amount))]
    cmd += args + [str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def _cut(source: Path, path: Path, fraction: float, head: int = 0) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[head : int(len(data) * fraction)])
    return path


def _timescale_and_nal(source: Path, path: Path, bad_sample: int) -> Path:
    """``mdhd`` timescale 0 and a NAL length past its sample from ``bad_sample`` on."""
    data = bytearray(source.read_bytes())
    a, _ = find_box(data, "moov/trak/mdia/mdhd")
    at = a + (20 if data[a] == 1 else 12)
    data[at : at + 4] = b"\x00\x00\x00\x00"
    for offset, size in sample_ranges(data)[bad_sample:]:
        if size > 8:
            data[offset : offset + 4] = (size + 1000).to_bytes(4, "big")
    path.write_bytes(data)
    return path


def _no_mdhd_bad_nal(source: Path, path: Path, bad_sample: int) -> Path:
    """The ``mdhd`` box renamed ``free`` (no timescale at all), NAL sizes broken as above."""
    data = bytearray(source.read_bytes())
    a, _ = find_box(data, "moov/trak/mdia/mdhd")
    data[a - 4 : a] = b"free"
    for offset, size in sample_ranges(data)[bad_sample:]:
        if size > 8:
            data[offset : offset + 4] = (size + 1000).to_bytes(4, "big")
    path.write_bytes(data)
    return path


def annexb_copy(source: Path, path: Path) -> Path:
    """Every 4-byte NAL length replaced by a start code: annex-B H.264 inside MP4."""
    data = bytearray(source.read_bytes())
    for offset, size in sample_ranges(data):
        pos = offset
        while pos + 4 <= offset + size:
            length = int.from_bytes(data[pos : pos + 4], "big")
            data[pos : pos + 4] = b"\x00\x00\x00\x01"
            pos += 4 + length
    path.write_bytes(data)
    return path


def make_mix_corpus(folder: Path, seconds: float | None = None) -> dict[str, Path]:
    """Build every class into ``folder`` (kept when already there): ``{class name: path}``.

    ``seconds`` sets the length of every clip given by duration (1-2 s by default; the few-frame
    fragments keep their frame counts). Needs the ffmpeg CLI (Debian's 5.1 has every encoder
    used); returns {} without it.
    """
    if _ffmpeg() is None:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name, (file_name, args, size, length, audio) in RECIPES.items():
        path = folder / file_name
        if seconds is not None and length[0] == "d":
            length = ("d", seconds)
        if not path.exists():
            encode(path.with_name("tmp_" + file_name), args, size, length, audio).rename(path)
        out[name] = path
    derived = {
        "mp4_1080p_moovfirst_cut_half": lambda p: _cut(out["mp4_h264_1080p_cut_source"], p, 0.5),
        "mp4_moovfirst_cut_early": lambda p: _cut(out["mp4_h264_faststart"], p, 0.12),
        "mp4_moovlast_cut": lambda p: _cut(out["mp4_h264_moovlast"], p, 0.7),
        "mp4_hevc_cut_half": lambda p: _cut(out["mp4_hevc_8bit"], p, 0.55),
        "mkv_h264_cut_half": lambda p: _cut(out["mkv_h264"], p, 0.5),
        "webm_vp9_cut_half": lambda p: _cut(out["webm_vp9"], p, 0.5),
        "flv_sorenson_cut": lambda p: _cut(out["flv_sorenson"], p, 0.61),
        "ts_h264_cut_mid_gop": lambda p: _cut(out["ts_h264"], p, 0.63),
        "ts_h264_starts_mid_gop": lambda p: _cut(out["ts_h264"], p, 1.0, head=188 * 300),
        "ts_hevc_4k_cut": lambda p: _cut(out["ts_hevc_4k_fragment"], p, 0.6),
        "mp4_no_timescale_bad_nal": lambda p: _timescale_and_nal(out["mp4_h264_720p"], p, 8),
        "mp4_no_mdhd_bad_nal": lambda p: _no_mdhd_bad_nal(out["mp4_h264_720p"], p, 8),
        "mp4_annexb_h264": lambda p: annexb_copy(out["mp4_h264_moovlast"], p),
        "empty_file": lambda p: (p.write_bytes(b""), p)[1],
        "garbage_bytes": lambda p: (p.write_bytes(bytes(range(256)) * 64), p)[1],
    }
    suffix = {"mkv": ".mkv", "webm": ".webm", "ts_": ".ts", "flv": ".flv", "gar": ".mp4"}
    for name, build in derived.items():
        ext = next((v for k, v in suffix.items() if name.startswith(k)), ".mp4")
        path = folder / (name + ext)
        if not path.exists():
            build(path)
        out[name] = path
    return out

"""Files broken the ways real-world files are, generated into a temp dir for the parity tests.

Each builder writes one file of a class the held-out corpus showed (issue 12) and returns its
path: MP4 cut inside ``mdat`` or a few bytes short, sample tables that contradict each other, an
empty STSC, a zero ``mdhd`` timescale, annex-B H.264 inside MP4, MPEG-TS without access unit
delimiters or starting mid-GOP, AVI with B-frames, and MPEG-4 Part 2 with N-VOPs, cut mid-GOP
or without a container. Broken MP4s are derived from a clean one by patching its boxes, with a
box walker of its own (not ``pyvidfast.io.mp4``), and N-VOPs are written by a VOP writer of its
own (not ``pyvidfast.io.bitstream.mpeg4``), so the tests do not share the code they check.
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from pyvidfast.opensora.reference import reference_info

FRAMES = 48


def encode(path: Path, codec: str = "libx264", options: dict | None = None, **container) -> Path:
    """``FRAMES`` moving-noise frames at 24 fps, 96x64 (noise: P/B-frames of real size)."""
    rng = np.random.default_rng(12)
    base = rng.integers(0, 256, (64 + FRAMES, 96, 3), dtype=np.uint8)
    with av.open(str(path), "w", options=container.get("format_options")) as out:
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = dict(options or {})
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[i : i + 64]), "rgb24")
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _boxes(data: bytes | bytearray, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = bytes(data[pos + 4 : pos + 8])
        if size == 0:
            size = end - pos
        yield kind, pos + 8, pos + size
        pos += size


def find_box(data: bytes | bytearray, path: str) -> tuple[int, int]:
    """Payload (start, end) of the box at ``path`` ("moov/trak/mdia/mdhd"); first video trak."""
    start, end = 0, len(data)
    for name in path.split("/"):
        for kind, a, b in _boxes(data, start, end):
            if kind == name.encode() and (name != "trak" or b"vide" in data[a:b][:400]):
                start, end = a, b
                break
        else:
            raise KeyError(path)
    return start, end


def sample_ranges(data: bytes | bytearray) -> list[tuple[int, int]]:
    """(offset, size) of every video sample, from stsz / stsc / stco of the first video trak."""
    stbl = "moov/trak/mdia/minf/stbl/"
    a, _ = find_box(data, stbl + "stsz")
    count = int.from_bytes(data[a + 8 : a + 12], "big")
    sizes = [int.from_bytes(data[a + 12 + 4 * i : a + 16 + 4 * i], "big") for i in range(count)]
    a, _ = find_box(data, stbl + "stco")
    chunks = [
        int.from_bytes(data[a + 8 + 4 * i : a + 12 + 4 * i], "big")
        for i in range(int.from_bytes(data[a + 4 : a + 8], "big"))
    ]
    a, _ = find_box(data, stbl + "stsc")
    runs = [
        (int.from_bytes(data[p : p + 4], "big"), int.from_bytes(data[p + 4 : p + 8], "big"))
        for p in range(a + 8, a + 8 + 12 * int.from_bytes(data[a + 4 : a + 8], "big"), 12)
    ]
    out, sample = [], 0
    for index, offset in enumerate(chunks, start=1):
        per_chunk = [n for first, n in runs if first <= index][-1]
        for _ in range(per_chunk):
            out.append((offset, sizes[sample]))
            offset += sizes[sample]
            sample += 1
    return out


def _clean_mp4(folder: Path, faststart: bool = True) -> bytearray:
    name = "clean_faststart.mp4" if faststart else "clean.mp4"
    options = {"movflags": "faststart"} if faststart else None
    path = encode(folder / name, options={"bf": "2"}, format_options=options)
    return bytearray(path.read_bytes())


def truncated_mdat(folder: Path) -> Path:
    data = _clean_mp4(folder)
    path = folder / "moov_first_truncated_in_mdat.mp4"
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def samples_past_eof(folder: Path) -> Path:
    data = _clean_mp4(folder)
    path = folder / "samples_past_eof.mp4"
    path.write_bytes(data[:-200])  # the last sample (or two) runs past the end
    return path


def stsc_contradictory(folder: Path) -> Path:
    data = _clean_mp4(folder, faststart=False)
    a, _ = find_box(data, "moov/trak/mdia/minf/stbl/stsc")
    first = a + 8
    per_chunk = int.from_bytes(data[first + 4 : first + 8], "big")
    data[first + 4 : first + 8] = (per_chunk + 3).to_bytes(4, "big")  # STSC disagrees with STSZ
    path = folder / "stsc_contradicts_stco.mp4"
    path.write_bytes(data)
    return path


def stsc_empty(folder: Path) -> Path:
    data = _clean_mp4(folder, faststart=False)
    a, _ = find_box(data, "moov/trak/mdia/minf/stbl/stsc")
    data[a + 4 : a + 8] = (0).to_bytes(4, "big")
    path = folder / "stsc_empty.mp4"
    path.write_bytes(data)
    return path


def mdhd_timescale_zero(folder: Path) -> Path:
    data = _clean_mp4(folder, faststart=False)
    a, _ = find_box(data, "moov/trak/mdia/mdhd")
    at = a + (20 if data[a] == 1 else 12)
    data[at : at + 4] = (0).to_bytes(4, "big")
    path = folder / "mdhd_timescale_zero.mp4"
    path.write_bytes(data)
    return path


def annexb_in_mp4(folder: Path) -> Path:
    """Every 4-byte NAL length replaced by a 00 00 00 01 start code: same sizes, annex-B NALs."""
    data = _clean_mp4(folder, faststart=False)
    for offset, size in sample_ranges(data):
        pos, end = offset, offset + size
        while pos + 4 <= end:
            length = int.from_bytes(data[pos : pos + 4], "big")
            data[pos : pos + 4] = b"\x00\x00\x00\x01"
            pos += 4 + length
    path = folder / "annexb_h264_in.mp4"
    path.write_bytes(data)
    return path


def ts_without_aud(folder: Path) -> Path:
    """MPEG-TS whose access unit delimiters became 2-byte filler NAL units (same byte count)."""
    data = bytearray(encode(folder / "clean.ts", options={"bf": "2"}).read_bytes())
    path = folder / "ts_without_aud.ts"
    path.write_bytes(data.replace(b"\x00\x00\x00\x01\x09\xf0", b"\x00\x00\x00\x01\x0c\x80"))
    return path


def ts_starting_mid_gop(folder: Path) -> Path:
    """MPEG-TS cut at a packet boundary after the first keyframe: no SPS/PPS, no keyframe first."""
    data = encode(folder / "clean_gop.ts", options={"bf": "2", "g": "16"}).read_bytes()
    path = folder / "ts_starting_mid_gop.ts"
    cut = 188 * (len(data) // 188 // 5)
    path.write_bytes(data[cut:])
    return path


def avi_h264_bframes(folder: Path) -> Path:
    return encode(folder / "h264_bframes.avi", options={"bf": "3", "b_strategy": "2"})


def avi_mpeg4_bframes(folder: Path) -> Path:
    return encode(folder / "mpeg4_bframes.avi", codec="mpeg4", options={"bf": "2"})


def avi_xvid_packed(folder: Path) -> Path | None:
    """MPEG-4 part 2 with packed B-frames, as Xvid writes AVI (needs the ffmpeg CLI's libxvid)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    path = folder / "xvid_packed_bframes.avi"
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    command += ["-i", "testsrc=size=96x64:rate=24", "-t", "2", "-c:v", "libxvid", "-bf", "2"]
    done = subprocess.run([*command, str(path)], capture_output=True)
    return path if done.returncode == 0 else None


def _h264_gop12(folder: Path) -> bytearray:
    return bytearray(encode(folder / "h264_gop12.mp4", options={"bf": "3", "g": "12"}).read_bytes())


def _bad_nal_length(data: bytearray, sample: int, name: str, folder: Path) -> Path:
    offset, _ = sample_ranges(data)[sample]
    data[offset : offset + 4] = b"\xff\xff\xff\xff"  # a NAL length past the sample
    path = folder / name
    path.write_bytes(data)
    return path


def h264_bad_nal_mid_stream(folder: Path) -> Path:
    """An invalid NAL size in sample 29 of 48 (B-frames, GOPs of 12): FFmpeg fails there."""
    return _bad_nal_length(_h264_gop12(folder), 29, "h264_bad_nal_29.mp4", folder)


def h264_bad_nal_second_frame(folder: Path) -> Path:
    """The same in sample 1: no frame leaves the reorder buffer before the error."""
    return _bad_nal_length(_h264_gop12(folder), 1, "h264_bad_nal_1.mp4", folder)


def h264_bad_nal_without_vui(folder: Path) -> Path | None:
    """Sample 29 broken in a stream whose SPS has no VUI, hence no declared reorder depth: the
    flag's bit position comes from the ffmpeg CLI's trace_headers (needs the CLI)."""
    data = _h264_gop12(folder)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    command = [ffmpeg, "-v", "info", "-i", str(folder / "h264_gop12.mp4"), "-c", "copy"]
    command += ["-bsf:v", "trace_headers", "-frames:v", "1", "-f", "null", "-"]
    log = subprocess.run(command, capture_output=True, text=True).stderr
    bit = int(log.split("vui_parameters_present_flag")[0].split("]")[-1].split()[0])
    a, b = find_box(data, "moov/trak/mdia/minf/stbl/stsd")
    sps = data.index(b"avcC", a, b) + 4 + 8  # avcC payload: 6 bytes, SPS length, the SPS
    end = sps + int.from_bytes(data[sps - 2 : sps], "big")
    if b"\x00\x00\x03" in data[sps : sps + bit // 8 + 1]:
        return None  # emulation prevention before the flag would shift its bit position
    bits = format(int.from_bytes(data[sps:end], "big"), f"0{8 * (end - sps)}b")
    bits = bits[:bit] + "01" + "0" * (len(bits) - bit - 2)  # no VUI, then rbsp_stop_one_bit
    data[sps:end] = int(bits, 2).to_bytes(end - sps, "big")
    return _bad_nal_length(data, 29, "h264_bad_nal_29_no_vui.mp4", folder)


# MPEG-4 Part 2 whose packets are not one frame each. FFmpeg's encoder writes
# vop_time_increment_resolution = 24 at 24 fps: a 5-bit vop_time_increment.
INCREMENT_BITS = 5


def not_coded_vop(increment: int) -> bytes:
    """A P-VOP with vop_coded = 0 (an N-VOP), stuffed to a byte boundary (ISO/IEC 14496-2)."""
    bits = "01" + "0" + "1" + format(increment, f"0{INCREMENT_BITS}b") + "1" + "0"
    bits += "0" + "1" * ((7 - len(bits)) % 8)  # next_start_code() stuffing: 0 then 1s
    return b"\x00\x00\x01\xb6" + int(bits, 2).to_bytes(len(bits) // 8, "big")


def _rewrite(source: Path, path: Path, change) -> Path:
    """Remux ``source`` into ``path`` with ``change(index, data)`` applied to each packet."""
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for index, packet in enumerate(src.demux(src.streams.video[0])):
            if packet.size == 0:
                continue
            new = av.Packet(change(index, bytes(packet)))
            new.pts, new.dts, new.time_base = packet.pts, packet.dts, packet.time_base
            new.is_keyframe = packet.is_keyframe
            new.stream = stream
            out.mux(new)
    return path


def avi_mpeg4_nvops(folder: Path) -> Path:
    """Every sixth P-VOP not coded, as encoders write dropped frames: no picture for those."""
    source = encode(folder / "mpeg4_ipp.avi", codec="mpeg4", options={"g": "12"})

    def change(index: int, data: bytes) -> bytes:
        return not_coded_vop(index % 24) if index % 6 == 5 and index % 12 else data

    return _rewrite(source, folder / "mpeg4_nvops.avi", change)


def ts_mpeg4_mid_gop(folder: Path) -> Path:
    """MPEG-4 with B-frames in MPEG-TS, cut after its first I-VOP: B-VOPs before two references."""
    data = encode(folder / "mpeg4_bframes.ts", codec="mpeg4", options={"bf": "2", "g": "12"})
    data = data.read_bytes()
    path = folder / "ts_mpeg4_mid_gop.ts"
    path.write_bytes(data[188 * (len(data) // 188 // 3) :])
    return path


def m4v_elementary(folder: Path) -> Path:
    """A raw MPEG-4 elementary stream (no container timestamps) with B-frames."""
    return encode(folder / "mpeg4_bframes.m4v", codec="mpeg4", options={"bf": "2"})


BUILDERS: dict[str, Callable[[Path], Path | None]] = {
    "truncated_mdat": truncated_mdat,
    "samples_past_eof": samples_past_eof,
    "stsc_contradictory": stsc_contradictory,
    "stsc_empty": stsc_empty,
    "mdhd_timescale_zero": mdhd_timescale_zero,
    "annexb_in_mp4": annexb_in_mp4,
    "ts_without_aud": ts_without_aud,
    "ts_starting_mid_gop": ts_starting_mid_gop,
    "avi_h264_bframes": avi_h264_bframes,
    "avi_mpeg4_bframes": avi_mpeg4_bframes,
    "avi_xvid_packed": avi_xvid_packed,
    "h264_bad_nal_mid_stream": h264_bad_nal_mid_stream,
    "h264_bad_nal_second_frame": h264_bad_nal_second_frame,
    "h264_bad_nal_without_vui": h264_bad_nal_without_vui,
    "avi_mpeg4_nvops": avi_mpeg4_nvops,
    "ts_mpeg4_mid_gop": ts_mpeg4_mid_gop,
    "m4v_elementary": m4v_elementary,
}


def make_broken_corpus(folder: Path) -> dict[str, Path]:
    """Every class that can be built here: ``{class name: path}`` (xvid needs the CLI)."""
    folder.mkdir(parents=True, exist_ok=True)
    built = {name: build(folder) for name, build in BUILDERS.items()}
    return {name: path for name, path in built.items() if path is not None}


@functools.cache
def reference_row(path: str) -> tuple:
    """Open-Sora's ``--info`` row for ``path`` (reference.py, no RGB), once per test session."""
    return reference_info(path, rgb=False)


def same_values(got: tuple, want: tuple) -> bool:
    """Equal element by element, NaN equal to NaN."""
    return len(got) == len(want) and all(
        a == b
        or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        for a, b in zip(got, want)
    )

"""Can an MP4/MOV's sample tables stand in for decoding it? Cheap checks, no decoder.

Open-Sora's ``--info`` decodes the whole video and stops at the first decode error, so a file
whose header promises 48 frames but whose bytes run out after 11 gets 11 (or the failure row).
``header_problem(path)`` says why the header of the first video track cannot be trusted, or
None when every sample the tables describe exists and is well formed as far as a container
can tell. ``pyvidfast.io.probe`` then counts exactly (decodes, without RGB) only the files that
fail. Checks (each one is a class of real broken files, issue 12):

* ``mdhd`` timescale is positive (else the NAL walk still runs: Note [no timescale] in
  io/bad_nal.py);
* STSC is non-empty, starts at chunk 1, increases, and with STCO and STSZ describes exactly the
  STSZ sample count (contradictory tables make FFmpeg build a different index);
* every sample lies inside the file (downloads cut short, moov-first files truncated in mdat);
  Note [cut short] says when such a file is still counted without decoding;
* H.264 / HEVC samples are length-prefixed NAL units whose lengths tile each sample exactly
  (invalid NAL sizes: FFmpeg's "Invalid NAL unit size"), or H.264 samples that all start with
  a start code (Note [annex-B in MP4]); a track where only some do is decoded.

A bitstream error inside a well-formed NAL unit is not visible here; no such file was seen.

Note [cut short]
    A moov-first MP4 cut inside ``mdat``: FFmpeg hands over the sample the cut falls in with the
    bytes there are and ends the stream at the first sample with none. For length-prefixed
    H.264, a cut between samples gives ``end_sample`` (every frame flushed), a cut inside a NAL
    unit a ``bad_sample`` (Note [first bad NAL]); other cuts are decoded. docs/notes.md.

Note [annex-B in MP4]
    H.264 samples that all start with a start code decode one frame each (FFmpeg takes such a
    packet as annex-B): their tables are trusted; mixed framing is decoded. docs/notes.md.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from pyvidfast.io.bitstream.boxes import Boxes, Bytes, children, find_box, read_moov, u32
from pyvidfast.io.bitstream.h264_sps import avcc_parameter_sets
from pyvidfast.io.mp4 import NAL_CONFIG, decoder_config, video_trak
from pyvidfast.io.source import source_size


def _array(buf: memoryview, at: int, count: int, width: int, end: int) -> np.ndarray:
    if count < 0 or at + count * width > end:
        raise ValueError("truncated table")
    dtype = ">u4" if width == 4 else ">u8"
    return np.frombuffer(buf[at : at + count * width], dtype=dtype).astype(np.int64)


def _sample_sizes(moov: memoryview, boxes: Boxes) -> np.ndarray | None:
    if b"stsz" not in boxes:
        return None  # stz2 (compact sizes): leave it to FFmpeg's header
    a, b = boxes[b"stsz"]
    constant, count = u32(moov, a + 4), u32(moov, a + 8)
    if constant:
        return np.full(count, constant, dtype=np.int64)
    return _array(moov, a + 12, count, 4, b)


def _chunk_offsets(moov: memoryview, boxes: Boxes) -> np.ndarray | None:
    for kind, width in ((b"stco", 4), (b"co64", 8)):
        if kind in boxes:
            a, b = boxes[kind]
            return _array(moov, a + 8, u32(moov, a + 4), width, b)
    return None


def _samples_per_chunk(moov: memoryview, stsc: tuple[int, int], chunks: int) -> np.ndarray | None:
    """Samples in each chunk from STSC runs, or None when the runs are not a valid table."""
    a, b = stsc
    runs = _array(moov, a + 8, 3 * u32(moov, a + 4), 4, b).reshape(-1, 3)
    if len(runs) == 0 or runs[0, 0] != 1 or (runs[:, 1] <= 0).any():
        return None
    firsts = runs[:, 0]
    if (np.diff(firsts) <= 0).any() or firsts[-1] > chunks:
        return None
    lengths = np.diff(np.append(firsts, chunks + 1))
    return np.repeat(runs[:, 1], lengths)


def sample_ranges(moov: memoryview, boxes: Boxes) -> tuple[np.ndarray, np.ndarray] | str:
    """(offsets, sizes) of every sample, or the reason the tables contradict each other."""
    sizes, chunk_offsets = _sample_sizes(moov, boxes), _chunk_offsets(moov, boxes)
    if sizes is None or chunk_offsets is None or b"stsc" not in boxes:
        return "missing sample table"
    per_chunk = _samples_per_chunk(moov, boxes[b"stsc"], len(chunk_offsets))
    if per_chunk is None:
        return "empty or invalid STSC"
    if int(per_chunk.sum()) != len(sizes):
        return "STSC/STCO describe a different sample count than STSZ"
    chunk_of_sample = np.repeat(np.arange(len(chunk_offsets)), per_chunk)
    first_of_chunk = np.cumsum(per_chunk) - per_chunk
    within = np.cumsum(sizes) - sizes
    offsets = chunk_offsets[chunk_of_sample] + within - within[first_of_chunk][chunk_of_sample]
    return offsets, sizes


def _nal_length_size(fourcc: bytes, config: bytes) -> int:
    at = NAL_CONFIG[fourcc][1]
    if at >= len(config):
        return 0  # no decoder configuration: not length-prefixed as far as we know
    return (config[at] & 3) + 1


class _Slices:
    """``f[a:b]`` of an open binary file (a remote one: ``RangeReader``)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def __getitem__(self, part: slice) -> bytes:
        self.f.seek(part.start)
        return self.f.read(part.stop - part.start)


class _Preads:
    """``f[a:b]`` of a local file by ``pread``: a NAL header in a 10 MB file costs one system
    call (a mapping cost a page fault per header and an unmap: 5x the time, measured)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __getitem__(self, part: slice) -> bytes:
        return os.pread(self.fd, part.stop - part.start, part.start)


@contextmanager
def _sliceable(path: Bytes) -> Iterator[_Slices | _Preads]:
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            yield _Preads(f.fileno())
    elif isinstance(path, io.BufferedReader):  # a local file already open
        yield _Preads(path.fileno())
    else:
        yield _Slices(path)


_START_CODE = b"\x00\x00\x00\x01"


def _all_annexb(data: _Slices | _Preads, offsets: np.ndarray) -> bool:
    """True when every sample starts with a 4-byte start code (Note [annex-B in MP4])."""
    return all(data[pos : pos + 4] == _START_CODE for pos in offsets.tolist())


def _first_bad_nal(
    data: _Slices | _Preads, offsets: np.ndarray, sizes: np.ndarray, length_size: int
) -> tuple[int | None, str] | None:
    """``(sample index, reason)`` of the first sample whose NAL lengths do not tile it.

    The index is given only where FFmpeg's H.264 decoder fails on that sample (Note [first bad
    NAL] in io/bad_nal.py), else None: a length of 0 or one that runs past the sample (its
    ``get_nalsize`` rejects both), in a packet FFmpeg does not take for annex-B (first four
    bytes 00 00 00 01, the start code its per-packet check looks for) after none such before.
    """
    annexb_seen = False
    for index, (pos, size) in enumerate(zip(offsets.tolist(), sizes.tolist())):
        end = pos + size
        if length_size == 4 and not annexb_seen:
            annexb_seen = data[pos : pos + 4] == _START_CODE
        while pos < end:
            if pos + length_size > end:
                return None, f"sample {index}: NAL length runs past the sample"
            length = int.from_bytes(data[pos : pos + length_size], "big")
            pos += length_size + length
            if length == 0 or pos > end:
                reason = f"sample {index}: invalid NAL unit size {length}"
                return (None if annexb_seen else index), reason
    return None


_CUT = "samples run past the end of the file"


@dataclass(frozen=True)
class HeaderProblem:
    """Why the sample tables cannot replace a decode. For a NAL problem, ``bad_sample`` is the
    first sample whose NAL lengths do not walk it (the sample the file's end cuts counts as one
    when a NAL length runs past that end); ``end_sample`` the first sample wholly past the end
    of a file cut between samples; ``parameter_sets`` the avcC's SPS. See Note [cut short].
    ``no_timescale``: the ``mdhd`` is missing or its timescale 0 (then only ``bad_sample`` is
    set, with ``leading_offsets``, the file offsets of samples 0..bad_sample: Note [no
    timescale] in io/bad_nal.py)."""

    reason: str
    bad_sample: int | None = None
    parameter_sets: tuple[bytes, ...] = ()
    end_sample: int | None = None
    no_timescale: bool = False
    leading_offsets: tuple[int, ...] = ()


def header_problem(path: Bytes) -> str | None:
    """Why the first video track's sample tables cannot replace a decode, or None."""
    found = header_distrust(path)
    return found.reason if found is not None else None


def header_distrust(path: Bytes, walk_nals: bool = True) -> HeaderProblem | None:
    """``header_problem`` with what the caller can still use (``HeaderProblem``).

    None also when there is nothing to judge here (no moov, fragments, no video track): the
    caller's other paths handle those files. ``walk_nals=False`` skips the NAL length walk, the
    one check that reads sample data (all of it: Note [remote NAL walk] in io/probe.py).
    """
    moov_bytes = read_moov(path)
    if moov_bytes is None:
        return None
    moov = memoryview(moov_bytes)
    trak = video_trak(moov)
    mdia = trak and find_box(moov, *trak, b"mdia")
    mdhd = mdia and find_box(moov, *mdia, b"mdhd")
    minf = mdia and find_box(moov, *mdia, b"minf")
    stbl = minf and find_box(moov, *minf, b"stbl")
    if stbl is None:
        return None
    if mdhd is None:
        return _with_timescale("no mdhd box: no timescale", path, moov, stbl, walk_nals)
    if u32(moov, mdhd[0] + (20 if moov[mdhd[0]] == 1 else 12)) == 0:
        return _with_timescale("invalid mdhd timescale 0", path, moov, stbl, walk_nals)
    return _table_distrust(path, moov, stbl, walk_nals)


def _with_timescale(
    reason: str, path: Bytes, moov: memoryview, stbl: tuple[int, int], walk_nals: bool
) -> HeaderProblem:
    """The timescale problem, with the first bad NAL where the tables show one (Note [no
    timescale] in io/bad_nal.py); a cut or any other table problem is left to decoding."""
    try:
        found = _table_distrust(path, moov, stbl, walk_nals)
        if found is None or found.bad_sample is None or found.reason.startswith(_CUT):
            return HeaderProblem(reason, no_timescale=True)
        ranges = sample_ranges(moov, {k: (a, b) for k, a, b in children(moov, *stbl)})
    except (ValueError, IndexError):
        return HeaderProblem(reason, no_timescale=True)
    if isinstance(ranges, str):  # never: _table_distrust found the bad NAL in these tables
        return HeaderProblem(reason, no_timescale=True)
    offsets, _ = ranges
    leading = tuple(offsets[: found.bad_sample + 1].tolist())
    reason = f"{reason}; {found.reason}"
    return HeaderProblem(reason, found.bad_sample, found.parameter_sets, None, True, leading)


def _table_distrust(
    path: Bytes, moov: memoryview, stbl: tuple[int, int], walk_nals: bool
) -> HeaderProblem | None:
    boxes = {k: (a, b) for k, a, b in children(moov, *stbl)}
    count = u32(moov, boxes[b"stsz"][0] + 8) if b"stsz" in boxes else None
    if count == 0:
        return None  # no samples (init segment): the caller's failure row
    if count is not None and count > source_size(path):
        # checked before any table is expanded: 8 bytes a sample (found by tests/test_fuzz.py)
        return HeaderProblem(f"stsz declares {count} samples, more than the file has bytes")
    ranges = sample_ranges(moov, boxes)
    if isinstance(ranges, str):
        return HeaderProblem(ranges)
    offsets, sizes = ranges
    file_size = source_size(path)
    past = np.flatnonzero(offsets + sizes > file_size)
    cut = int(past[0]) if len(past) else None
    config = decoder_config(moov, boxes[b"stsd"]) if b"stsd" in boxes else None
    if config is None or not len(sizes) or not walk_nals:
        return HeaderProblem(_CUT) if cut is not None else None
    length_size = _nal_length_size(*config)
    if length_size not in (1, 2, 4):
        return HeaderProblem("invalid NAL length size")
    fourcc, payload = config
    with _sliceable(path) as data:  # one file for both walks
        if cut is None and fourcc in (b"avc1", b"avc3") and _all_annexb(data, offsets):
            return None  # Note [annex-B in MP4]
        if cut is not None:  # Note [cut short]: up to the cut, the last sample as far as it goes
            if offsets[cut] >= file_size:
                sizes, offsets = sizes[:cut], offsets[:cut]
            else:
                sizes = np.append(sizes[:cut], file_size - offsets[cut])
                offsets = offsets[: cut + 1]
        bad = _first_bad_nal(data, offsets, sizes, length_size)
    parameter_sets = tuple(avcc_parameter_sets(payload)) if fourcc == b"avc1" else ()
    if bad is not None and cut is not None and bad[1].startswith(f"sample {cut}:"):
        return HeaderProblem(f"{_CUT} (in a NAL unit of sample {cut})", bad[0], parameter_sets)
    if bad is not None:
        return HeaderProblem(bad[1], bad[0], parameter_sets)
    if cut is not None and len(sizes) == cut:
        return HeaderProblem(_CUT, end_sample=cut, parameter_sets=parameter_sets)
    return HeaderProblem(_CUT) if cut is not None else None

"""MP4/MOV frame count, size and average frame rate read from the ``moov`` box alone.

FFmpeg's open runs avformat_find_stream_info, which decodes frames (300 ms for the 4K clip of the
test corpus). For plain ISO-BMFF files everything Open-Sora's ``--info`` needs is in ``moov``, so
``moov_info`` reads it there and returns None for every case it does not model exactly, which
``pyvidfast.io.probe`` then hands to FFmpeg. tests/test_probe.py checks its answers against PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

from pyvidfast.io.bitstream.av1_size import av1_frame_size
from pyvidfast.io.bitstream.boxes import Boxes, Bytes, children, find_box, read_moov, u32
from pyvidfast.io.bitstream.nal import declared_size
from pyvidfast.io.bitstream.vpx import vp8_keyframe_size, vp9_keyframe_size
from pyvidfast.io.source import open_bytes, source_size

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class MoovInfo(NamedTuple):
    num_frames: int
    height: int
    width: int
    fps: float
    codec: str


#
# FFmpeg's av.open runs avformat_find_stream_info, which decodes frames (300 ms for the 4K clip
# of the corpus). For plain ISO-BMFF files the frame count, size and average frame rate are all
# in moov, so we read them there and hand every case we do not model to FFmpeg (see
# ``moov_info``). tests/test_probe.py checks every answer against PyAV on the corpus.

# sample-entry fourcc -> FFmpeg decoder name; all in PACKET_PER_FRAME
_MP4_CODECS = {
    b"avc1": "h264",
    b"avc3": "h264",
    b"hvc1": "hevc",
    b"hev1": "hevc",
    b"av01": "libdav1d",
    b"vp09": "vp9",
    b"vp08": "vp8",
    b"vvc1": "vvc",
    b"vvi1": "vvc",
}
_INT_MAX = 2**31 - 1
# sample-entry fourcc -> the box holding its NAL length size (lengthSizeMinusOne) and its offset
NAL_CONFIG = {
    b"avc1": (b"avcC", 4),
    b"avc3": (b"avcC", 4),
    b"hvc1": (b"hvcC", 21),
    b"hev1": (b"hvcC", 21),
}
# bytes of a visual sample entry before its child boxes (ISO/IEC 14496-12 VisualSampleEntry)
_VISUAL_ENTRY_HEADER = 8 + 78


def video_trak(moov: memoryview) -> tuple[int, int] | None:
    for kind, a, b in children(moov):
        if kind != b"trak":
            continue
        mdia = find_box(moov, a, b, b"mdia")
        hdlr = mdia and find_box(moov, *mdia, b"hdlr")
        if hdlr and bytes(moov[hdlr[0] + 8 : hdlr[0] + 12]) == b"vide":
            return a, b
    return None


def _table(
    buf: memoryview, box: tuple[int, int], signed: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(count, value) pairs of an stts/ctts box as two numpy arrays."""
    import numpy as np

    a, b = box
    n = u32(buf, a + 4)
    if a + 8 + 8 * n > b:
        raise ValueError("truncated table")
    pairs = np.frombuffer(buf[a + 8 : a + 8 + 8 * n], dtype=">u4").reshape(n, 2).astype(np.int64)
    counts, values = pairs[:, 0], pairs[:, 1]
    if signed:
        values = np.where(values >= 2**31, values - 2**32, values)
    return counts, values


def moov_info(path: Bytes) -> MoovInfo | None:
    """Frame count, size and average fps from ``moov`` alone, or None to ask FFmpeg instead.

    Answers only what it models exactly as FFmpeg 8 does: one sample description of a codec
    in ``_MP4_CODECS``; not fragmented (no mvex); no edit list, or one edit at rate 1 that
    starts at or before the first presentation time and covers every sample (then FFmpeg
    discards no sample); no presentation time below 0. Then num_frames = the sample count,
    size = the sample entry's width/height, fps = timescale * samples / sum of stts durations
    (FFmpeg's avg_frame_rate for MOV), when the sample entry's size is the decoded one.
    """
    data = read_moov(path)
    if data is None:
        return None
    moov = memoryview(data)
    if find_box(moov, 0, len(moov), b"mvex"):
        return None
    mvhd = find_box(moov, 0, len(moov), b"mvhd")
    trak = video_trak(moov)
    if mvhd is None or trak is None:
        return None
    movie_scale = u32(moov, mvhd[0] + (20 if moov[mvhd[0]] == 1 else 12))
    mdia = find_box(moov, *trak, b"mdia")
    if mdia is None:  # video_trak found hdlr inside it, so it is there
        return None
    mdhd = find_box(moov, *mdia, b"mdhd")
    minf = find_box(moov, *mdia, b"minf")
    stbl = minf and find_box(moov, *minf, b"stbl")
    if mdhd is None or stbl is None:
        return None
    media_scale = u32(moov, mdhd[0] + (20 if moov[mdhd[0]] == 1 else 12))
    boxes: Boxes = {k: (a, b) for k, a, b in children(moov, *stbl)}
    entry = _sample_entry(moov, boxes)
    samples = _sample_count(moov, boxes)
    if entry is None or samples is None or samples > source_size(path):
        return None  # more samples than bytes: the tables lie (and would cost 8 bytes a sample)
    codec, width, height = entry
    times = _presentation_range(moov, boxes, samples)
    if times is None or width <= 0 or height <= 0 or media_scale <= 0:
        return None
    first, end, duration = times
    scales = (media_scale, movie_scale)
    if not _edit_keeps_every_sample(moov, trak, first, end, scales):
        return None
    fps = Fraction(media_scale * samples, duration)
    if fps.numerator > _INT_MAX or fps.denominator > _INT_MAX:
        return None  # av_reduce would approximate
    if not _entry_size_decoded(path, moov, boxes, codec, (width, height)):
        return None  # FFmpeg's probe decode gives the size (docs/notes.md, Note [header size])
    return MoovInfo(samples, height, width, float(fps), codec)


def _sample_entry(moov: memoryview, boxes: Boxes) -> tuple[str, int, int] | None:
    """``(codec, width, height)`` of the one sample description, or None."""
    if b"stsd" not in boxes:
        return None
    stsd = boxes[b"stsd"]
    if u32(moov, stsd[0] + 4) != 1:
        return None  # several sample descriptions: FFmpeg may switch mid-stream
    entry = stsd[0] + 8
    codec = _MP4_CODECS.get(bytes(moov[entry + 4 : entry + 8]))
    if codec is None:
        return None
    width = int.from_bytes(moov[entry + 32 : entry + 34], "big")
    height = int.from_bytes(moov[entry + 34 : entry + 36], "big")
    return codec, width, height


def _entry_box(moov: memoryview, stsd: tuple[int, int], kind: bytes) -> bytes:
    """The payload of the first sample entry's child box ``kind`` (avcC, hvcC, av1C), or b""."""
    entry = stsd[0] + 8
    entry_end = entry + u32(moov, entry)
    box = find_box(moov, entry + _VISUAL_ENTRY_HEADER, min(entry_end, stsd[1]), kind)
    return bytes(moov[box[0] : box[1]]) if box is not None else b""


def decoder_config(moov: memoryview, stsd: tuple[int, int]) -> tuple[bytes, bytes] | None:
    """``(fourcc, avcC/hvcC payload)`` of the first sample entry, ``(fourcc, b"")`` when it has
    no such box, None for entries that are not length-prefixed H.264/HEVC."""
    fourcc = bytes(moov[stsd[0] + 12 : stsd[0] + 16])
    config = NAL_CONFIG.get(fourcc)
    return None if config is None else (fourcc, _entry_box(moov, stsd, config[0]))


def _entry_size_decoded(
    path: Bytes, moov: memoryview, boxes: Boxes, codec: str, size: tuple[int, int]
) -> bool:
    """Does FFmpeg decode pictures of the sample entry's ``size``? The SPS says for H.264/HEVC,
    the first sample's key frame header for VP8/VP9, it and the av1C for AV1; VVC: FFmpeg."""
    if codec in ("h264", "hevc"):
        found = decoder_config(moov, boxes[b"stsd"])
        return found is not None and declared_size(codec, found[1]) == size
    if codec not in ("vp8", "vp9", "libdav1d"):
        return False
    offsets = [kind for kind in (b"stco", b"co64") if kind in boxes]
    if not offsets or b"stsz" not in boxes or u32(moov, boxes[offsets[0]][0] + 4) == 0:
        return False
    at = boxes[offsets[0]][0] + 8
    start = int.from_bytes(moov[at : at + (4 if offsets[0] == b"stco" else 8)], "big")
    sizes = boxes[b"stsz"][0]
    length = u32(moov, sizes + 4) or u32(moov, sizes + 12)  # sample 0's size
    with open_bytes(path) as f:
        f.seek(start)
        head = f.read(min(length, 512))
    if codec == "vp9":
        return vp9_keyframe_size(head) == size
    if codec == "vp8":
        return vp8_keyframe_size(head) == size
    config_obus = _entry_box(moov, boxes[b"stsd"], b"av1C")[4:]  # after the av1C header
    return av1_frame_size(config_obus, head) == size


def _sample_count(moov: memoryview, boxes: Boxes) -> int | None:
    for kind in (b"stsz", b"stz2"):
        if kind in boxes:
            return u32(moov, boxes[kind][0] + 8)
    return None


def _presentation_range(
    moov: memoryview, boxes: Boxes, samples: int
) -> tuple[int, int, int] | None:
    """``(first presentation time, end, sum of durations)`` in media units, or None when the
    stts/ctts tables do not describe exactly ``samples`` samples."""
    import numpy as np

    if b"stts" not in boxes:
        return None
    counts, deltas = _table(moov, boxes[b"stts"])
    if samples <= 0 or int(counts.sum()) != samples:
        return None
    duration = int((counts * deltas).sum())
    if duration <= 0:
        return None
    # Presentation times: dts from stts plus the ctts offset of each sample.
    dts = np.concatenate(([0], np.cumsum(np.repeat(deltas, counts))))
    cts, dur = dts[:-1], np.repeat(deltas, counts)
    if b"ctts" in boxes:
        c_counts, offsets = _table(moov, boxes[b"ctts"], signed=True)
        if int(c_counts.sum()) != samples:
            return None
        cts = cts + np.repeat(offsets, c_counts)
    return int(cts.min()), int((cts + dur).max()), duration


def _edit_keeps_every_sample(
    moov: memoryview, trak: tuple[int, int], first: int, end: int, scales: tuple[int, int]
) -> bool:
    """True when FFmpeg discards no sample: no edit list and no time below 0, or one edit at
    rate 1 that starts at or before ``first`` and lasts past ``end``."""
    media_scale, movie_scale = scales
    edts = find_box(moov, *trak, b"edts")
    elst = edts and find_box(moov, *edts, b"elst")
    if not elst:
        return first >= 0
    a = elst[0]
    version, n = moov[a], u32(moov, a + 4)
    if n != 1:
        return False
    if version == 1:
        seg = int.from_bytes(moov[a + 8 : a + 16], "big")
        start = int.from_bytes(moov[a + 16 : a + 24], "big", signed=True)
        rate = u32(moov, a + 24)
    else:
        seg = u32(moov, a + 8)
        start = int.from_bytes(moov[a + 12 : a + 16], "big", signed=True)
        rate = u32(moov, a + 16)
    if rate != 0x10000 or start < 0 or seg <= 0 or movie_scale <= 0:
        return False
    return first >= start and start + seg * media_scale / movie_scale >= end

"""Video metadata at header speed, with a fallback frame count: the project's one metadata reader.

``probe_video(path)`` returns the frame count, decoded frame size and average frame rate that
Open-Sora's full decode would give (see ``pyvidfast/opensora/reference.py``), reading the
container header where it can be trusted and counting packets or decoded frames where it cannot.
``probe_video(path, exact_frames=True)`` always counts decodable frames (no RGB conversion).

Note [frame count]
    The reference decodes the first video stream from the start, stops at the first decode error
    or after ``cap`` frames (the container's frame count, or 2500 when it has none), drops the
    leading frames with negative pts and counts the rest. How we reproduce that count:

    * ``moov``: plain MP4/MOV (one sample description of a common codec, no fragments, no edit
      list or one that cuts nothing, no negative presentation time) is read by ``moov_info``
      from the moov box alone, without FFmpeg: sample count, sample-entry size, FFmpeg's
      average frame rate. About 0.2 ms a file; FFmpeg's open decodes frames (300 ms at 4K).
    * ``header``: other MP4/MOV files are opened with FFmpeg, which keeps one index entry per
      sample and marks the samples an edit list cuts as discarded. When the stream starts at
      pts >= 0 and the codec outputs one frame per sample (``PACKET_PER_FRAME``), the
      non-discarded entries are the count.
    * ``demux``: containers without a trustworthy count (Matroska/WebM, MPEG-TS, FLV, raw
      streams, fragmented MP4) are demuxed, not decoded: non-empty, non-discarded packets with
      pts >= 0 (or no pts) are counted, at most ``cap``, so the time is bounded too.
    * ``decode``: everything else (codecs that can pack two frames in a packet or emit none, such
      as MPEG-4 part 2 in AVI: header 98, demux 96, decoded 96; streams whose decoder could not
      produce a picture while probing, i.e. no pixel format) is decoded without RGB conversion.

    Limits: a bitstream error inside an otherwise well-formed file (``decord/corrupted.mp4``,
    ``mp4__sample_with_invalid_nalu.mp4``) makes the reference stop early; no header shows it.
    The ``moov`` path does not try the decoder either, so an MP4 whose samples are all garbage
    gets its header values where the reference gives the failure row. ``exact_frames=True``
    counts those exactly; the integrity check (curation) flags them.

Note [seek]
    Open-Sora seeks to 0 before its counting pass. In FFmpeg 8 that seek fails on raw H.264 and
    some Matroska files (making the whole row a failure) and, on an MP4 whose edit list starts
    inside a B-frame group (``mp4__iibbibb_editlist_videoonly.mp4``), lands after the first two
    frames. We follow the spec's description (decode the whole video from the start), so these
    files get their true counts (96, 1 and 12).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import av

# Open-Sora's MAX_NUM_FRAMES: the frame cap when the container gives no frame count.
MAX_NUM_FRAMES = 2500

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

# Codecs whose decoder turns every packet into exactly one frame (no packed B-frames, no
# placeholder packets). VP9 superframes and AV1 temporal units are one packet per shown frame.
PACKET_PER_FRAME = frozenset(
    {
        "h264",
        "hevc",
        "av1",
        "libdav1d",
        "vp8",
        "vp9",
        "libvpx",
        "libvpx-vp9",
        "vvc",
        "mpeg2video",
        "mjpeg",
        "prores",
        "dnxhd",
        "png",
        "h263",
    }
)

# Formats whose header frame count is a per-sample index (FFmpeg demuxer names).
_INDEXED_FORMATS = frozenset({"mov", "mp4"})


@dataclass(frozen=True)
class VideoProbe:
    """What ``probe_video`` found.

    ``method`` says where ``num_frames`` came from: ``moov``, ``header``, ``demux``, ``decode``,
    ``image`` or ``failed``. ``error`` is a short reason when the row is a failure (``num_frames == 0``),
    else None.
    """

    num_frames: int
    height: int
    width: int
    fps: float
    method: str
    error: str | None = None
    codec: str = ""
    container: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def failed(reason: str, **extra) -> VideoProbe:
    """The failure result: Open-Sora's ``0, 0, 0, NaN`` values with the reason."""
    return VideoProbe(0, 0, 0, math.nan, "failed", reason, **extra)


def _fps(stream) -> float:
    rate = stream.average_rate
    return float(rate) if rate is not None else math.nan


def _short(exc: BaseException) -> str:
    text = str(exc).split("\n")[0].strip()
    return f"{type(exc).__name__}: {text}"[:200]


def is_image(path: str) -> bool:
    """True when Open-Sora treats ``path`` as an image (by extension, case-insensitive)."""
    return os.path.splitext(str(path))[1].lower() in IMG_EXTENSIONS


def probe_image(path: str, exact: bool = False) -> VideoProbe:
    """Image size from its header (``exact``: decode it fully, as Open-Sora's ``convert``)."""
    from PIL import Image

    if not os.path.exists(path):
        return failed(f"missing file: {path}")
    try:
        with Image.open(path) as img:
            if exact:
                img.load()
            width, height = img.size
    except Exception as exc:
        return failed(f"cannot open image: {_short(exc)}")
    return VideoProbe(1, height, width, math.nan, "image")


# ------------------------------------------------------------------ MP4/MOV: read moov only
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
_ISO_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
_MAX_MOOV = 64 << 20
_INT_MAX = 2**31 - 1


def is_iso_bmff(path: str) -> bool:
    """True when the file starts with an ISO-BMFF / QuickTime box we know (ftyp, moov, ...)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] in _ISO_TOP


def _children(buf: memoryview, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of the boxes in buf[start:end]; stops at a bad size."""
    end = len(buf) if end is None else end
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(buf[pos : pos + 4], "big")
        kind = bytes(buf[pos + 4 : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = int.from_bytes(buf[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"bad box size {size} for {kind!r}")
        yield kind, pos + header, pos + size
        pos += size


def _find(buf: memoryview, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, a, b in _children(buf, start, end):
        if k == kind:
            return a, b
    return None


def _read_moov(path: str) -> bytes | None:
    """The payload of the top-level moov box, or None (no moov, moof fragments, bad boxes)."""
    size_total = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            head = f.read(16)
            size = int.from_bytes(head[:4], "big")
            kind = head[4:8]
            header = 8
            if size == 1:
                size = int.from_bytes(head[8:16], "big")
                header = 16
            elif size == 0:
                size = size_total - pos
            if size < header or pos + size > size_total:
                return None  # FFmpeg gives up on such files too ("moov atom not found")
            if kind == b"moov":
                if size > _MAX_MOOV:
                    return None
                f.seek(pos + header)
                return f.read(size - header)
            if kind == b"moof":
                return None
            pos += size
    return None


def _u32(buf, at: int) -> int:
    return int.from_bytes(buf[at : at + 4], "big")


def _video_trak(moov: memoryview) -> tuple[int, int] | None:
    for kind, a, b in _children(moov):
        if kind != b"trak":
            continue
        mdia = _find(moov, a, b, b"mdia")
        hdlr = mdia and _find(moov, *mdia, b"hdlr")
        if hdlr and bytes(moov[hdlr[0] + 8 : hdlr[0] + 12]) == b"vide":
            return a, b
    return None


def _table(buf: memoryview, box: tuple[int, int], signed: bool = False):
    """(count, value) pairs of an stts/ctts box as two numpy arrays."""
    import numpy as np

    a, b = box
    n = _u32(buf, a + 4)
    if a + 8 + 8 * n > b:
        raise ValueError("truncated table")
    pairs = np.frombuffer(buf[a + 8 : a + 8 + 8 * n], dtype=">u4").reshape(n, 2).astype(np.int64)
    counts, values = pairs[:, 0], pairs[:, 1]
    if signed:
        values = np.where(values >= 2**31, values - 2**32, values)
    return counts, values


def moov_info(path: str) -> VideoProbe | None:
    """Frame count, size and average fps from ``moov`` alone, or None to ask FFmpeg instead.

    Answers only what it models exactly as FFmpeg 8 does: one sample description of a codec
    in ``_MP4_CODECS``; not fragmented (no mvex); no edit list, or one edit at rate 1 that
    starts at or before the first presentation time and covers every sample (then FFmpeg
    discards no sample); no presentation time below 0. Then num_frames = the sample count,
    size = the sample entry's width/height, fps = timescale * samples / sum of stts durations
    (FFmpeg's avg_frame_rate for MOV).
    """
    import numpy as np

    data = _read_moov(path)
    if data is None:
        return None
    moov = memoryview(data)
    if _find(moov, 0, len(moov), b"mvex"):
        return None
    mvhd = _find(moov, 0, len(moov), b"mvhd")
    trak = _video_trak(moov)
    if mvhd is None or trak is None:
        return None
    movie_scale = _u32(moov, mvhd[0] + (20 if moov[mvhd[0]] == 1 else 12))
    mdia = _find(moov, *trak, b"mdia")
    mdhd = _find(moov, *mdia, b"mdhd")
    minf = _find(moov, *mdia, b"minf")
    stbl = minf and _find(moov, *minf, b"stbl")
    if mdhd is None or stbl is None:
        return None
    media_scale = _u32(moov, mdhd[0] + (20 if moov[mdhd[0]] == 1 else 12))
    boxes = {k: (a, b) for k, a, b in _children(moov, *stbl)}
    if b"stsd" not in boxes or b"stts" not in boxes:
        return None
    stsd = boxes[b"stsd"]
    if _u32(moov, stsd[0] + 4) != 1:
        return None  # several sample descriptions: FFmpeg may switch mid-stream
    entry = stsd[0] + 8
    codec = _MP4_CODECS.get(bytes(moov[entry + 4 : entry + 8]))
    if codec is None:
        return None
    width = int.from_bytes(moov[entry + 32 : entry + 34], "big")
    height = int.from_bytes(moov[entry + 34 : entry + 36], "big")
    if b"stsz" in boxes:
        samples = _u32(moov, boxes[b"stsz"][0] + 8)
    elif b"stz2" in boxes:
        samples = _u32(moov, boxes[b"stz2"][0] + 8)
    else:
        return None
    counts, deltas = _table(moov, boxes[b"stts"])
    if samples <= 0 or width <= 0 or height <= 0 or int(counts.sum()) != samples:
        return None
    duration = int((counts * deltas).sum())
    if duration <= 0 or media_scale <= 0:
        return None
    # Presentation times: dts from stts plus the ctts offset of each sample.
    dts = np.concatenate(([0], np.cumsum(np.repeat(deltas, counts))))
    cts, dur = dts[:-1], np.repeat(deltas, counts)
    if b"ctts" in boxes:
        c_counts, offsets = _table(moov, boxes[b"ctts"], signed=True)
        if int(c_counts.sum()) != samples:
            return None
        cts = cts + np.repeat(offsets, c_counts)
    first, end = int(cts.min()), int((cts + dur).max())
    edts = _find(moov, *trak, b"edts")
    elst = edts and _find(moov, *edts, b"elst")
    if elst:
        a = elst[0]
        version, n = moov[a], _u32(moov, a + 4)
        if n != 1:
            return None
        if version == 1:
            seg = int.from_bytes(moov[a + 8 : a + 16], "big")
            start = int.from_bytes(moov[a + 16 : a + 24], "big", signed=True)
            rate = _u32(moov, a + 24)
        else:
            seg = _u32(moov, a + 8)
            start = int.from_bytes(moov[a + 12 : a + 16], "big", signed=True)
            rate = _u32(moov, a + 16)
        if rate != 0x10000 or start < 0 or seg <= 0 or movie_scale <= 0:
            return None
        if first < start or start + seg * media_scale / movie_scale < end:
            return None  # FFmpeg would discard samples before or after the edit
    elif first < 0:
        return None
    fps = Fraction(media_scale * samples, duration)
    if fps.numerator > _INT_MAX or fps.denominator > _INT_MAX:
        return None  # av_reduce would approximate
    return VideoProbe(samples, height, width, float(fps), "moov", None, codec, "mov,mp4")


def header_count(container, stream) -> int | None:
    """The frame count from an MP4/MOV sample index, or None where it cannot be trusted."""
    names = set(container.format.name.split(","))
    if not names & _INDEXED_FORMATS or stream.frames <= 0:
        return None
    if stream.codec_context.name not in PACKET_PER_FRAME:
        return None
    if stream.start_time is not None and stream.start_time < 0:
        return None  # leading frames with negative pts: the reference drops them
    entries = stream.index_entries
    if len(entries) != stream.frames:
        return None  # fragmented or partially indexed
    return sum(1 for e in entries if not e.is_discard)


def _vp9_shown(frame: memoryview) -> int:
    """1 when a VP9 frame is shown (show_frame or show_existing_frame), from its first byte."""
    if not frame:
        return 0
    b = frame[0]
    if b >> 6 != 2:  # frame_marker
        return 0
    profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1)
    bit = 3 if profile < 3 else 2  # profile 3 has one reserved bit
    if (b >> bit) & 1:  # show_existing_frame
        return 1
    return (b >> (bit - 2)) & 1 if bit >= 2 else 0  # skip frame_type, read show_frame


def vp9_shown_frames(data: memoryview) -> int:
    """Shown frames in one VP9 packet, walking its superframe index when it has one.

    libvpx writes hidden alt-ref frames either packed in a superframe with the next shown frame
    or (older WebM files, e.g. vp9__roadtrip-vp92-10bit.webm: 80 packets, 72 frames) as
    packets of their own; FFmpeg outputs no picture for them.
    """
    if not data:
        return 0
    last = data[-1]
    if last & 0xE0 == 0xC0:
        n = (last & 7) + 1
        size_bytes = ((last >> 3) & 3) + 1
        index_size = 2 + size_bytes * n
        if len(data) >= index_size and data[-index_size] == last:
            shown = 0
            offset = 0
            pos = len(data) - index_size + 1
            for _ in range(n):
                size = int.from_bytes(data[pos : pos + size_bytes], "little")
                pos += size_bytes
                shown += _vp9_shown(data[offset : offset + size])
                offset += size
            return shown
    return _vp9_shown(data)


def vp8_shown_frames(data: memoryview) -> int:
    """1 when a VP8 frame is shown (show_frame bit of the frame tag): FFmpeg drops hidden ones."""
    return (data[0] >> 4) & 1 if data else 0


_SHOWN_FRAMES = {"vp9": vp9_shown_frames, "libvpx-vp9": vp9_shown_frames}
_SHOWN_FRAMES.update({"vp8": vp8_shown_frames, "libvpx": vp8_shown_frames})


def demux_count(container, stream, cap: int) -> int:
    """Packets that become frames (non-empty, not discarded, pts >= 0 or unknown), at most cap.

    For VP8/VP9 a packet counts for the shown frames it carries (hidden alt-ref frames yield no
    picture).
    """
    shown = _SHOWN_FRAMES.get(stream.codec_context.name)
    count = 0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        if packet.pts is not None and packet.pts < 0:
            continue
        count += shown(memoryview(packet)) if shown else 1
        if count >= cap:
            return cap
    return count


def decode_count(container, stream, cap: int, threads: bool = True) -> tuple[int, int, int]:
    """``(count, height, width)`` by decoding without RGB conversion, as the reference counts.

    Decoding stops at the first decode error or after ``cap`` frames; leading frames with
    negative pts are dropped. ``(0, 0, 0)`` when no frame decodes.
    """
    if threads:
        stream.codec_context.thread_type = "AUTO"
    height = width = 0
    total = 0
    leading_negative = 0
    frames = container.decode(stream)
    try:
        while total < cap:
            frame = next(frames, None)
            if frame is None:
                break
            if total == 0:
                height, width = frame.height, frame.width
            if total == leading_negative and frame.pts is not None and frame.pts < 0:
                leading_negative += 1
            total += 1
    except av.FFmpegError:
        pass  # the reference keeps the frames decoded before the first error
    return total - leading_negative, height, width


def probe_video(path: str, exact_frames: bool = False) -> VideoProbe:
    """Frame count, decoded size and average fps of the first video stream of ``path``.

    Never raises for bad input: a missing, unreadable or undecodable file gives ``failed(...)``
    with the reason. See Note [frame count] for where the count comes from.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return failed(f"missing file: {path}")
    if os.path.isdir(path):
        return failed(f"not a file: {path}")
    if not exact_frames and is_iso_bmff(path):
        try:
            found = moov_info(path)
        except (ValueError, IndexError, OSError):
            found = None  # anything unexpected: FFmpeg decides
        if found is not None:
            return found
    try:
        container = av.open(path, metadata_errors="ignore")
    except Exception as exc:
        return failed(f"cannot open: {_short(exc)}")
    with container:
        if not container.streams.video:
            return failed("no video stream", container=container.format.name)
        stream = container.streams.video[0]
        cc = stream.codec_context
        info = {"codec": cc.name, "container": container.format.name}
        fps = _fps(stream)
        cap = stream.frames if stream.frames > 0 else MAX_NUM_FRAMES
        decodable = cc.pix_fmt is not None and cc.width > 0 and cc.height > 0
        try:
            if not exact_frames and decodable:
                count = header_count(container, stream)
                method = "header"
                if count is None and cc.name in PACKET_PER_FRAME:
                    count, method = demux_count(container, stream, cap), "demux"
                if count is not None:
                    if count == 0:
                        return failed("no decodable frame", **info)
                    return VideoProbe(count, cc.height, cc.width, fps, method, None, **info)
            count, height, width = decode_count(container, stream, cap)
        except Exception as exc:
            return failed(f"read error: {_short(exc)}", **info)
        if height == 0:
            return failed("no decodable frame", **info)
        if count == 0:  # frames decoded, but all before pts 0: the reference's row, flagged
            return VideoProbe(0, height, width, fps, "decode", "no frame with pts >= 0", **info)
        return VideoProbe(count, height, width, fps, "decode", None, **info)

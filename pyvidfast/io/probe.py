"""Video metadata at header speed, with a fallback frame count: the project's one metadata reader.

``probe_video(path)`` returns the frame count, decoded frame size and average frame rate that
Open-Sora's full decode would give (see ``pyvidfast/opensora/reference.py``), reading the
container header where it can be trusted and counting packets or decoded frames where it cannot.
``probe_video(path, exact_frames=True)`` always counts decodable frames (no RGB conversion).

Note [frame count]
    The reference decodes the first video stream from the start, stops at the first decode error
    or after ``cap`` frames (the container's frame count, or 2500 when it has none), drops the
    leading frames with negative pts and counts the rest. How we reproduce that count:

    * trust first: an MP4/MOV whose sample tables cannot stand in for a decode (samples past
      the end of the file, contradictory or empty STSC, a zero ``mdhd`` timescale, NAL lengths
      that do not walk a sample, e.g. annex-B H.264 or a corrupt NAL size) is decoded, see
      ``pyvidfast/io/mp4_trust.py``. About 1 ms a healthy file (it reads only NAL headers).
      An invalid NAL size in H.264 whose SPS declares its reorder depth is counted without
      decoding (``bad_nal``): Note [first bad NAL] in ``pyvidfast/io/bad_nal.py``, also where
      the ``mdhd`` timescale is 0 or missing (Note [no timescale] there).
    * ``moov``: plain MP4/MOV (one sample description of a common codec, no fragments, no edit
      list or one that cuts nothing, no negative presentation time) is read by ``moov_info``
      from the moov box alone, without FFmpeg: sample count, sample-entry size (if the SPS or
      first frame agrees: docs/notes.md, Note [header size]), FFmpeg's average frame rate.
    * ``header``: other MP4/MOV files are opened with FFmpeg, which keeps one index entry per
      sample and marks the samples an edit list cuts as discarded. When the stream starts at
      pts >= 0 and the codec outputs one frame per sample (``PACKET_PER_FRAME``), the
      non-discarded entries are the count.
    * ``demux``: containers without a trustworthy count (Matroska/WebM, MPEG-TS, FLV, raw
      streams, fragmented MP4) are demuxed, not decoded: non-empty, non-discarded packets with
      pts >= 0 (or no pts) are counted, at most ``cap``, so the time is bounded too. An MPEG-TS
      H.264/HEVC stream must open with a keyframe carrying an access unit delimiter and its
      parameter sets, or from its first IDR on (``io/ts_start.py``); others are decoded. MPEG-4
      Part 2 is counted this way only while every packet is one coded VOP after a valid start
      (``pyvidfast/io/bitstream/mpeg4.py``): packed B-frames and N-VOPs are decoded.
    * ``decode``: everything else (other codecs that can pack two frames in a packet or emit
      none; streams whose decoder could not produce a picture while probing, i.e. no pixel
      format) is decoded without RGB conversion.

    Limits: a bitstream error inside well-formed NAL units of a trusted MP4, or inside a
    Matroska/WebM/FLV stream, is not visible without decoding; no real file nor generated class
    of issue 12 has one (tests/test_opensora_info.py). ``exact_frames=True`` always decodes.

Note [remote NAL walk]
    A URL (``pyvidfast/io/remote.py``) is read by byte ranges; every check above runs as on a
    local file except the NAL length walk, which reads every sample, i.e. the whole file.
    Without ``--remote-nal-walk`` a remote MP4 with a corrupt NAL size gets its header count
    (the local probe counts to the bad NAL); with it the row equals the local one.

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
from typing import TYPE_CHECKING, BinaryIO, cast

import av

from pyvidfast.io.bad_nal import count_before_bad_nal
from pyvidfast.io.bitstream.boxes import Bytes, is_iso_bmff
from pyvidfast.io.bitstream.ebml import MAGIC as EBML_MAGIC
from pyvidfast.io.bitstream.ebml import video_default_durations
from pyvidfast.io.bitstream.flv import flv_video_codec
from pyvidfast.io.bitstream.nal import declared_size
from pyvidfast.io.bitstream.vpx import (  # noqa: F401  (the shown-frame counters: re-exported)
    vp8_shown_frames,
    vp9_keyframe_size,
    vp9_shown_frames,
)
from pyvidfast.io.counting import (  # noqa: F401  (re-exported for callers and tests)
    MAX_NUM_FRAMES,
    PACKET_PER_FRAME,
    decode_count,
    demux_count,
    header_count,
)
from pyvidfast.io.errors import RemoteIOError, RemoteNotFoundError, ffmpeg_text
from pyvidfast.io.mp4 import moov_info
from pyvidfast.io.mp4_trust import HeaderProblem, header_distrust
from pyvidfast.io.remote import open_remote
from pyvidfast.io.source import open_bytes
from pyvidfast.io.storage import is_remote, walk_remote_nals
from pyvidfast.io.ts_start import (  # noqa: F401
    annexb_nal_types,
    clean_ts_start,
    pmt_stream_types,
)

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

# Passed to avformat_find_stream_info's probe decoders too (PyAV hands the open options to each
# stream it already knows): deblocking changes no parameter it looks for (size, pixel format,
# decode delay), and skipping it makes the frames it decodes cheaper.
_PROBE_OPTIONS = {"skip_loop_filter": "all"}


@dataclass(frozen=True)
class VideoProbe:
    """What ``probe_video`` found.

    ``method`` says where ``num_frames`` came from: ``moov``, ``header``, ``demux``, ``bad_nal``,
    ``decode``, ``image`` or ``failed``. ``error`` is a short reason when the row is a failure (``num_frames == 0``),
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


def failed(reason: str, **extra: str) -> VideoProbe:
    """The failure result: Open-Sora's ``0, 0, 0, NaN`` values with the reason."""
    return VideoProbe(0, 0, 0, math.nan, "failed", reason, **extra)


def _fps(stream: VideoStream) -> float:
    rate = stream.average_rate
    return float(rate) if rate is not None else math.nan


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {ffmpeg_text(exc)}"[:200]


def is_image(path: str) -> bool:
    """True when Open-Sora treats ``path`` as an image (by extension, case-insensitive)."""
    return os.path.splitext(str(path))[1].lower() in IMG_EXTENSIONS


def probe_image(path: str, exact: bool = False) -> VideoProbe:
    """Image size from its header (``exact``: decode it fully, as Open-Sora's ``convert``)."""
    from PIL import Image

    if not is_remote(path) and not os.path.exists(path):
        return failed(f"missing file: {path}")
    try:
        with Image.open(_readable(path)) as img:
            if exact:
                img.load()
            width, height = img.size
    except RemoteNotFoundError:
        return failed(f"missing file: {path}")
    except RemoteIOError as exc:
        return failed(f"I/O error: {exc.reason}")
    except Exception as exc:
        return failed(f"cannot open image: {_short(exc)}")
    return VideoProbe(1, height, width, math.nan, "image")


def _readable(path: str) -> str | BinaryIO:
    """A path as it is, a URL opened by byte ranges (a ``RangeReader``: the ``BinaryIO`` it
    stands in for, as ``io.source.as_seekable`` says)."""
    return cast(BinaryIO, open_remote(path)) if is_remote(path) else path


def _header_distrust(path: Bytes, walk_nals: bool) -> HeaderProblem | None:
    """Why an MP4/MOV's sample tables cannot stand in for a decode (io/mp4_trust.py), or None."""
    try:
        return header_distrust(path, walk_nals)
    except (ValueError, IndexError, OSError):
        return HeaderProblem("sample tables that cannot be read")  # count by decoding


def _moov_probe(path: Bytes) -> VideoProbe | None:
    try:
        found = moov_info(path)
    except (ValueError, IndexError, OSError):
        return None  # anything unexpected: FFmpeg decides
    if found is None:
        return None
    return VideoProbe(*found[:4], "moov", None, found.codec, "mov,mp4")


# Note [no probe decode]
#     H.264/HEVC in Matroska/WebM and MPEG-TS, VP9 in Matroska/WebM, and MP4s counted from a bad
#     NAL or a cut open without FFmpeg's probe decode (``skip_frame``; an 8K frame costs 150 ms).
#     Size, fps and count do not depend on it; the SPS's size equal to the open's (for VP9: the
#     first key frame's header) replaces the decoded-picture check. docs/notes.md; Note [header size].

# No probe decoder opens at all ("none" names no decoder): with skip_frame alone, FFmpeg's H.264
# decoder still splits and unescapes every NAL the probe reads (docs/notes.md, same note).
_HEADER_ONLY_OPTIONS = {"skip_frame": "all", "codec_whitelist": "none"}
_HEADER_ONLY_CODECS = frozenset({"h264", "hevc"})
_VP9_OPTIONS = {"skip_frame": "nonkey"}  # VP9's probe decode ignores "all"

# Matroska whose video tracks all have a DefaultDuration (bitstream/ebml.py): FFmpeg takes the
# average rate from it, so the probe reads one packet, not 5 MB (docs/notes.md, same note).
_SHORT_PROBE = {"probesize": "32", "analyzeduration": "0"}
_NO_PARSER = {"fflags": "noparse"}  # H.264/HEVC in Matroska: Note [header size] in docs/notes.md
_FLV_HEADER_ONLY_CODECS = frozenset({"h264", "hevc"})
# TS stream types that may carry H.264 or HEVC: 0x1B, 0x24, and private data (0x06)
_TS_HEADER_ONLY_TYPES = frozenset({0x1B, 0x24, 0x06})


def _header_only_format(source: Bytes) -> dict[str, str] | None:
    """The open options for Matroska/WebM naming an H.264, HEVC or VP9 track in its first 64 KiB,
    or MPEG-TS; None for other files."""
    with open_bytes(source) as f:
        f.seek(0)
        head = f.read(1 << 16)
    if head[:4] == EBML_MAGIC:
        if b"V_MPEG4/ISO/AVC" in head or b"V_MPEGH/ISO/HEVC" in head:
            options = _HEADER_ONLY_OPTIONS
        elif b"V_VP9" in head:
            options = _VP9_OPTIONS
        else:
            return None
        durations = video_default_durations(head)
        if durations and None not in durations:
            short = {**options, **_SHORT_PROBE}
            return {**short, **_NO_PARSER} if options is _HEADER_ONLY_OPTIONS else short
        return options
    if flv_video_codec(head) in _FLV_HEADER_ONLY_CODECS:
        return _HEADER_ONLY_OPTIONS
    if len(head) <= 188 or not head[0] == head[188] == 0x47:
        return None
    types = pmt_stream_types(head)
    if types is not None and not _TS_HEADER_ONLY_TYPES & set(types):
        return None  # MPEG-2, MPEG-4 Part 2, ...: the full open at once, not after this one
    return _HEADER_ONLY_OPTIONS


def _open_without_probe_decode(source: Bytes, options: dict[str, str]) -> InputContainer | None:
    """The FFmpeg container of ``source`` opened with ``options`` from its start, or None (the
    full open that follows reports why)."""
    if not isinstance(source, str):
        source.seek(0)
    try:
        return av.open(source, mode="r", metadata_errors="ignore", options=options)
    except Exception:
        return None


def _header_only_probe(source: Bytes, options: dict[str, str]) -> VideoProbe | None:
    """The demuxed row without FFmpeg's probe decode (Note [no probe decode]), or None."""
    container = _open_without_probe_decode(source, options)
    if container is None:
        return None
    with container:
        stream = container.streams.video[0] if container.streams.video else None
        cc = stream.codec_context if stream is not None else None
        vp9 = cc is not None and cc.name == "vp9" and options["skip_frame"] == "nonkey"
        if (
            stream is None
            or cc is None
            or not (vp9 or cc.name in _HEADER_ONLY_CODECS)
            or min(cc.width, cc.height) <= 0
        ):
            return None
        size = (cc.width, cc.height)
        if not vp9 and declared_size(cc.name, cc.extradata) != size:
            return None  # Note [header size]
        first = (lambda data: vp9_keyframe_size(data) == size) if vp9 else None
        count = demux_count(container, stream, stream.frames or MAX_NUM_FRAMES, first)
        if not count:
            return None
        info = {"codec": cc.name, "container": container.format.name}
        return VideoProbe(count, cc.height, cc.width, _fps(stream), "demux", None, **info)


def probe_video(path: str, exact_frames: bool = False, nal_walk: bool | None = None) -> VideoProbe:
    """Frame count, decoded size and average fps of the first video stream of ``path``.

    Never raises for bad input: a missing, unreadable or undecodable file gives ``failed(...)``
    with the reason. See Note [frame count] for where the count comes from; ``path`` may be a
    URL (Note [remote NAL walk]; ``nal_walk`` None: ``--remote-nal-walk``'s setting).
    """
    path = os.fspath(path)
    if is_remote(path):
        walk = walk_remote_nals() if nal_walk is None else nal_walk
        return _remote_probe(path, exact_frames, walk)
    if not os.path.exists(path):
        return failed(f"missing file: {path}")
    if os.path.isdir(path):
        return failed(f"not a file: {path}")
    return _probe(path, path, exact_frames, True)


def _remote_probe(url: str, exact_frames: bool, walk_nals: bool) -> VideoProbe:
    """``probe_video`` of a URL: an I/O error that outlived the retries is that, not a verdict
    on the file (FFmpeg may have taken the failed read for the end of the file)."""
    try:
        with open_remote(url) as f:
            found = _probe(url, cast(BinaryIO, f), exact_frames, walk_nals)
    except RemoteNotFoundError:
        return failed(f"missing file: {url}")
    except RemoteIOError as exc:
        return failed(f"I/O error: {exc.reason}")
    return failed(f"I/O error: {f.failure.reason}") if f.failure is not None else found


def _probe(path: str, source: Bytes, exact_frames: bool, walk_nals: bool) -> VideoProbe:
    if isinstance(source, str):
        # One descriptor for every header reader (the type check, the box walk, the NAL walk,
        # the moov); FFmpeg opens the path itself, reading it faster than through Python.
        with open(source, "rb") as head:
            return _probe_from(path, source, head, exact_frames, walk_nals)
    return _probe_from(path, source, source, exact_frames, walk_nals)


def _probe_from(
    path: str, source: Bytes, head: BinaryIO, exact_frames: bool, walk_nals: bool
) -> VideoProbe:
    """``_probe`` with the file's headers read from ``head`` and FFmpeg opening ``source``."""
    if not exact_frames and is_iso_bmff(head):
        problem = _header_distrust(head, walk_nals)
        exact_frames = problem is not None
        found = _bad_nal_probe(source, problem) if problem is not None else _moov_probe(head)
        if found is not None:
            return found
    elif not exact_frames and (options := _header_only_format(head)) is not None:
        found = _header_only_probe(source, options)
        if found is not None:
            return found
    if not isinstance(source, str):
        source.seek(0)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore", options=_PROBE_OPTIONS)
    except Exception as exc:
        return failed(f"cannot open: {_short(exc)}")
    with container:
        return _container_probe(container, path, exact_frames)


def _bad_nal_probe(source: Bytes, problem: HeaderProblem) -> VideoProbe | None:
    """The row counted from the first bad NAL or a clean cut (Note [first bad NAL], Note [cut
    short]), or None to decode. Opened without the probe decode (Note [no probe decode]): the
    rule reads the sample index, the start time and the SPS, none of which a decoded frame
    changes (the reorder depth comes from the SPS, not the probe decoder)."""
    if problem.bad_sample is None and problem.end_sample is None:
        return None
    container = _open_without_probe_decode(source, _HEADER_ONLY_OPTIONS)
    if container is None:
        return None
    with container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        cc = stream.codec_context
        if declared_size("h264", cc.extradata) != (cc.width, cc.height):  # Note [header size]
            return None
        count = count_before_bad_nal(container, stream, problem)
        if count is None:
            return None
        info = {"codec": "h264", "container": container.format.name}
        if count == 0:
            return failed("no decodable frame", **info)
        return VideoProbe(count, cc.height, cc.width, _fps(stream), "bad_nal", None, **info)


def _container_probe(container: InputContainer, path: str, exact_frames: bool) -> VideoProbe:
    if not container.streams.video:
        return failed("no video stream", container=container.format.name)
    stream = container.streams.video[0]
    cc = stream.codec_context
    if cc is None:  # no decoder for this codec tag (found by tests/test_fuzz.py)
        return failed("no decoder for the video stream", container=container.format.name)
    info = {"codec": cc.name, "container": container.format.name}
    fps = _fps(stream)
    cap = stream.frames if stream.frames > 0 else MAX_NUM_FRAMES
    decodable = cc.pix_fmt is not None and cc.width > 0 and cc.height > 0
    try:
        if not exact_frames and decodable:
            count, method = header_count(container, stream), "header"
            if count is None and (cc.name in PACKET_PER_FRAME or cc.name == "mpeg4"):
                count, method = demux_count(container, stream, cap), "demux"
                if count is None:  # packets were read: decode from the start in a fresh open
                    return probe_video(path, exact_frames=True)
            if count == 0:
                return failed("no decodable frame", **info)
            if count is not None:
                return VideoProbe(count, cc.height, cc.width, fps, method, None, **info)
        count, height, width = decode_count(container, stream, cap)
    except Exception as exc:
        return failed(f"read error: {_short(exc)}", **info)
    if height == 0:
        return failed("no decodable frame", **info)
    if count == 0:  # frames decoded, but all before pts 0: the reference's row, flagged
        return VideoProbe(0, height, width, fps, "decode", "no frame with pts >= 0", **info)
    return VideoProbe(count, height, width, fps, "decode", None, **info)

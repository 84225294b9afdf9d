"""Matroska/WebM: the video tracks' ``DefaultDuration`` from the file's first bytes.

FFmpeg's Matroska demuxer sets a video stream's average frame rate from ``DefaultDuration`` when
the track has one; only a track without it gets the rate ``avformat_find_stream_info`` measures
over the packets it reads (``io/probe.py``, Note [no probe decode]).
"""

from __future__ import annotations

from collections.abc import Iterator

_EBML = 0x1A45DFA3
_SEGMENT = 0x18538067
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83
_DEFAULT_DURATION = 0x23E383
_CLUSTER = 0x1F43B675
_VIDEO = 1
_UNKNOWN = -1  # an element whose size field is all ones: it runs to its parent's end
MAGIC = _EBML.to_bytes(4, "big")  # the first four bytes of every Matroska/WebM file


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """One EBML variable-length integer at ``pos``: (value, position after it)."""
    first = data[pos]
    length = 9 - first.bit_length()
    if not 1 <= length <= 8 or pos + length > len(data):
        raise ValueError("bad EBML length")
    value = int.from_bytes(data[pos : pos + length], "big")
    if keep_marker:  # element IDs keep their length marker bit
        return value, pos + length
    value &= (1 << (7 * length)) - 1
    return (_UNKNOWN if value == (1 << (7 * length)) - 1 else value), pos + length


def _elements(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, payload start, payload end) of the elements in ``data[pos:end]``; an unknown size
    runs to ``end``; stops at anything cut off."""
    while pos < end:
        element, pos = _vint(data, pos, True)
        size, pos = _vint(data, pos, False)
        stop = end if size == _UNKNOWN else pos + size
        yield element, pos, stop
        if size == _UNKNOWN:
            return
        pos = stop


def video_default_durations(head: bytes) -> list[int | None] | None:
    """``DefaultDuration`` (ns, None when absent) of every video track, in track order, read from
    ``head`` (the file's first bytes); None when they are not all there (no Matroska header, the
    Tracks element cut off or missing before the first cluster, a malformed element)."""
    try:
        for element, start, stop in _elements(head, 0, len(head)):
            if element == _SEGMENT:
                return _segment_tracks(head, start, stop)
            if element != _EBML:
                return None
    except (ValueError, IndexError):
        return None
    return None


def _segment_tracks(head: bytes, start: int, stop: int) -> list[int | None] | None:
    for element, s, e in _elements(head, start, min(stop, len(head))):
        if element == _CLUSTER:
            return None  # tracks after the first cluster: not in the head
        if element == _TRACKS:
            if e > len(head):
                return None
            tracks = [
                _track(head, ts, te) for i, ts, te in _elements(head, s, e) if i == _TRACK_ENTRY
            ]
            return [duration for kind, duration in tracks if kind == _VIDEO]
    return None


def _track(head: bytes, start: int, stop: int) -> tuple[int, int | None]:
    """(TrackType, DefaultDuration or None) of one TrackEntry."""
    kind, duration = 0, None
    for element, s, e in _elements(head, start, stop):
        if element == _TRACK_TYPE:
            kind = int.from_bytes(head[s:e], "big")
        elif element == _DEFAULT_DURATION:
            duration = int.from_bytes(head[s:e], "big") or None
    return kind, duration

"""``StreamIndex``: the pictures of one video stream, found once on open (Note [frame index]).

Built from the demuxed packets when they can be trusted (``demuxed_index``), else from the
frames a full decode gives (``decoded_index``). Immutable: a reader that finds its index wrong
builds a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av
    from av.video.stream import VideoStream

__all__ = ["StreamIndex", "decoded_index", "demuxed_index", "gives_picture"]


@dataclass(frozen=True)
class StreamIndex:
    """Frame ``i`` has pts ``pts[i]`` (sorted); decoding can start at the ``keys`` indices.

    ``pts`` is None for a stream without usable timestamps: its ``count`` frames are counted
    from the start. ``discarded`` holds the pts of packets the demuxer discards (an MP4 edit
    list's pre-roll: decord counts them, Note [padded count] in io/indices.py); ``durations``
    maps pts to packet duration; ``verified`` says the index came from decoded frames.
    """

    pts: tuple[int, ...] | None
    keys: tuple[int, ...]
    count: int
    discarded: tuple[int, ...] = ()
    durations: dict[int, int] = field(default_factory=dict)
    verified: bool = False
    index_of: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index_of = {p: i for i, p in enumerate(self.pts or ())}
        object.__setattr__(self, "index_of", index_of)


def gives_picture(packet: av.Packet[VideoStream]) -> bool:
    """A packet the index counts as a picture: not empty (AVI "dropped frames"), not discarded
    by an edit list, with a pts."""
    return packet.size > 0 and not packet.is_discard and packet.pts is not None


def demuxed_index(packets: Iterable[av.Packet[VideoStream]]) -> StreamIndex | None:
    """The index from PyAV packets of one stream, or None when they cannot be trusted (a corrupt
    packet, a demux error, a missing or repeated pts, no keyframe)."""
    pts: list[int] = []
    discarded: list[int] = []
    durations: dict[int, int] = {}
    key_pts: list[int] = []
    try:
        for packet in packets:
            if packet.size == 0:  # AVI "dropped frames": not pictures
                continue
            if packet.pts is None or packet.is_corrupt:
                return None
            durations[packet.pts] = packet.duration or 0
            (discarded if packet.is_discard else pts).append(packet.pts)
            if packet.is_keyframe:
                key_pts.append(packet.pts)
    except Exception:  # a broken container part-way: decoding will tell what is there
        return None
    if not pts or len(set(pts)) != len(pts) or not key_pts:
        return None
    pts.sort()
    position = {p: i for i, p in enumerate(pts)}
    keys = tuple(sorted(position[k] for k in key_pts if k in position)) or (0,)
    return StreamIndex(tuple(pts), keys, len(pts), tuple(discarded), durations)


def decoded_index(pts: list[int | None], durations: dict[int, int]) -> StreamIndex:
    """The index of the frames a full decode gave, in output order (``pts`` not empty)."""
    if None not in pts and all(a < b for a, b in zip(pts, pts[1:])):  # type: ignore[operator]
        return StreamIndex(tuple(pts), (0,), len(pts), (), durations, verified=True)  # type: ignore[arg-type]
    return StreamIndex(None, (0,), len(pts), verified=True)

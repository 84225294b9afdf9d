"""Frame numbers for NVDEC's output, from the CPU reader's index (the one truth for both backends).

Note [stamps]
    PyNvVideoCodec stamps a frame ``pts + (dts0 - pts0)`` of the first video packet (measured on
    an H200), so frame ``i`` is ``index_of[stamp - shift]`` with the shift read from the
    container (``StreamInfo.stamp_shift``), never inferred from frames. After a feed from
    keyframe ``K`` frames must come out as ``K, K+1, ...``; anything else is a
    ``NumberingError`` and the file goes to the CPU. Details: docs/notes.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyvidfast.io.indices import frame_indices
from pyvidfast.io.keyframes import keyframe_before

if TYPE_CHECKING:
    from pyvidfast.io.reader import Indices

__all__ = ["FrameNumbering", "FrameOrder", "LateSeek", "NumberingError", "plan_indices"]


class NumberingError(Exception):
    """NVDEC's frames cannot be proven to be the CPU index's frames (the file goes to the CPU)."""


class LateSeek(NumberingError):
    """The seek landed after the keyframe (an approximate container seek): retry from the start."""


@dataclass(frozen=True)
class FrameNumbering:
    """The CPU index seen from NVDEC: frame ``i`` has presentation timestamp ``pts[i]``.

    Args:
        pts: frame ``i``'s pts, increasing (``VideoReader.frame_pts``).
        keys: indices of the keyframes decoding can start from (``get_key_indices()``).
        stamp_shift: ``dts0 - pts0`` of the container's first video packet (Note [stamps]).
    """

    pts: Sequence[int]
    keys: Sequence[int]
    stamp_shift: int
    _index_of: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index_of", {int(p): i for i, p in enumerate(self.pts)})

    def __len__(self) -> int:
        return len(self.pts)

    def index_of_stamp(self, stamp: int) -> int:
        """Frame index of an NVDEC stamp; ``NumberingError`` when no frame has it."""
        index = self._index_of.get(int(stamp) - self.stamp_shift)
        if index is None:
            raise NumberingError(
                f"NVDEC stamp {stamp} minus the container's dts0-pts0 ({self.stamp_shift}) is "
                "no frame's pts"
            )
        return index

    def keyframe_before(self, index: int) -> int:
        """The last keyframe at or before ``index`` (decoding of ``index`` starts there)."""
        return keyframe_before(self.keys, index)


class FrameOrder:
    """Checks that frames come out as ``start, start+1, ...`` (Note [stamps])."""

    def __init__(self, numbering: FrameNumbering, start: int) -> None:
        self.numbering = numbering
        self.start = start
        self.next = start

    def accept(self, stamp: int) -> int | None:
        """The frame's index, or None for a leading picture before ``start`` (not used)."""
        index = self.numbering.index_of_stamp(stamp)
        if index < self.start and self.next == self.start:
            return None
        if index > self.next and self.next == self.start and self.start > 0:
            raise LateSeek(f"the seek to keyframe {self.start} landed at frame {index}")
        if index != self.next:
            raise NumberingError(
                f"after a seek to keyframe {self.start} NVDEC gave frame {index} where frame "
                f"{self.next} was due"
            )
        self.next += 1
        return index


def plan_indices(
    indices: Indices, length: int, path: str = "<video>", padded_from: int | None = None
) -> tuple[list[int], list[int]]:
    """``(distinct, rows)``: the sorted distinct frames to decode, and for every requested
    index its row in ``distinct``. Negative indices count from the end (as decord); any index
    outside ``[-length, length)`` raises ``FrameIndexError``; non-integers raise ``TypeError``;
    indices from ``padded_from`` on are the picture before it (``VideoReader.padded_from``).
    Repeats are restored from ``rows``, never asked of the decoder twice.
    """
    request = frame_indices(indices, length, path, padded_from)  # the one check (io/indices.py)
    if request.order is None:
        return request.distinct, list(range(len(request.distinct)))
    return request.distinct, request.order.tolist()

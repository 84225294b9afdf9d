"""decord's rotation, ``width``/``height`` resize and RGB conversion: the graph decord 0.6.0 runs.

decord turns the frame upright and scales it in one FFmpeg filter graph (``transpose=1`` for 90
degrees, twice for 180, ``transpose=2`` for 270, then ``scale=W:H``, whose default swscale flags
are ``bilinear``, converting to rgb24 in the same step). PyAV's ``VideoFrame.reformat`` with
bilinear interpolation does not give the same pixels (72% within 2 levels on a test pattern),
while the same graph run through ``av.filter`` gives decord's exactly (measured against decord
in tests/test_decord_parity.py), so resized frames go through that graph. Turned frames too:
transposing the YUV planes there is cheaper than writing RGB rows through a rotated view (on a
4K frame the graph costs what ``reformat`` alone does; the strided RGB copy 10x more).

Note [decord chroma rows]
    decord's FFmpeg 4.1 swscale writes each RGB row of a 4:2:0 frame scaled to its own height
    from one chroma row or the plain average of two (and its last row specially); FFmpeg 8
    weights them 1/4 and 3/4. ``in_v_chr_pos=256`` (and ``-256`` for the last row) gives decord's
    rows bit for bit on the corpus; odd output sizes are not reproduced. 8-bit 4:2:0, 4:2:2 and
    4:4:4 at their own size convert the same in both and stay on ``reformat``. Details: docs/notes.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import cast

import av
import av.filter
import numpy as np
import numpy.typing as npt
from av.filter.context import FilterContext

__all__ = ["DecordScaler", "plain_conversion_matches", "plain_rgb"]

_TRANSPOSE: dict[int, list[str]] = {0: [], 90: ["1"], 180: ["1", "1"], 270: ["2"]}
# Formats whose rgb24 conversion at the frame's own size is the same in FFmpeg 8 as in decord's
# FFmpeg 4.1 (swscale's unscaled converters; Note [decord chroma rows]). 8-bit 4:2:2 and 4:4:4
# have no chroma rows to weigh: equal to decord 0.6.0 itself at odd sizes too
# (tests/test_decord_parity.py), and the plain path skips the graph's per-frame push and pull.
_PLAIN_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"})


def plain_conversion_matches(frame: av.VideoFrame) -> bool:
    """Does ``VideoFrame.reformat(format="rgb24")`` give decord's pixels for ``frame``?"""
    return frame.format.name in _PLAIN_FORMATS


def _chain(
    graph: av.filter.Graph, last: FilterContext, steps: Iterable[tuple[str, str | None]]
) -> FilterContext:
    """Link ``steps`` (``(filter, args)``) after ``last``; the last one is returned."""
    for name, args in steps:
        node = graph.add(name, args)
        last.link_to(node)
        last = node
    return last


def _sink(graph: av.filter.Graph, last: FilterContext, output: int = 0) -> FilterContext:
    sink = graph.add("buffersink")
    last.link_to(sink, output, 0)
    return sink


def _rgb_rows(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width * 3].reshape(frame.height, frame.width, 3)


class DecordScaler:
    """Frames -> upright, ``width`` x ``height`` RGB uint8 ``[H, W, 3]`` arrays, as decord."""

    def __init__(self, rotation: int, width: int, height: int) -> None:
        self.rotation, self.width, self.height = rotation, width, height
        self._graph: av.filter.Graph | None = None
        self._sinks: tuple[FilterContext, ...] = ()
        self._key: tuple[int, int, str] | None = None

    def _build(self, frame: av.VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        last = graph.add_buffer(
            width=frame.width,
            height=frame.height,
            format=frame.format.name,  # type: ignore[arg-type]  # PyAV's stub: it takes a name too
            time_base=frame.time_base or Fraction(1),
        )
        last = _chain(graph, last, [("transpose", t) for t in _TRANSPOSE[self.rotation]])
        rows, cols = frame.height, frame.width
        if self.rotation in (90, 270):
            rows, cols = cols, rows
        # Note [decord chroma rows]: the height kept, half as many chroma rows, and not the
        # unscaled 8-bit conversion (the same in both FFmpeg versions)
        unscaled = (cols, rows) == (self.width, self.height) and plain_conversion_matches(frame)
        halved = rows == self.height and rows % 2 == 0 and not unscaled
        halved = halved and frame.format.chroma_height(rows) == rows // 2
        size = f"{self.width}:{self.height}:flags=bilinear"
        main: list[tuple[str, str | None]] = [
            ("scale", f"{size}:in_v_chr_pos=256" if halved else size),
            ("format", "rgb24"),
        ]
        if halved and rows >= 8 and self.width % 2 == 0:
            split = _chain(graph, last, [("split", "2")])
            self._sinks = (_sink(graph, _chain(graph, split, main)),)
            # decord's last row: the first row of the flipped bottom, its chroma a row higher
            scale = f"{self.width}:8:flags=bilinear:in_v_chr_pos=-256"
            node = graph.add("null")
            split.link_to(node, 1, 0)
            steps: list[tuple[str, str | None]] = [
                ("vflip", None),
                ("crop", "iw:8:0:0"),
                ("scale", scale),
                ("format", "rgb24"),
            ]
            self._sinks += (_sink(graph, _chain(graph, node, steps)),)
        else:
            self._sinks = (_sink(graph, _chain(graph, last, main)),)
        graph.configure()
        self._graph = graph
        self._key = (frame.width, frame.height, frame.format.name)
        return graph

    def __call__(self, frame: av.VideoFrame, out: npt.NDArray[np.uint8]) -> None:
        """Convert ``frame`` into ``out`` (``[height, width, 3]`` uint8)."""
        graph = self._graph
        if graph is None or self._key != (frame.width, frame.height, frame.format.name):
            graph = self._build(frame)  # the first frame, or a mid-stream change of size or format
        graph.push(frame)
        # a buffersink after rgb24 video filters gives video frames
        out[...] = _rgb_rows(cast(av.VideoFrame, self._sinks[0].pull()))
        if len(self._sinks) == 2:
            out[-1] = _rgb_rows(cast(av.VideoFrame, self._sinks[1].pull()))[0]


def plain_rgb(frame: av.VideoFrame, out: npt.NDArray[np.uint8]) -> None:
    """Convert ``frame`` into ``out`` (``[H, W, 3]`` uint8) with a single copy, unturned; a
    frame of another size (a mid-stream change) is scaled to ``out``'s, as decord does."""
    h, w = out.shape[:2]
    # One swscale thread: the conversion runs while FFmpeg's frame threads decode the next
    # frames, and swscale's own threads only compete with them (measured on the 2-core VM:
    # decode + convert at 148 frames/s with one, 120 with swscale's default, 151 decode alone;
    # the resize graph below gains from its threads and keeps them).
    if frame.width != w or frame.height != h:
        rgb = frame.reformat(width=w, height=h, format="rgb24", threads=1)
    else:
        rgb = frame.reformat(format="rgb24", threads=1)
    plane = rgb.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(h, plane.line_size)
    out.reshape(h, w * 3)[...] = rows[:, : w * 3]  # whole rows: a 3-byte inner loop is 10x slower

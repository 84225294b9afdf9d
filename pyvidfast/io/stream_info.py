"""``StreamInfo``: what a reader knows of its video stream on open, for both backends.

Read once by ``FFmpegDecoder`` from the container it opened (no decoding); the NVDEC reader takes
its format, rotation and stamp shift from the same value instead of opening the file again.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, BinaryIO

from pyvidfast.io.orientation import decord_rotation
from pyvidfast.io.stream_format import StreamFormat, stream_format_of
from pyvidfast.io.stream_index import gives_picture

if TYPE_CHECKING:
    import av
    from av.container import InputContainer
    from av.video.stream import VideoStream

__all__ = ["StreamInfo", "first_usable_shift", "read_stream_info"]


@dataclass(frozen=True)
class StreamInfo:
    """The video stream's header facts.

    ``format`` is the stored picture (codec, pixel format, size before rotation, colour
    description) and ``extradata`` its decoder configuration; ``rotation`` the clockwise turn
    decord applies (io/orientation.py); ``stamp_shift`` the first usable packet's ``dts - pts``
    (Note [stamps] in io/nvdec/numbering.py), set once the index is read.
    """

    stream_index: int
    container_format: str
    format: StreamFormat
    rotation: int
    time_base: Fraction
    avg_fps: float
    sample_aspect_ratio: Fraction | None
    extradata: bytes = field(default=b"", repr=False)
    stamp_shift: int = 0

    @property
    def codec(self) -> str:
        return self.format.codec

    def with_size(self, width: int, height: int) -> StreamInfo:
        """The same facts with the stored size a decoded frame gave (the header had none)."""
        size = dataclasses.replace(self.format, width=width, height=height)
        return dataclasses.replace(self, format=size)


def read_stream_info(
    container: InputContainer, stream: VideoStream, source: str | os.PathLike[str] | BinaryIO
) -> StreamInfo:
    """``StreamInfo`` of PyAV ``stream`` in ``container``; ``source`` is the file they read (the
    display matrix is read from its ``moov``, Note in io/orientation.py)."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    # decord reports the stream's average frame rate; fall back to FFmpeg's guess
    rates = (stream.average_rate, stream.guessed_rate, stream.base_rate)
    assert stream.time_base is not None, "FFmpeg gives every demuxed stream a time base"
    return StreamInfo(
        stream_index=int(stream.index),
        container_format=str(container.format.name),
        format=stream_format_of(stream),
        rotation=decord_rotation(stream, source),
        time_base=Fraction(stream.time_base),
        avg_fps=next((float(r) for r in rates if r is not None and r > 0), 0.0),
        sample_aspect_ratio=Fraction(sar) if sar else None,
        extradata=bytes(stream.codec_context.extradata or b""),
    )


def first_usable_shift(packet: av.Packet[VideoStream]) -> int | None:
    """``dts - pts`` of a packet that gives a picture (0 without a dts), None for one that does
    not (empty, discarded by an edit list, or without a pts)."""
    if not gives_picture(packet) or packet.pts is None:
        return None
    return 0 if packet.dts is None else int(packet.dts) - packet.pts

"""Our own packets for NVDEC: demuxed by FFmpeg (PyAV), sought from our index, in Annex B.

NVDEC's parser wants H.264/HEVC as an Annex B elementary stream; MP4 and Matroska store
length-prefixed NAL units, so those packets go through FFmpeg's ``*_mp4toannexb`` filter (what
PyNvVideoCodec's own demuxer does). Seeking is ours: the container is sought to the pts of the
keyframe before the first wanted frame (from the CPU index), never by a frame number that the
decoder library works out for itself (SimpleDecoder's index seek returned wrong frames after a
seek into a later GOP of nasa_13013.mp4; ../shared/gpu/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from av.bitstream import BitStreamFilterContext
from av.container import InputContainer

from pyvidfast.io.decoder import FFmpegDecoder
from pyvidfast.io.stream_index import gives_picture

if TYPE_CHECKING:
    pass

__all__ = ["Packet", "PacketSource"]

ANNEX_B_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


@dataclass(frozen=True)
class Packet:
    """One compressed frame for the decoder (decode order)."""

    data: bytes
    pts: int
    dts: int | None
    is_keyframe: bool


class PacketSource:
    """Packets of a reader's video stream, from any keyframe pts on (``packets(start_pts)``),
    demuxed from the reader's own container (Note [one open] in io/opening.py)."""

    def __init__(self, reader: FFmpegDecoder) -> None:
        self._reader = reader
        self.codec = reader.codec
        extradata = reader.info.extradata
        # Only length-prefixed streams (avcC/hvcC extradata, version byte 1) need the filter;
        # MPEG-TS and raw streams are Annex B already.
        length_prefixed = extradata[:1] == b"\x01"
        self._filter_name = ANNEX_B_FILTERS.get(self.codec) if length_prefixed else None

    def packets(self, start_pts: int | None) -> Iterator[Packet]:
        """Decode-order packets from the keyframe with pts ``start_pts`` (None: the start)."""
        stream = self._reader.demux_from(start_pts)
        bsf = BitStreamFilterContext(self._filter_name, stream) if self._filter_name else None
        started = start_pts is None
        container = stream.container
        assert isinstance(container, InputContainer), "the reader's stream is demuxed (an input)"
        for packet in container.demux(stream):
            if not gives_picture(packet):  # as the CPU index counts pictures
                continue
            key = bool(packet.is_keyframe)  # read first: filtering takes the packet's data
            # An approximate seek (MPEG-TS) can land before the keyframe: nothing before it
            # decodes, and the frame numbering starts at the keyframe anyway.
            started = started or key
            if not started:
                continue
            for out in bsf.filter(packet) if bsf is not None else (packet,):
                assert out.pts is not None, "the Annex B filters keep a usable packet's pts"
                yield Packet(bytes(out), int(out.pts), out.dts, key)

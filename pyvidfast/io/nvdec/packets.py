"""Our own packets for NVDEC: demuxed by FFmpeg (PyAV), sought from our index, in Annex B.

NVDEC's parser wants H.264/HEVC as an Annex B elementary stream; MP4 and Matroska store
length-prefixed NAL units, so those packets go through FFmpeg's ``*_mp4toannexb`` filter (what
PyNvVideoCodec's own demuxer does). Seeking is ours: the container is sought to the pts of the
keyframe before the first wanted frame (from the CPU index), never by a frame number that the
decoder library works out for itself (SimpleDecoder's index seek returned wrong frames after a
seek into a later GOP of nasa_13013.mp4; ../shared/gpu/README.md).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
from av.bitstream import BitStreamFilterContext

from pyvidfast.io.remote import open_remote
from pyvidfast.io.storage import is_remote

__all__ = ["Packet", "PacketSource", "first_packet_shift"]

ANNEX_B_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


@dataclass(frozen=True)
class Packet:
    """One compressed frame for the decoder (decode order)."""

    data: bytes
    pts: int
    dts: int | None
    is_keyframe: bool


def _open(source) -> av.container.InputContainer:
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    elif isinstance(source, os.PathLike):
        source = os.fspath(source)
    elif is_remote(source):  # FFmpeg's own http/s3 would read without our retries
        source = open_remote(source)
    return av.open(source, mode="r", metadata_errors="ignore")


def _usable(packet) -> bool:
    # As the CPU index (Note [frame index] in pyvidfast/io/reader.py): empty and discarded
    # packets never give a frame.
    return packet.size > 0 and not packet.is_discard and packet.pts is not None


def first_packet_shift(source, stream_index: int) -> int:
    """``dts0 - pts0`` of the stream's first usable packet (Note [stamps]; 0 without a dts)."""
    with _open(source) as container:
        stream = container.streams[stream_index]
        for packet in container.demux(stream):
            if _usable(packet):
                return 0 if packet.dts is None else int(packet.dts) - int(packet.pts)
    return 0


class PacketSource:
    """Packets of one video stream, from any keyframe pts on (``packets(start_pts)``)."""

    def __init__(self, source, stream_index: int):
        self._source, self._index = source, stream_index
        self._container = _open(source)
        self._stream = self.stream = self._container.streams[stream_index]
        self.codec = self._stream.codec_context.name
        extradata = self._stream.codec_context.extradata or b""
        # Only length-prefixed streams (avcC/hvcC extradata, version byte 1) need the filter;
        # MPEG-TS and raw streams are Annex B already.
        length_prefixed = extradata[:1] == b"\x01"
        self._filter_name = ANNEX_B_FILTERS.get(self.codec) if length_prefixed else None

    def packets(self, start_pts: int | None) -> Iterator[Packet]:
        """Decode-order packets from the keyframe with pts ``start_pts`` (None: the start)."""
        if start_pts is None:
            # Reopened rather than sought to 0: a seek before the first pts is approximate in
            # MPEG-TS and can land past the first frames.
            self._container.close()
            self._container = _open(self._source)
            self._stream = self.stream = self._container.streams[self._index]
        else:
            self._container.seek(
                int(start_pts), stream=self._stream, backward=True, any_frame=False
            )
        bsf = BitStreamFilterContext(self._filter_name, self._stream) if self._filter_name else None
        started = start_pts is None
        for packet in self._container.demux(self._stream):
            if not _usable(packet):
                continue
            key = bool(packet.is_keyframe)  # read first: filtering takes the packet's data
            # An approximate seek (MPEG-TS) can land before the keyframe: nothing before it
            # decodes, and the frame numbering starts at the keyframe anyway.
            started = started or key
            if not started:
                continue
            for out in bsf.filter(packet) if bsf is not None else (packet,):
                yield Packet(bytes(out), int(out.pts), out.dts, key)

    def close(self) -> None:
        self._container.close()

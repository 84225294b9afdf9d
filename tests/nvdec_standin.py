"""A CPU stand-in for the parts of PyNvVideoCodec the NVDEC checker uses, as measured on an H200.

``GetDecoderCaps`` answers with the H200's limits (../shared/gpu/README.md: H.264 4:2:0 8-bit from
48x16, HEVC 4:2:0 8/10-bit from 144x144, VP9 from 128x128, no AV1). ``CreateDecoder`` refuses
AV1. ``Decode(PacketData)`` reads the bytes the packet points at and decodes them with FFmpeg, so
frames come out as NVDEC returns them: hidden VP9/AV1 frames are decoded without output, frames
are held back until later packets or the end-of-stream flush (an empty packet). Packets whose
bytes' SHA-1 is in ``bad_packets``, and those FFmpeg cannot decode, are "pictures with decode
errors": like NvDecoder, the stand-in prints ``Decode Error occurred for picture N`` through C stdio and goes on, it does not raise.
"""

from __future__ import annotations

import ctypes
import hashlib
from types import SimpleNamespace

import av

CODECS = {"H264": "h264", "HEVC": "hevc", "VP9": "vp9", "AV1": "av1"}
# (codec, bit depths) -> (width_min, height_min, width_max, height_max), 4:2:0 only.
H200_CAPS = {
    ("H264", (8,)): (48, 16, 4096, 4096),
    ("HEVC", (8, 10)): (144, 144, 8192, 8192),
    ("VP9", (8, 10)): (128, 128, 8192, 8192),
}


class PacketData:
    def __init__(self) -> None:
        self.bsl_data = 0
        self.bsl = 0
        self.pts = 0


class StandinDecoder:
    def __init__(self, codec: str, maxwidth: int, maxheight: int, bad_packets: frozenset[str]):
        self.codec = codec
        self.maxwidth, self.maxheight = maxwidth, maxheight
        self.bad_packets = bad_packets
        self.reconfigs: list[tuple[int, int]] = []
        self.pictures = 0
        self._cc = None

    def setReconfigParams(self, width: int, height: int) -> None:  # noqa: N802 (SDK name)
        if width > self.maxwidth or height > self.maxheight:
            raise RuntimeError(
                f"reconfigure {width}x{height} beyond {self.maxwidth}x{self.maxheight}"
            )
        self.reconfigs.append((width, height))

    def Decode(self, packet: PacketData) -> list:  # noqa: N802
        if self._cc is None:
            self._cc = av.CodecContext.create(CODECS[self.codec], "r")
        if packet.bsl == 0:  # end of stream: flush, and start afresh for the next file
            frames = self._cc.decode(None)
            self._cc = None
            return list(frames)
        data = ctypes.string_at(packet.bsl_data, packet.bsl)
        self.pictures += 1
        if hashlib.sha1(data).hexdigest() in self.bad_packets:
            self._status_error()
            return []
        try:
            return list(self._cc.decode(av.Packet(data)))
        except av.FFmpegError:  # a damaged picture: reported, not raised
            self._status_error()
            return []

    def _status_error(self) -> None:
        libc = ctypes.CDLL(None)
        libc.printf(b"Decode Error occurred for picture %d\n", self.pictures)
        libc.fflush(None)


class StandinNvc:
    """``PyNvVideoCodec`` as far as the checker uses it; ``decoders`` lists what was created."""

    cudaVideoCodec = SimpleNamespace(**{k: k for k in CODECS})  # noqa: N815
    cudaVideoChromaFormat = SimpleNamespace(_420="420", _422="422", _444="444", _400="400")  # noqa: N815
    PacketData = PacketData

    def __init__(self, bad_packets: frozenset[str] = frozenset()):
        self.bad_packets = bad_packets
        self.decoders: list[StandinDecoder] = []

    def GetDecoderCaps(self, gpuid, codec, chromaformat, bitdepth) -> dict:  # noqa: N802
        for (name, depths), (wmin, hmin, wmax, hmax) in H200_CAPS.items():
            if name == codec and bitdepth in depths and chromaformat == "420":
                return {
                    "num_decoder_engines": 7,
                    "width_min": wmin,
                    "height_min": hmin,
                    "width_max": wmax,
                    "height_max": hmax,
                }
        return {"num_decoder_engines": 0, "width_max": 0, "height_max": 0}

    def CreateDecoder(self, gpuid, codec, usedevicememory, maxwidth, maxheight):  # noqa: N802
        if codec == "AV1":
            raise RuntimeError("CreateDecoder: AV1 is not supported on this GPU")
        decoder = StandinDecoder(codec, maxwidth, maxheight, self.bad_packets)
        self.decoders.append(decoder)
        return decoder


def packet_sha1(path: str, index: int) -> str:
    """SHA-1 of the bytes NVDEC receives for video packet ``index`` of ``path`` (Annex B)."""
    with av.open(path) as c:
        st = c.streams.video[0]
        bsf = av.bitstream.BitStreamFilterContext(f"{st.codec_context.name}_mp4toannexb", st)
        packets = [p for p in c.demux(st) if p.size]
        return hashlib.sha1(bytes(bsf.filter(packets[index])[0])).hexdigest()

"""A CPU stand-in for NVDEC that behaves as the real one was measured to (../shared/gpu/README.md).

It decodes with FFmpeg (PyAV) underneath and has the ``FrameDecoder`` contract of
``hardware.NvcDecoder``, so the CPU suite runs the reader's numbering, seeking, surface and
fallback logic against the hardware's measured behaviour, and fails on the bugs the H200 showed:

* **stamps** are ``pts + (dts - pts)`` of the first packet fed since the last flush: from the
  start of a file that is the container's ``dts0 - pts0`` (Note [stamps]; measured -1024 on
  x264 B-frame clips, -2002 on nasa_13013.mp4, 0 without B-frames);
* **buffers are unlocked on the next call**: a frame's planes raise after the next ``decode``,
  and its buffer is overwritten (what a reused NVDEC surface shows);
* **size limits**: below or above ``MEASURED_CAPS`` the decoder takes every packet and outputs
  no frame (``cuvidDecodePicture`` returned error 1 and no frame on a 161x121 VP9 and a 128x128
  HEVC clip);
* **no AV1** on Hopper/A100: making an AV1 decoder raises;
* **VP9 hidden frames** (alt-ref) are not output, as FFmpeg's decoder does not output them.

Inject it through the public seam: ``DecoderPool(standin_factory(), size)`` passed as ``pool=``
to ``NvdecVideoReader`` / ``open_video`` / the datasets.
"""

from __future__ import annotations

from typing import Literal

import av
import numpy as np
import torch

from pyvidfast.io.nvdec.caps import MEASURED_CAPS
from pyvidfast.io.nvdec.packets import Packet
from pyvidfast.io.nvdec.pool import DecoderKey, DecoderPool
from pyvidfast.io.nvdec.surfaces import split_packed

__all__ = ["StandinDecoder", "StandinFrame", "standin_pool"]

PYAV_DECODERS: dict[str, Literal["h264", "hevc", "vp9"]] = {
    "H264": "h264",
    "HEVC": "hevc",
    "VP9": "vp9",
}
PITCH_ALIGN = 256  # NVDEC surfaces are pitched; views must honour the pitch
ROW_ALIGN = 16  # luma rows are padded to the coded height (1088 for 1080)
SCRIBBLE = 0x5A


class StandinFrame:
    """A decoded frame in a pitched NV12 (8-bit) or P016 (10-bit) buffer."""

    def __init__(self, frame: av.VideoFrame, stamp: int, bit_depth: int):
        self.stamp = stamp
        self.surface = _surface(frame, bit_depth)
        self.unlocked = False

    def planes(
        self, height: int, width: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.unlocked:
            raise RuntimeError(
                "stand-in NVDEC: this frame's buffer was unlocked by the next Decode call"
            )
        return split_packed(self.surface, height, width)

    def unlock(self) -> None:
        self.unlocked = True
        self.surface.view(torch.uint8).fill_(SCRIBBLE)


def _surface(frame: av.VideoFrame, bit_depth: int) -> torch.Tensor:
    """The frame as one pitched buffer: luma rows padded to the coded height, then UV rows."""
    fmt, dtype = ("nv12", np.uint8) if bit_depth == 8 else ("p010le", np.uint16)
    planes = frame.reformat(format=fmt).planes
    h, w = frame.height, frame.width
    itemsize = np.dtype(dtype).itemsize
    pitch = -(-w * itemsize // PITCH_ALIGN) * PITCH_ALIGN // itemsize
    rows = -(-h // ROW_ALIGN) * ROW_ALIGN
    ch = (h + 1) // 2
    buf = np.full((rows + rows // 2, pitch), 77, dtype)
    luma = np.frombuffer(memoryview(planes[0]), dtype).reshape(-1, planes[0].line_size // itemsize)
    uv = np.frombuffer(memoryview(planes[1]), dtype).reshape(-1, planes[1].line_size // itemsize)
    buf[:h, :w] = luma[:h, :w]
    buf[rows : rows + ch, : 2 * ((w + 1) // 2)] = uv[:ch, : 2 * ((w + 1) // 2)]
    out = torch.from_numpy(buf)
    return out if bit_depth == 8 else out.view(torch.uint16)


class StandinDecoder:
    """NVDEC's measured behaviour for one ``DecoderKey``, decoding with FFmpeg."""

    def __init__(self, key: DecoderKey):
        if key.codec not in PYAV_DECODERS:
            raise RuntimeError(f"stand-in NVDEC: {key.codec}: no NVDEC decoder on this GPU")
        limits = MEASURED_CAPS[key.codec]
        (wmin, hmin), (wmax, hmax) = limits.min_size, limits.max_size
        self.refuses = not (wmin <= key.width <= wmax and hmin <= key.height <= hmax)
        self.key = key
        self.fed: list[Packet] = []  # every packet, for tests of seeking
        self.flushes = 0
        self._out: list[StandinFrame] = []
        self._reset()

    def _reset(self) -> None:
        self._ctx = av.CodecContext.create(PYAV_DECODERS[self.key.codec], "r")
        # Without the container's reorder depth FFmpeg's H.264 decoder guesses it from the first
        # frames and drops a frame that comes out late (mp4__bt601.mov lost frame 1); NVDEC's
        # parser reorders by the DPB and drops none. Strict compliance waits as NVDEC does.
        self._ctx.options = {"strict": "strict"}
        self._shift: int | None = None

    def decode(self, packet: Packet | None) -> list[StandinFrame]:
        for frame in self._out:
            frame.unlock()
        self._out = []
        if packet is None:
            self.flushes += 1
            frames = [] if self.refuses else self._ctx.decode(None)
            shift = self._shift or 0
            self._reset()
        else:
            self.fed.append(packet)
            if self._shift is None:
                self._shift = 0 if packet.dts is None else packet.dts - packet.pts
            shift = self._shift
            if self.refuses:  # error 1 from cuvidDecodePicture, no frame
                return []
            av_packet = av.Packet(packet.data)
            av_packet.pts, av_packet.dts = packet.pts, packet.dts
            frames = self._ctx.decode(av_packet)
        self._out = [StandinFrame(f, _pts(f) + shift, self.key.bit_depth) for f in frames]
        return list(self._out)

    def close(self) -> None:
        self._out = []


def _pts(frame: av.VideoFrame) -> int:
    if frame.pts is None:  # every packet fed has a pts (nvdec.packets.Packet)
        raise RuntimeError("stand-in NVDEC: FFmpeg gave a frame without a pts")
    return frame.pts


def standin_pool(size: int = 2, capability: tuple[int, int] | None = (9, 0)) -> DecoderPool:
    """A ``DecoderPool`` of stand-ins, as an H200's would be (no AV1 at capability 9.0)."""
    return DecoderPool(StandinDecoder, size, capability=capability)

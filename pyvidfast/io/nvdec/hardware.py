"""The real decoder: PyNvVideoCodec's ``CreateDecoder`` fed with our own packets.

Unverified on a GPU in this form (the H200 run measured SimpleDecoder and CreateDecoder over
PyNvVideoCodec's own demuxer); benchmarks/gpu_verify.sh runs it. It satisfies the same
``FrameDecoder`` contract as the stand-in (``pyvidfast.io.nvdec.standin``):

* ``decode(packet)`` feeds one ``Packet`` (``None``: end of stream, which flushes the frames
  still held for reordering) and returns the frames that came out, in display order;
* each frame has ``stamp`` (Note [stamps]) and ``planes(height, width, device)``, zero-copy
  views that are valid only until the next ``decode`` call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pyvidfast.io.nvdec.packets import Packet
from pyvidfast.io.nvdec.surfaces import frame_planes

__all__ = ["HardwareFrame", "NvcDecoder"]


class HardwareFrame:
    """One NATIVE (NV12/P016) frame of PyNvVideoCodec, valid until the decoder's next call."""

    def __init__(self, frame: Any):
        self._frame = frame
        self.stamp = int(frame.getPTS())

    def planes(
        self, height: int, width: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return frame_planes(self._frame, height, width, device)


class NvcDecoder:
    """``CreateDecoder(gpuid, codec, usedevicememory=True)`` with the ``FrameDecoder`` contract."""

    def __init__(self, nvc: Any, gpu_id: int, key: Any):
        self._nvc = nvc
        self.key = key
        self._decoder = nvc.CreateDecoder(
            gpuid=gpu_id,
            codec=getattr(nvc.cudaVideoCodec, key.codec),
            cudacontext=0,
            cudastream=0,
            usedevicememory=True,
        )
        self._held: np.ndarray | None = None  # the bytes NVDEC reads during Decode

    def decode(self, packet: Packet | None) -> list[HardwareFrame]:
        data = self._nvc.PacketData()
        if packet is None:
            # An empty packet is end of stream: the parser outputs what it still holds.
            data.bsl_data, data.bsl = 0, 0
        else:
            self._held = np.frombuffer(packet.data, dtype=np.uint8)
            data.bsl_data = self._held.ctypes.data
            data.bsl = self._held.size
            data.pts = packet.pts
            if packet.dts is not None and hasattr(data, "dts"):
                data.dts = packet.dts
        return [HardwareFrame(f) for f in self._decoder.Decode(data)]

    def close(self) -> None:
        self._decoder = None

"""This process's NVDEC decoders: created once, reconfigured for each file, counted frames only.

One decoder per (codec, chroma, bit depth), the things a reconfigure cannot change; a file that
fits its maximum size reuses it after ``setReconfigParams`` (about 5 ms against 50-70 ms for a
new one), a larger file replaces it with a larger one. Packets come from our own demux
(demux.py) as ``PacketData`` pointing at their bytes; nothing is done with the frames but
counting them, so a frame's buffer being reused by the next ``Decode`` does not matter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyvidfast.io.nvdec import StreamFormat

__all__ = ["Decoded", "NvdecSession"]


@dataclass
class Decoded:
    """What NVDEC made of one file: frames out, (kind, line) errors, and whether the decoder
    was a reused one (a failure on a reused decoder is retried on a fresh one)."""

    frames: int
    lines: list[tuple[str, str]]
    reused: bool


class NvdecSession:
    """Decoders of GPU ``gpu_id`` for one process; ``nvc`` is PyNvVideoCodec or a stand-in."""

    def __init__(self, nvc: Any, gpu_id: int = 0, min_size: tuple[int, int] = (1920, 1088)):
        self.nvc = nvc
        self.gpu_id = gpu_id
        self.min_size = min_size
        self._decoders: dict[tuple, tuple[Any, int, int]] = {}
        self.created = 0
        self.reused = 0

    def _decoder(self, fmt: StreamFormat, fresh: bool) -> tuple[tuple, Any, bool]:
        key = (fmt.nv_codec, fmt.chroma, fmt.bit_depth)
        entry = None if fresh else self._decoders.get(key)
        if entry is not None and fmt.width <= entry[1] and fmt.height <= entry[2]:
            entry[0].setReconfigParams(fmt.width, fmt.height)
            self.reused += 1
            return key, entry[0], True
        old_w, old_h = (entry[1], entry[2]) if entry is not None else (0, 0)
        max_w = max(fmt.width, self.min_size[0], old_w)
        max_h = max(fmt.height, self.min_size[1], old_h)
        self._decoders.pop(key, None)
        decoder = self.nvc.CreateDecoder(
            gpuid=self.gpu_id,
            codec=getattr(self.nvc.cudaVideoCodec, fmt.nv_codec),
            usedevicememory=True,
            maxwidth=max_w,
            maxheight=max_h,
        )
        self._decoders[key] = (decoder, max_w, max_h)
        self.created += 1
        return key, decoder, False

    def packet(self, data: bytes, pts: int) -> tuple[Any, np.ndarray]:
        """A ``PacketData`` pointing at ``data`` (empty: end of stream) and the array that owns
        the bytes, which must outlive the ``Decode`` call."""
        buf = np.frombuffer(data, dtype=np.uint8)
        pkt = self.nvc.PacketData()
        pkt.bsl_data = buf.ctypes.data if buf.size else 0
        pkt.bsl = int(buf.size)
        pkt.pts = int(pts)
        return pkt, buf

    def decode(
        self, fmt: StreamFormat, packets: Iterable[tuple[bytes, int]], fresh: bool = False
    ) -> Decoded:
        """Decode every packet and flush; a decoder that raised is never used again."""
        key, decoder, reused = self._decoder(fmt, fresh)
        frames = 0
        for data, pts in itertools.chain(packets, [(b"", 0)]):
            pkt, _owner = self.packet(data, pts)
            try:
                frames += len(decoder.Decode(pkt))
            except Exception as exc:  # noqa: BLE001 PyNvVideoCodec's errors share no type: any is
                # this file's decode error, never the run's
                self._decoders.pop(key, None)
                what = "flushing the NVDEC decoder" if not data else "decoding stream (NVDEC)"
                return Decoded(frames, [("decode", f"Error while {what}: {exc}")], reused)
        return Decoded(frames, [], reused)

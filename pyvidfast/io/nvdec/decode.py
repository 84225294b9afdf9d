"""Decoding wanted frames: seek from our index, feed our packets, number the output, copy it out.

The wanted frames (sorted, distinct) are cut into runs that share a seek: a run starts at the
keyframe before its first frame (``FrameNumbering.keyframe_before``) and a new run starts when
the next wanted frame has a later keyframe before it, so frames far apart are not decoded
through the gap. Each run is fed packet by packet (``FrameDecoder.decode``), numbered and
checked by ``FrameOrder`` (Note [stamps]), then flushed so that the decoder is clean for the next
run or file. A wanted frame's planes are copied before the next ``decode`` call: the decoder
reuses its buffers (measured: frames are unlocked on the next call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from typing import Protocol, cast

import torch

from pyvidfast.io.keyframes import runs
from pyvidfast.io.nvdec.numbering import FrameNumbering, FrameOrder, LateSeek, NumberingError
from pyvidfast.io.nvdec.packets import Packet

__all__ = ["DecodedFrame", "FrameDecoder", "decode_frames", "seek_runs"]


class DecodedFrame(Protocol):
    stamp: int

    def planes(
        self, height: int, width: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class FrameDecoder(Protocol):
    """What NVDEC (``hardware.NvcDecoder``) and its stand-in (``standin.StandinDecoder``) do."""

    def decode(self, packet: Packet | None) -> Sequence[DecodedFrame]: ...


def seek_runs(distinct: Sequence[int], numbering: FrameNumbering) -> list[list[int]]:
    """``distinct`` cut into runs decoded from one seek each (``io.keyframes.runs``)."""
    return runs(numbering.keys, distinct)


class _CopyOut:
    """Owned copies of wanted planes; on CUDA the host waits for the copies before the decoder
    is called again (its buffers are rewritten then)."""

    def __init__(self, device: torch.device):
        self.device = device
        self._pending: torch.cuda.Event | None = None

    def copy(
        self, frame: DecodedFrame, height: int, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        luma, chroma = frame.planes(height, width, self.device)
        out = luma.clone(), chroma.clone()
        if self.device.type == "cuda":
            self._pending = torch.cuda.Event()
            self._pending.record(torch.cuda.current_stream(self.device))
        return out

    def before_next_call(self) -> None:
        if self._pending is not None:
            self._pending.synchronize()
            self._pending = None


def _decode_run(
    decoder: FrameDecoder,
    packets: Iterable[Packet],
    order: FrameOrder,
    want: dict[int, int],
    copier: _CopyOut,
    size: tuple[int, int],
    out: list[tuple[torch.Tensor, torch.Tensor] | None],
) -> None:
    last = max(want)
    done = False
    feed: Iterator[Packet | None] = chain(packets, [None])
    for packet in feed:
        copier.before_next_call()
        for frame in decoder.decode(packet):
            k = order.accept(frame.stamp) if not done else None
            if k is not None and k in want:
                out[want[k]] = copier.copy(frame, *size)
            done = done or (k is not None and k >= last)
        if packet is None:
            break
        if done:  # flush: the decoder must not hold this file's frames into the next run
            copier.before_next_call()
            decoder.decode(None)
            break
    copier.before_next_call()
    if not done and order.next == order.start > 0:
        raise LateSeek(f"the seek to keyframe {order.start} gave no frame")
    if not done:
        raise NumberingError(
            f"the stream ended at frame {order.next - 1} before frame {last} came out of NVDEC"
        )


def decode_frames(
    decoder: FrameDecoder,
    packets_from: Callable[[int | None], Iterable[Packet]],
    numbering: FrameNumbering,
    distinct: Sequence[int],
    size: tuple[int, int],
    device: torch.device,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Frames ``distinct`` (sorted, distinct) as owned ``(lumas, chromas)`` lists.

    ``packets_from(pts)`` gives the stream's packets from the keyframe with that pts (None:
    from the start).
    Raises ``NumberingError`` when the output cannot be proven to be the index's frames.
    """
    out: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(distinct)
    position = {k: j for j, k in enumerate(distinct)}
    copier = _CopyOut(device)
    for run in seek_runs(distinct, numbering):
        start = numbering.keyframe_before(run[0])
        order = FrameOrder(numbering, start)
        want = {k: position[k] for k in run}
        # From the first frame: the stream's start, where the first packet may be decodable
        # without a keyframe flag (MPEG-TS recovery points).
        start_pts = None if start == 0 else numbering.pts[start]
        try:
            _decode_run(decoder, packets_from(start_pts), order, want, copier, size, out)
        except LateSeek:
            # An approximate seek (MPEG-TS) passed the keyframe: decode this run from the start,
            # as the CPU reader does; the frame order is checked from frame 0 then.
            copier.before_next_call()
            decoder.decode(None)
            order = FrameOrder(numbering, 0)
            _decode_run(decoder, packets_from(None), order, want, copier, size, out)
    # every slot is filled: _decode_run raises unless it reached the last frame it wants
    planes = cast(list[tuple[torch.Tensor, torch.Tensor]], out)
    return [y for y, _ in planes], [c for _, c in planes]

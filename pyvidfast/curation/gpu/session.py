"""Feeding one file's packets to a decoder from this process's ``DecoderPool`` (io/nvdec).

The pool keeps its decoders across files (one per ``DecoderKey``: codec, bit depth, coded size)
and drops one whose use raised. Nothing is done with the frames but counting them, so a frame's
buffer being reused by the next ``decode`` call does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pyvidfast.io.nvdec import DecoderKey, DecoderPool, StreamFormat
from pyvidfast.io.nvdec.packets import Packet

__all__ = ["Decoded", "decode_file"]


@dataclass
class Decoded:
    """What NVDEC made of one file: frames out, (kind, line) errors, and whether the decoder
    was a reused one (a failure on a reused decoder is retried on a fresh one)."""

    frames: int
    lines: list[tuple[str, str]]
    reused: bool


def decode_file(pool: DecoderPool, fmt: StreamFormat, packets: Iterable[Packet]) -> Decoded:
    """Decode every packet, then flush (``decode(None)``) so the decoder is clean for the next
    file. A decoder that raised is this file's decode error; the pool drops it."""
    reused_before = pool.reused
    frames = 0
    flushing = False
    try:
        with pool.acquire(DecoderKey.of(fmt)) as decoder:
            reused = pool.reused > reused_before
            for packet in packets:
                frames += len(decoder.decode(packet))
            flushing = True
            frames += len(decoder.decode(None))
    except Exception as exc:  # noqa: BLE001 PyNvVideoCodec's errors share no type: any is
        # this file's decode error, never the run's
        what = "flushing the NVDEC decoder" if flushing else "decoding stream (NVDEC)"
        line = f"Error while {what}: {type(exc).__name__}: {exc}"
        return Decoded(frames, [("decode", line)], pool.reused > reused_before)
    return Decoded(frames, [], reused)

"""The decoder pool: at most one decoder per NVDEC engine, reused across files of one format.

A decoder is made for one ``DecoderKey`` (codec, bit depth, coded size) and handed to the next
file with the same key (a fresh NVDEC decoder costs 50-70 ms, per torchcodec's measurements).
A decoder whose use raised is dropped, never reused: its state is unknown. The pool also says
what the GPU can decode (``capability``, ``caps``), so the GPU-or-CPU decision is made before
any decoder exists, for the real hardware and for the stand-in alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from pyvidfast.io.nvdec.caps import DecoderCaps, engine_count, query_caps
from pyvidfast.io.nvdec.hardware import NvcDecoder
from pyvidfast.io.nvdec.library import nvdec_module
from pyvidfast.io.stream_format import StreamFormat

__all__ = ["DecoderKey", "DecoderPool", "decoder_pool"]


@dataclass(frozen=True)
class DecoderKey:
    """What a decoder is made for; only a file with the same key reuses it."""

    codec: str  # NVDEC codec name ("H264", "HEVC", "VP9", "AV1")
    bit_depth: int
    width: int
    height: int

    @classmethod
    def of(cls, fmt: StreamFormat) -> DecoderKey:
        return cls(fmt.nv_codec or fmt.codec, fmt.bit_depth, fmt.width, fmt.height)


class DecoderPool:
    """At most ``size`` decoders, one per caller at a time.

    Args:
        factory: ``factory(key)`` makes a decoder (``FrameDecoder``) for ``key``.
        size: the most decoders alive at once (default for a GPU: its NVDEC engine count).
        capability: the GPU's compute capability (decides AV1 when ``caps`` cannot).
        caps: ``caps(fmt)`` -> ``GetDecoderCaps`` dict or None (then the measured table decides).

    Thread-safe; ``acquire`` blocks while all ``size`` decoders are busy. An idle decoder of
    another key is closed to make room.
    """

    def __init__(
        self,
        factory: Callable[[DecoderKey], Any],
        size: int,
        *,
        capability: tuple[int, int] | None = (9, 0),
        caps: Callable[[StreamFormat], DecoderCaps | None] | None = None,
    ):
        if size < 1:
            raise ValueError(f"size must be >= 1, got size={size}")
        self.factory = factory
        self.size = int(size)
        self.capability = capability
        self.caps = caps or (lambda fmt: None)
        self._idle: list[tuple[DecoderKey, Any]] = []
        self._live = 0
        self._cond = threading.Condition()
        self.created = 0
        self.reused = 0
        self.dropped = 0

    @property
    def live(self) -> int:
        """Decoders that exist now (idle or in use)."""
        return self._live

    @property
    def idle(self) -> int:
        return len(self._idle)

    def _take(self, key: DecoderKey) -> Any | None:
        """An idle decoder for ``key``, or None with a slot reserved for a new one."""
        with self._cond:
            while True:
                for i, (k, decoder) in enumerate(self._idle):
                    if k == key:
                        del self._idle[i]
                        self.reused += 1
                        return decoder
                if self._live < self.size:
                    self._live += 1
                    return None
                if self._idle:  # all slots taken, some idle with another key: close one
                    _, old = self._idle.pop(0)
                    _close(old)
                    return None  # its slot passes to the caller
                self._cond.wait()

    def _give_back(self, key: DecoderKey, decoder: Any | None) -> None:
        with self._cond:
            if decoder is None:
                self._live -= 1
                self.dropped += 1
            else:
                self._idle.append((key, decoder))
            self._cond.notify()

    @contextmanager
    def acquire(self, key: DecoderKey) -> Iterator[Any]:
        """``with pool.acquire(key) as decoder:``; a decoder that raised is dropped."""
        decoder = self._take(key)
        if decoder is None:
            try:
                decoder = self.factory(key)
            except BaseException:
                self._give_back(key, None)
                raise
            with self._cond:
                self.created += 1
        try:
            yield decoder
        except BaseException:
            _close(decoder)
            self._give_back(key, None)
            raise
        self._give_back(key, decoder)

    def close(self) -> None:
        """Close the idle decoders (busy ones stay with their users and come back as idle)."""
        with self._cond:
            for _, decoder in self._idle:
                _close(decoder)
            self._live -= len(self._idle)
            self._idle.clear()


def _close(decoder: Any) -> None:
    close = getattr(decoder, "close", None)
    if callable(close):
        close()


_pools: dict[int, DecoderPool] = {}
_pools_lock = threading.Lock()


def decoder_pool(device: int = 0, size: int | None = None) -> DecoderPool:
    """The process-wide pool of NVDEC decoders of GPU ``device``, sized to its engine count
    unless ``size`` is given on first use."""
    with _pools_lock:
        pool = _pools.get(device)
        if pool is None:
            nvc = nvdec_module()

            def caps(fmt: StreamFormat) -> DecoderCaps | None:
                if fmt.nv_codec is None or fmt.chroma not in ("420", "444"):
                    return None
                return query_caps(nvc, device, fmt.nv_codec, fmt.chroma, fmt.bit_depth)

            capability = tuple(torch.cuda.get_device_capability(device))
            pool = DecoderPool(
                lambda key: NvcDecoder(nvc, device, key),
                size or engine_count(device),
                capability=capability,  # type: ignore[arg-type]
                caps=caps,
            )
            _pools[device] = pool
        return pool

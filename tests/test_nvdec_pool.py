"""pyvidfast.io.nvdec.pool: one decoder per engine, reused per format, dropped after an error."""

from __future__ import annotations

import threading
import time

import pytest

from pyvidfast.io.nvdec import DecoderKey, DecoderPool

# ------------------------------------------------------------------------------ the pool


class CountingDecoder:
    """A decoder that counts how many are busy at once (no decoding)."""

    active = 0
    max_active = 0
    lock = threading.Lock()

    def __init__(self, key: DecoderKey):
        self.key = key
        self.closed = False
        time.sleep(0.005)  # creation is the expensive part

    def close(self):
        self.closed = True


KEY_A = DecoderKey("H264", 8, 1920, 1080)
KEY_B = DecoderKey("HEVC", 10, 1280, 720)


def _use(pool: DecoderPool, key: DecoderKey, hold: float = 0.0):
    with pool.acquire(key) as dec:
        with CountingDecoder.lock:
            CountingDecoder.active += 1
            CountingDecoder.max_active = max(CountingDecoder.max_active, CountingDecoder.active)
        assert dec.key == key
        time.sleep(hold)
        with CountingDecoder.lock:
            CountingDecoder.active -= 1
        return dec


def test_pool_reuses_a_decoder_for_the_same_format_only():
    pool = DecoderPool(CountingDecoder, size=3)
    decs = [_use(pool, KEY_A) for _ in range(4)]
    assert pool.created == 1 and pool.reused == 3 and all(d is decs[0] for d in decs)
    other = _use(pool, KEY_B)
    assert other is not decs[0] and pool.created == 2 and pool.live == 2


def test_pool_makes_room_by_closing_an_idle_decoder_of_another_format():
    pool = DecoderPool(CountingDecoder, size=1)
    first = _use(pool, KEY_A)
    second = _use(pool, KEY_B)
    assert first.closed and not second.closed and pool.live == 1


def test_pool_never_exceeds_its_size_under_threads():
    CountingDecoder.active = CountingDecoder.max_active = 0
    pool = DecoderPool(CountingDecoder, size=2)
    keys = [KEY_A, KEY_B] * 6
    threads = [threading.Thread(target=_use, args=(pool, k, 0.01)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CountingDecoder.max_active <= 2
    assert pool.live <= 2 and pool.created + pool.reused == 12


def test_pool_drops_a_decoder_that_raised():
    pool = DecoderPool(CountingDecoder, size=1)
    with pytest.raises(RuntimeError):
        with pool.acquire(KEY_A) as bad:
            raise RuntimeError("decode error")
    assert bad.closed and pool.live == 0 and pool.dropped == 1
    assert _use(pool, KEY_A) is not bad  # the slot is free again: a fresh decoder
    assert pool.created == 2 and pool.reused == 0

    def broken_factory(key):
        raise OSError("cannot create")

    pool = DecoderPool(broken_factory, size=1)
    for _ in range(2):  # a failed creation frees its slot too
        with pytest.raises(OSError):
            with pool.acquire(KEY_A):
                pass
    assert pool.live == 0

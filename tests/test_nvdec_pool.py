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


# ----------------------------------------------- the real decoder's adapter, on a fake module


class FakeNvc:
    """The parts of PyNvVideoCodec that ``hardware.NvcDecoder`` calls, recording what it fed."""

    class cudaVideoCodec:  # noqa: N801 (PyNvVideoCodec's name)
        H264, HEVC = "h264-enum", "hevc-enum"

    class PacketData:
        def __init__(self):
            self.bsl_data, self.bsl, self.pts, self.dts = 0, 0, -1, -1

    class Frame:
        def __init__(self, pts):
            self.pts = pts

        def getPTS(self):  # noqa: N802
            return self.pts

    def __init__(self):
        self.created, self.fed = [], []

    def CreateDecoder(self, **kwargs):  # noqa: N802
        self.created.append(kwargs)
        nvc = self

        class Decoder:
            def Decode(self, packet):  # noqa: N802
                import ctypes

                data = ctypes.string_at(packet.bsl_data, packet.bsl) if packet.bsl else b""
                nvc.fed.append((data, packet.pts, packet.dts))
                return [FakeNvc.Frame(packet.pts + 7)] if packet.bsl else []

        return Decoder()


def test_hardware_adapter_feeds_our_packets_and_ends_with_an_empty_one():
    from pyvidfast.io.nvdec.hardware import NvcDecoder
    from pyvidfast.io.nvdec.packets import Packet

    nvc = FakeNvc()
    decoder = NvcDecoder(nvc, 3, DecoderKey("HEVC", 10, 640, 360))
    assert nvc.created == [
        dict(gpuid=3, codec="hevc-enum", cudacontext=0, cudastream=0, usedevicememory=True)
    ]
    frames = decoder.decode(Packet(b"\x00\x00\x00\x01abc", 1000, 990, True))
    assert [f.stamp for f in frames] == [1007]
    assert decoder.decode(None) == []
    assert nvc.fed == [(b"\x00\x00\x00\x01abc", 1000, 990), (b"", -1, -1)]

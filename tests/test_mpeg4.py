"""VOL and VOP header reading (pyvidfast/io/bitstream/mpeg4.py), on headers written bit by bit here."""

from __future__ import annotations

import pytest

from pyvidfast.io.bitstream.mpeg4 import VopCounter, time_increment_bits, vop_header


def vol(resolution: int, par: bool = False, vbv: bool = False, shape: int = 0) -> bytes:
    """A video_object_layer header (ISO/IEC 14496-2 6.2.3) up to fixed_vop_rate."""
    bits = "0" + "00000001" + "1" + "0010" + "001"  # object layer identifier: verid 2
    bits += "1111" + "00000001" + "00000001" if par else "0001"
    bits += "1" + "01" + "0" + ("1" + "1" * 79 if vbv else "0")
    bits += format(shape, "02b") + "1" + format(resolution, "016b") + "1" + "0"
    bits += "0" * (-len(bits) % 8)
    return b"\x00\x00\x01\x20" + int(bits, 2).to_bytes(len(bits) // 8, "big")


def vop(coding_type: int, coded: bool, increment_bits: int, seconds: int = 0) -> bytes:
    bits = format(coding_type, "02b") + "1" * seconds + "0" + "1" + "0" * increment_bits + "1"
    bits += "1" if coded else "0"
    bits += "0" * (-len(bits) % 8 + 16)
    return b"\x00\x00\x01\xb6" + int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("resolution, bits", [(1, 1), (2, 1), (24, 5), (25, 5), (30000, 15)])
def test_increment_width_is_ffmpegs(resolution, bits):
    assert time_increment_bits(b"\x00\x00\x01\xb0\x01" + vol(resolution)) == bits
    assert time_increment_bits(vol(resolution, par=True, vbv=True)) == bits


def test_headers_it_cannot_read_are_refused():
    assert time_increment_bits(vol(24, shape=1)) is None  # not rectangular
    assert time_increment_bits(vol(0)) is None
    assert time_increment_bits(vol(24)[:6]) is None
    assert time_increment_bits(b"no start code") is None


def test_vop_header():
    data = vop(2, True, 5, seconds=2)
    assert vop_header(data, 4, 5) == (2, True)
    assert vop_header(vop(1, False, 5), 4, 5) == (1, False)
    assert vop_header(b"\x00\x00\x01\xb6\x00", 4, 5) is None  # marker bit missing


def test_counter_rules():
    header = vol(24)
    counter = VopCounter(header)
    for coding_type in (0, 1, 2, 2, 1):
        counter.packet(vop(coding_type, True, 5))
    assert counter.ok
    early_b = VopCounter(header)
    early_b.packet(vop(0, True, 5))
    early_b.packet(vop(2, True, 5))
    assert not early_b.ok
    packed = VopCounter(None)
    packed.packet(header + vop(1, True, 5) + vop(2, True, 5))
    assert not packed.ok
    not_coded = VopCounter(header)
    not_coded.packet(vop(1, False, 5))
    assert not not_coded.ok

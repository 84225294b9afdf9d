"""A big-endian bit reader for the few header fields the probe reads without a decoder
(MPEG-4 Part 2 VOL/VOP headers in ``io/bitstream/mpeg4.py``, H.264 SPS in ``io/bitstream/h264_sps.py``)."""

from __future__ import annotations


class BitReader:
    """Bits of ``data`` from the most significant; reading past the end raises ``EOFError``.

    ``u(n)`` is an n-bit unsigned field, ``ue()``/``se()`` the Exp-Golomb codes of H.264 9.1.
    """

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def u(self, n: int) -> int:
        if n > self.left:
            raise EOFError
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise EOFError
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

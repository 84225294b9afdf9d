"""How many frames a video packet shows: the frames ffmpeg's decoder outputs for it.

H.264/HEVC packets show one picture each. VP9 and AV1 packets can carry frames that are decoded
but never shown (alternate reference frames), which NVDEC and FFmpeg both decode without output;
a later packet may show one of them (``show_existing_frame``). Counting the shown ones from the
frame headers gives the number of frames a clean decode returns, e.g. 72 for the 80 packets of
``vp9__roadtrip-vp92-10bit.webm``. The frame headers are read by ``io/bitstream/vpx.py`` and
``io/bitstream/av1.py``, as the probe reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyvidfast.io.bitstream.av1 import av1_shown
from pyvidfast.io.bitstream.vpx import vp9_shown_frames

__all__ = ["ShownCounter"]


@dataclass
class ShownCounter:
    """Counts the frames a stream's packets show; ``codec`` is PyAV's decoder name."""

    codec: str
    shown: int = 0
    packets: int = 0
    _reduced_still: bool = False

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.packets += 1
        if self.codec in ("vp9", "libvpx-vp9"):
            self.shown += vp9_shown_frames(memoryview(data))
        elif self.codec in ("av1", "libdav1d", "libaom-av1"):
            n, self._reduced_still = av1_shown(data, self._reduced_still)
            self.shown += n
        else:
            self.shown += 1

"""Drop-in CogVideoX SAT datasets: set ``data.target`` to ``pyvidfast.cogvideox.SFTDataset`` or
``pyvidfast.cogvideox.VideoDataset``; the ``params`` stay as they are."""

from pyvidfast.cogvideox.sft import SFTDataset
from pyvidfast.cogvideox.webvideo import VideoDataset

__all__ = ["SFTDataset", "VideoDataset"]

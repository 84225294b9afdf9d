"""The reference: Open-Sora's ``--info`` procedure, written from the spec, slow and obvious.

It is the test oracle for :mod:`pyvidfast.opensora.info` and the baseline of
``benchmarks/bench_info.py``. It does what Open-Sora's ``get_video_info`` does with PyAV
(docs/spec: ``shared/spec/opensora.md``, section datautil):

* open the file, read ``fps = float(stream.average_rate)`` (NaN when unknown);
* decode the first frame: its size is ``height`` / ``width`` (rotation ignored); no frame, or an
  error before one, gives the failure row;
* go on decoding from there, stopping at the first decode error and after ``cap`` frames, where
  ``cap`` is the container's frame count or 2500 when the container gives none;
* drop the leading frames whose pts is negative (Open-Sora trims ``pts < start_pts`` from the
  front of its buffer), and count the rest. A frame without pts (raw H.264) is counted.

Open-Sora seeks to 0 before its counting pass; in FFmpeg 8 that seek is a no-op on most files,
fails outright on raw streams and some Matroska files, and on an MP4 with an edit list starting
before a B-frame group it lands after the first frames. The spec describes the intent (decode the
whole video, count frames with pts >= 0), which is what this does (see "Note [seek]" in
``pyvidfast/io/probe.py``). Checked against v1.2's ``read_video_av`` / ``_read_from_stream``
(``opensora/datasets/read_video.py``): same fps, first-frame size, cap, error handling and
leading-pts trim. Two more places where the code does less than the spec says, both followed
here as the spec describes: a frame without pts makes its ``frame.pts >= end_offset`` raise
``TypeError`` (failure row), and a mid-stream resolution change fails the copy into the
first frame's buffer (failure row); we count those frames.

The reference of its era: v1.2 catches ``av.AVError``, a name PyAV 14 removed. Under a current
PyAV the ``except`` clause itself raises ``AttributeError`` at the first decode error, so every
file with one gets the failure row. Under PyAV 12.3, where the name exists, it keeps the frames
decoded before the error; this oracle does that (``except av.FFmpegError``), and so does
``pyvidfast.io.probe`` (issue 23: an MP4 with no usable timescale and corrupt NAL sizes gets
the frames before its first error, not its header's sample count). Open-Sora also allocates
its frame buffer up front (``cap`` x H x W x 3 bytes: 25.7 GiB for a 1440p stream without a
frame count); a machine that cannot gives the failure row there, which is not modelled here.

With ``rgb=True`` every frame is converted to RGB and copied into a numpy array, as Open-Sora
does (this is the cost the benchmark measures); frames are not kept, so the benchmark does not
need the tens of GB the original allocates. ``rgb=False`` gives the same numbers faster.
"""

from __future__ import annotations

import math
import os

import av

# Open-Sora's MAX_NUM_FRAMES: the buffer length when the container gives no frame count.
MAX_NUM_FRAMES = 2500

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

FAILURE_ROW = (0, 0, 0, math.nan, math.nan, math.nan)


def reference_image_info(path: str) -> tuple:
    """Open-Sora's image row: ``(1, h, w, h / w, NaN, h * w)`` from PIL, failure row on error."""
    from PIL import Image

    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            img = img.convert("RGB")
        width, height = img.size
    except Exception:
        return FAILURE_ROW
    aspect = height / width if width > 0 else math.nan
    return 1, height, width, aspect, math.nan, height * width


def reference_video_info(path: str, rgb: bool = True) -> tuple:
    """``(num_frames, height, width, aspect_ratio, fps, resolution)`` by a full decode."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            rate = stream.average_rate
            fps = float(rate) if rate is not None else math.nan
            frames = container.decode(stream)
            first = next(frames)  # no frame at all: StopIteration -> failure row
            if rgb:
                height, width = first.to_ndarray(format="rgb24").shape[:2]
            else:
                height, width = first.height, first.width
            cap = stream.frames or MAX_NUM_FRAMES
            pts_list = [first.pts]
            try:
                while len(pts_list) < cap:
                    frame = next(frames, None)
                    if frame is None:
                        break
                    if rgb:
                        frame.to_ndarray(format="rgb24").copy()
                    pts_list.append(frame.pts)
            except av.FFmpegError:
                pass  # Open-Sora keeps the frames decoded before the first error
    except Exception:
        return FAILURE_ROW
    start = 0
    while start < len(pts_list) and pts_list[start] is not None and pts_list[start] < 0:
        start += 1
    num_frames = len(pts_list) - start
    aspect = height / width if width > 0 else math.nan
    return num_frames, height, width, aspect, fps, height * width


def reference_info(path: str, rgb: bool = True) -> tuple:
    """Open-Sora's ``get_info``: images by extension, everything else as a video."""
    if os.path.splitext(path)[1].lower() in IMG_EXTENSIONS:
        return reference_image_info(path)
    return reference_video_info(path, rgb=rgb)

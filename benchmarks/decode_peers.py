"""One decoding tool, one clip, every access pattern: the worker that bench_decode.py runs.

Runs in whichever interpreter has the tool (decord2 and torchcodec live in venvs of their own,
../shared/spec/peers.md), so it imports nothing from pyvidfast unless the tool is pyvidfast.
Prints one JSON line: per pattern the frames delivered, the seconds taken (open included for the
fresh-reader patterns) and a checksum of the frames, or the error the tool raised. Each call's
frames are checksummed (untimed) and dropped before the next call, as a training loop drops a
chunk or a sample once it is used (the memory a tool allocates per call is part of its cost); for the
fresh-reader patterns also ``exact``: whether every frame equals the same tool's frame of that
index in ``seq_all`` (one pass from frame 0), i.e. whether its seeks are exact.

    python decode_peers.py TOOL CLIP --frames N --threads 2 [--patterns seq32,...]

Patterns (indices drawn with a fixed seed, the same for every tool):
    seq32       frames 0..N-1 in consecutive calls of 32, one reader
    seq_all     frames 0..N-1 in one call
    cogvideox   CogVideoX's sample: 49 indices 3 apart from a random start, a fresh reader, x4
    random8     8 sorted random indices, a fresh reader, x4
    resize      frames 0..N-1 in calls of 32, resized to 720x480 by the reader (decord's
                width/height; bilinear)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback

import numpy as np

PATTERNS = ("seq32", "seq_all", "cogvideox", "random8", "resize")
RESIZE = (480, 720)  # (height, width)
FRESH_READS = 4


def plans(n: int, seed: int = 0) -> dict[str, list[list[int]]]:
    """The index lists of each pattern for a clip of ``n`` frames: one list per call, and a new
    reader for each list in the fresh-reader patterns."""
    rng = random.Random(seed)
    chunks = [list(range(s, min(n, s + 32))) for s in range(0, n, 32)]
    cog = []
    for _ in range(FRESH_READS):
        span = min(49, (n + 2) // 3)
        start = rng.randrange(0, max(1, n - 3 * (span - 1)))
        cog.append([start + 3 * k for k in range(span)])
    rand = [sorted(rng.sample(range(n), min(8, n))) for _ in range(FRESH_READS)]
    return {
        "seq32": chunks,
        "seq_all": [list(range(n))],
        "cogvideox": cog,
        "random8": rand,
        "resize": chunks,
    }


def checksum(frames: np.ndarray) -> int:
    """A cheap fingerprint of delivered frames (every 7th row, every 5th column)."""
    return int(np.ascontiguousarray(frames[:, ::7, ::5]).astype(np.uint64).sum())


# ---- the tools: each gives (open(path, threads, size) -> reader, read(reader, indices) -> array)


def _pyvidfast():
    from pyvidfast import VideoReader

    def open_(path, threads, size):
        h, w = size or (-1, -1)
        return VideoReader(path, num_threads=threads, width=w, height=h)

    return open_, lambda r, idx: r.get_batch(idx).numpy()


def _decord():
    import decord

    decord.bridge.set_bridge("native")

    def open_(path, threads, size):
        h, w = size or (-1, -1)
        return decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads, width=w, height=h)

    return open_, lambda r, idx: r.get_batch(idx).asnumpy()


def _torchcodec():
    from torchcodec.decoders import VideoDecoder

    def open_(path, threads, size):
        if size:
            raise NotImplementedError("torchcodec resizes through torchvision transforms only")
        kw = dict(seek_mode="exact", num_ffmpeg_threads=threads, dimension_order="NHWC")
        return VideoDecoder(path, **kw)

    def read(r, idx):
        if idx == list(range(idx[0], idx[-1] + 1)):
            return r.get_frames_in_range(idx[0], idx[-1] + 1).data.numpy()
        return r.get_frames_at(idx).data.numpy()

    return open_, read


class _PyAVReader:
    """Plain PyAV as a user writes it: decode on from where the last call stopped, seek back to
    the keyframe before a frame behind it or far ahead; frames by presentation time."""

    def __init__(self, path, threads, size):
        import av

        self.av = av
        self.c = av.open(path)
        self.s = self.c.streams.video[0]
        self.s.thread_type = "AUTO"
        self.s.codec_context.thread_count = threads
        self.fps = float(self.s.average_rate)
        self.start = self.s.start_time or 0
        self.size = size
        self.gen, self.pos = None, -1

    def index_of(self, frame) -> int:
        return round(float((frame.pts - self.start) * self.s.time_base) * self.fps)

    def rgb(self, frame) -> np.ndarray:
        if self.size:
            h, w = self.size
            return frame.to_ndarray(format="rgb24", width=w, height=h)
        return frame.to_ndarray(format="rgb24")

    def read(self, idx: list[int]) -> np.ndarray:
        want, out = set(idx), {}
        if self.gen is None or idx[0] <= self.pos or idx[0] - self.pos > 64:
            target = self.start + int(idx[0] / self.fps / self.s.time_base)
            self.c.seek(target, stream=self.s, backward=True)
            self.gen = self.c.decode(self.s)
        for frame in self.gen:
            k = self.index_of(frame)
            self.pos = k
            if k in want:
                out[k] = self.rgb(frame)
            if k >= idx[-1]:
                break
        return np.stack([out[i] for i in idx])


def _pyav():
    return _PyAVReader, lambda r, idx: r.read(idx)


TOOLS = {"pyvidfast": _pyvidfast, "decord": _decord, "decord2": _decord, "torchcodec": _torchcodec}
TOOLS["pyav"] = _pyav


def run(tool: str, path: str, threads: int, n: int, patterns: list[str]) -> dict:
    open_, read = TOOLS[tool]()
    result = {"tool": tool, "clip": path, "frames": n, "patterns": {}}
    from_start: list[int] = []  # per-frame checksums of seq_all
    for name, calls in plans(n).items():
        if name not in patterns:
            continue
        size = RESIZE if name == "resize" else None
        fresh = name in ("cogvideox", "random8")
        try:
            seconds, reader, sums = 0.0, None, []  # sums: per delivered frame
            for idx in calls:
                t = time.perf_counter()
                if reader is None or fresh:
                    reader = open_(path, threads, size)
                got = read(reader, idx)
                seconds += time.perf_counter() - t
                sums.append([checksum(f[None]) for f in got])  # untimed, then the batch is
                del got  # dropped, as a loop that reads a clip in chunks to bound memory does
            result["patterns"][name] = {
                "frames": sum(len(c) for c in sums),
                "seconds": seconds,
                "fps": sum(len(c) for c in sums) / seconds,
                "checksum": sum(map(sum, sums)),
            }
            if name == "seq_all":
                from_start = sums[0]
            elif fresh and from_start:
                result["patterns"][name]["exact"] = all(
                    c == from_start[i] for got, idx in zip(sums, calls) for c, i in zip(got, idx)
                )
            del reader
        except Exception as exc:  # a tool that cannot read the clip: its own words
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            result["patterns"][name] = {"error": last[:300]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("clip")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, required=True, help="read frames 0..N-1")
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    args = parser.parse_args()
    out = run(args.tool, args.clip, args.threads, args.frames, args.patterns.split(","))
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()

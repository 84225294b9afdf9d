"""Does a change cost anything at open? Open plus first frame, this tree against another.

Times ``VideoReader(path).get_batch([0])`` (open, index, first frame decoded and converted) on the
decode benchmark's clips (bench_decode.py: generated 1080p/720p H.264, HEVC, VP9, the real
1080p/720p clips) for this checkout and for ``--against DIR`` (another checkout of the package,
e.g. a ``git worktree`` of the commit before), each in a process of its own that imports the
package from that tree (an editable install's redirect is taken out; copy the built
``_C*.so`` into each tree's ``pyvidfast/``), the two interleaved, median of ``--repeats``
rounds of ``--reads`` opens each. Whole opens vary by about 10% from run to run here, so the
cost of the one step issue 28 added (reading the x264 version, Note [x264 build]) is also
timed on its own, in this process.

    python benchmarks/bench_open.py --against /tmp/wt-before [--repeats 5] [--reads 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TREE = os.environ.get("PYVIDFAST_BENCH_TREE")
if TREE:  # a worker: the package from that tree, before anything imports it
    sys.meta_path[:] = [f for f in sys.meta_path if "Redirecting" not in type(f).__name__]
    sys.path.insert(0, TREE)

from bench_decode import EXACTNESS, GENERATED, REAL, generate  # noqa: E402
from common import REAL_DIR, print_table, write_results  # noqa: E402

HERE = Path(__file__).resolve()


def version_read_seconds(path: str) -> float | None:
    """Seconds the reader spends on Note [x264 build] at open (``bytes()`` of the first packet
    and the walk over its NAL units; median of 200), None for a stream that is not H.264."""
    import av

    from pyvidfast.io.bitstream.nal import x264_build

    with av.open(path) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name != "h264":
            return None
        packet = next(p for p in container.demux(stream) if p.size)
        extradata = stream.codec_context.extradata or b""
        times = []
        for _ in range(200):
            t = time.perf_counter()
            x264_build(bytes(packet), extradata)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def worker(paths: list[str], reads: int) -> dict[str, float]:
    """Seconds per open + first frame of each path (median of ``reads``), in this process."""
    from pyvidfast import VideoReader

    out = {}
    for path in paths:
        VideoReader(path).get_batch([0])  # page cache and imports warm
        times = []
        for _ in range(reads):
            t = time.perf_counter()
            with VideoReader(path) as reader:
                reader.get_batch([0])
            times.append(time.perf_counter() - t)
        out[path] = statistics.median(times)
    return out


def run_tree(tree: Path, paths: list[str], reads: int) -> dict[str, float]:
    env = dict(os.environ, PYVIDFAST_BENCH_TREE=str(tree))
    cmd = [sys.executable, str(HERE), "--worker", json.dumps(paths), "--reads", str(reads)]
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="the other checkout (its package root)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reads", type=int, default=10)
    parser.add_argument("--clips-dir", default="/tmp/pyvidfast-bench-clips")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tree = Path(TREE or ".").resolve()
        import pyvidfast

        if not Path(pyvidfast.__file__).resolve().is_relative_to(tree):
            sys.exit(f"pyvidfast came from {pyvidfast.__file__}, not from {tree}")
        print(json.dumps(worker(json.loads(args.worker), args.reads)))
        return
    if not args.against:
        parser.error("--against DIR is required")
    clips = generate(Path(args.clips_dir), 10.0)
    clips = [c for c in clips if c.name in GENERATED]
    clips += [REAL_DIR / rel for rel in REAL if (REAL_DIR / rel).exists()]
    clips += [p for p in EXACTNESS if p.exists()]
    paths = [str(c) for c in clips]
    trees = {"this": HERE.parents[1], "against": Path(args.against)}
    times: dict[str, dict[str, list[float]]] = {t: {p: [] for p in paths} for t in trees}
    for rep in range(args.repeats):
        order = list(trees) if rep % 2 == 0 else list(reversed(trees))
        for name in order:
            for path, seconds in run_tree(trees[name], paths, args.reads).items():
                times[name][path].append(seconds)
        print(f"repeat {rep + 1}/{args.repeats} done", flush=True)
    rows = []
    for path in paths:
        this, other = (statistics.median(times[t][path]) for t in trees)
        rows.append({"clip": Path(path).name, "this_ms": this * 1e3, "against_ms": other * 1e3})
        rows[-1]["ratio"] = this / other
        version = version_read_seconds(path)
        rows[-1]["x264_read_ms"] = None if version is None else version * 1e3
    results = {"against": str(args.against), "repeats": args.repeats, "reads": args.reads}
    results["rows"] = rows
    print(f"wrote {write_results('bench_open', results)}")
    table = [
        {
            "clip": r["clip"][:40],
            "this ms": f"{r['this_ms']:.2f}",
            "against ms": f"{r['against_ms']:.2f}",
            "this/against": f"{r['ratio']:.3f}",
            "x264 read ms": "-" if r["x264_read_ms"] is None else f"{r['x264_read_ms']:.4f}",
        }
        for r in rows
    ]
    print_table(table, ["clip", "this ms", "against ms", "this/against", "x264 read ms"])


if __name__ == "__main__":
    main()

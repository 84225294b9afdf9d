"""How fast does each tool a user would pick decode the clips training uses, per access pattern?

pyvidfast, decord 0.6.0, decord2, torchcodec and PyAV, each where installed (decord2 and
torchcodec in venvs of their own: ``--decord2-python``, ``--torchcodec-python``), plus the ffmpeg
CLI decoding to rgb24 as the limit, all with the same thread count, over generated 1080p/720p
H.264 with B-frames, 1080p HEVC and VP9 (GOP 48; ../shared/spec/peers.md's recipe) and the real
720p/1080p clips of ../shared/testdata/real. Every tool runs in its own process per clip
(``decode_peers.py``), tools interleaved, median of ``--repeats``; output frames per second
per access pattern, the ratio to the best peer and to the CLI, whether each tool delivered
the same frames as pyvidfast (a checksum of every delivered frame), and which tools' reads
after a seek differ from their own pass from frame 0 ("seeks inexact"; the x264 core 142 clip
of tests/data is there for that, issue 28).

    python benchmarks/bench_decode.py [--threads 2] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REAL_DIR, print_table, write_results

HERE = Path(__file__).resolve().parent
PATTERNS = ("seq32", "seq_all", "cogvideox", "random8", "resize")
PEERS = ("decord", "decord2", "torchcodec", "pyav")
SEQUENTIAL = ("seq32", "seq_all")

# name -> ffmpeg encoder arguments (10 s of testsrc2 with temporal noise, 24 fps). On this noise
# x264's adaptive choice leaves the "bf3" clips with 23 B-frames of 240 (ffprobe pict_type); the
# "bfixed" clip is a streaming ladder's encode (fixed GOP, no scene cuts, B-frames placed without
# adaptation: 3 of every 4 frames are B, half of them referenced by nothing).
GENERATED = {
    "gen_h264_1080p_bf3_gop48.mp4": ("1920x1080", "-c:v libx264 -preset medium -bf 3 -g 48"),
    "gen_h264_1080p_bfixed_gop48.mp4": (
        "1920x1080",
        "-c:v libx264 -preset medium -bf 3 -g 48 -x264-params b-adapt=0:scenecut=0",
    ),
    "gen_h264_720p_bf3_gop48.mp4": ("1280x720", "-c:v libx264 -preset medium -bf 3 -g 48"),
    "gen_hevc_1080p_bf3_gop48.mp4": (
        "1920x1080",
        "-c:v libx265 -preset medium -x265-params bframes=3:keyint=48:log-level=error",
    ),
    "gen_vp9_1080p_gop48.webm": (
        "1920x1080",
        "-c:v libvpx-vp9 -b:v 4M -g 48 -deadline realtime -cpu-used 8",
    ),
}
REAL = (
    "androidx_media/mp4__edit_list_positive_shift.mp4",  # 1080p30 H.264, edit list, 270 frames
    "androidx_media/mp4__sample_fragmented_seekable_multiple_sidx.mp4",  # 1080p30, 600 frames
    "torchcodec/testsrc2.mp4",  # 720p30 H.264, 60 frames
)
# x264 core 142 lossless 4:4:4 (issue 28): which tools read it exactly after a seek
EXACTNESS = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "x264_core142_lossless444.mp4",
)


def generate(folder: Path, seconds: float) -> list[Path]:
    """The generated clips, made once into ``folder`` (kept between runs)."""
    if shutil.which("ffmpeg") is None:
        print("ffmpeg CLI not found: generated clips and the CLI limit are not measured")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name, (size, codec) in GENERATED.items():
        path = folder / name
        if not path.exists():
            src = f"testsrc2=size={size}:rate=24"
            cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", str(seconds)]
            cmd += ["-vf", "noise=alls=12:allf=t", *codec.split(), "-pix_fmt", "yuv420p"]
            part = path.with_name(f"{path.stem}.part{path.suffix}")  # no half-written clip kept
            subprocess.run([*cmd, str(part)], check=True)
            part.rename(path)
        made.append(path)
    return made


def interpreters(args) -> dict[str, str | None]:
    """The Python that has each tool, or None with the reason printed."""
    found = {"pyvidfast": sys.executable, "pyav": sys.executable}
    probes = {
        "decord": (sys.executable, "import decord; assert decord.__version__ == '0.6.0'"),
        "decord2": (args.decord2_python, "import decord"),
        "torchcodec": (args.torchcodec_python, "import torchcodec.decoders"),
    }
    for tool, (python, probe) in probes.items():
        ok = bool(python) and Path(python).exists()
        ok = ok and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0
        found[tool] = python if ok else None
        if not ok:
            print(f"{tool}: not measured (no interpreter with it: {python or 'none given'})")
    return found


def cli_fps(path: Path, frames: int, threads: int) -> float | None:
    """The ffmpeg CLI decoding ``frames`` frames to rgb24 into /dev/null (process start included)."""
    if shutil.which("ffmpeg") is None:
        return None
    cmd = ["ffmpeg", "-v", "error", "-threads", str(threads), "-i", str(path)]
    cmd += ["-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return frames / (time.perf_counter() - t)


def worker(python: str, tool: str, clip: Path, frames: int, args) -> dict:
    cmd = [python, str(HERE / "decode_peers.py"), tool, str(clip), "--frames", str(frames)]
    cmd += ["--threads", str(args.threads), "--patterns", ",".join(args.patterns)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["exited " + str(done.returncode)])[-1]
        return {"patterns": {p: {"error": reason[:300]} for p in args.patterns}}
    return json.loads(done.stdout.strip().splitlines()[-1])


def frame_count(path: Path, limit: int) -> int:
    from pyvidfast import VideoReader

    with VideoReader(str(path)) as reader:
        return min(reader.num_decodable, limit)


def summarize(clip: str, runs: dict[str, list[dict]], cli: list[float]) -> list[dict]:
    """One row per pattern: median fps per tool, ratios to the best peer and the CLI."""
    rows = []
    for pattern in PATTERNS:
        row: dict = {"clip": clip, "pattern": pattern, "fps": {}, "errors": {}, "same": {}}
        row["inexact"] = sorted(  # tools whose frames after a seek differ from their own pass
            t
            for t, rs in runs.items()
            if any(r["patterns"].get(pattern, {}).get("exact") is False for r in rs)
        )
        sums = {}
        for tool, results in runs.items():
            got = [r["patterns"].get(pattern, {}) for r in results]
            ok = [g for g in got if "fps" in g]
            if not ok:
                if any("error" in g for g in got):
                    row["errors"][tool] = next(g["error"] for g in got if "error" in g)
                continue
            row["fps"][tool] = statistics.median(g["fps"] for g in ok)
            sums[tool] = ok[0]["checksum"]
        if "pyvidfast" not in row["fps"]:
            continue
        ours = row["fps"]["pyvidfast"]
        row["same"] = {t: sums[t] == sums["pyvidfast"] for t in sums if t != "pyvidfast"}
        peers = {t: v for t, v in row["fps"].items() if t != "pyvidfast"}
        if peers:
            best = max(peers, key=peers.get)
            row["best_peer"], row["vs_best_peer"] = best, ours / peers[best]
        if pattern in SEQUENTIAL and cli:
            row["cli_fps"] = statistics.median(cli)
            row["vs_cli"] = ours / row["cli_fps"]
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="decoder threads, every tool")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-frames", type=int, default=300, help="frames read per clip")
    parser.add_argument("--clips-dir", default="/tmp/pyvidfast-bench-clips")
    parser.add_argument("--gen-seconds", type=float, default=10.0)
    parser.add_argument("--decord2-python", default=os.environ.get("DECORD2_PYTHON"))
    parser.add_argument("--torchcodec-python", default=os.environ.get("TORCHCODEC_PYTHON"))
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--clips", default="", help="comma-separated subset of clip names")
    parser.add_argument("--out", default="bench_decode", help="results file name")
    args = parser.parse_args()
    args.patterns = args.patterns.split(",")

    clips = generate(Path(args.clips_dir), args.gen_seconds)
    clips += [REAL_DIR / rel for rel in REAL if (REAL_DIR / rel).exists()]
    clips += [p for p in EXACTNESS if p.exists()]
    if args.clips:
        clips = [c for c in clips if c.name in args.clips.split(",")]
    pythons = interpreters(args)
    tools = [t for t in ("pyvidfast", *PEERS) if pythons[t]]
    frames = {c: frame_count(c, args.max_frames) for c in clips}
    runs = {c: {t: [] for t in tools} for c in clips}
    cli = {c: [] for c in clips}
    for rep in range(args.repeats):
        for clip in clips:
            order = tools[rep % len(tools) :] + tools[: rep % len(tools)]  # interleaved
            for tool in order:
                runs[clip][tool].append(worker(pythons[tool], tool, clip, frames[clip], args))
            fps = cli_fps(clip, frames[clip], args.threads)
            if fps:
                cli[clip].append(fps)
            print(f"repeat {rep + 1}/{args.repeats}: {clip.name} done", flush=True)

    rows = [r for c in clips for r in summarize(c.name, runs[c], cli[c])]
    results = {
        "threads": args.threads,
        "repeats": args.repeats,
        "frames": {c.name: frames[c] for c in clips},
        "tools": tools,
        "not_measured": {t: "not installed" for t in PEERS if not pythons[t]},
        "rows": rows,
    }
    print(f"wrote {write_results(args.out, results)}")
    table = []
    for r in rows:
        cells = {"clip": r["clip"][:34], "pattern": r["pattern"]}
        cells.update({t: f"{r['fps'][t]:.0f}" if t in r["fps"] else "-" for t in tools})
        cells["vs best"] = f"{r['vs_best_peer']:.2f}x {r['best_peer']}" if "best_peer" in r else ""
        cells["vs cli"] = f"{r['vs_cli']:.2f}x" if "vs_cli" in r else ""
        cells["frames differ"] = ",".join(t for t, same in r["same"].items() if not same)
        cells["seeks inexact"] = ",".join(r["inexact"])
        table.append(cells)
    columns = ["clip", "pattern", *tools, "vs best", "vs cli", "frames differ", "seeks inexact"]
    print_table(table, columns)


if __name__ == "__main__":
    main()

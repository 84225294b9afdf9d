"""Is `pyvidfast check --device cuda` faster than the CPU check, with the same verdicts? (issue 14)

Two file sets: the real clips in ../shared/testdata/real, and ``--generated`` 1080p24 clips of
``--min-seconds``..``--max-seconds`` s, half H.264 and half HEVC (x264/x265 through PyAV, made
here in a temp dir). On each: the CPU check (``--jobs`` workers), then the GPU check (NVDEC),
per-file verdict equality (``ok`` and ``error_kind``), files/s and the ratio, and NVDEC's decode
rate (frames the GPU check decoded on NVDEC / its wall time) as a fraction of the ceiling: the
same generated clips decoded with nothing else (PyNvVideoCodec's CreateDemuxer + CreateDecoder
on 2 threads per engine, in a child process: CUDA must not be initialised in this one, whose
checker workers are forked). Without NVDEC it says so and exits 0.

    python benchmarks/bench_gpu_check.py [--generated 100] [--min-seconds 5] [--max-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import av
import numpy as np
from common import REAL_DIR, print_table, write_results

README_CEILING_FPS = 1372  # ../shared/gpu/README.md: 14 threads, generated 1080p24 x264


def make_clip(args: tuple[str, str, float, int]) -> str:
    """A moving 1080p clip (x264/x265 ultrafast, 24 fps) whose frames differ everywhere."""
    path, codec, seconds, seed = args
    h, w = 1080, 1920
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 60, size=(h, w + 4096, 3), dtype=np.uint8)
    x = np.arange(w)[None, :]
    with av.open(path, "w") as out:
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        # One thread per encoder: the clips are made one per core.
        stream.codec_context.thread_count = 1
        stream.options = {"preset": "ultrafast"}
        if codec == "libx265":
            params = "log-level=error:pools=1:frame-threads=1"
            stream.options = {"preset": "ultrafast", "x265-params": params}
        for i in range(int(seconds * 24)):
            start = (16 * i) % 4096
            img = noise[:, start : start + w].copy()
            img[..., 0] += ((x + 5 * i) % 180).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def ceiling(paths: list[str], threads: int) -> dict:
    """Raw NVDEC: every frame of ``paths`` on ``threads`` threads, each file demuxed and decoded
    by PyNvVideoCodec alone (run in a child process)."""
    import PyNvVideoCodec as nvc  # noqa: N813

    todo: queue.Queue = queue.Queue()
    for p in paths:
        todo.put(p)
    frames = [0] * threads

    def work(k: int) -> None:
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            dmx = nvc.CreateDemuxer(filename=path)
            dec = nvc.CreateDecoder(
                gpuid=0, codec=dmx.GetNvCodecId(), cudacontext=0, cudastream=0, usedevicememory=True
            )
            for packet in dmx:
                frames[k] += len(dec.Decode(packet))

    t0 = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - t0
    return {"frames": sum(frames), "seconds": seconds, "fps": sum(frames) / seconds}


def measure(paths: list[str], jobs: int, workers: int | None) -> dict:
    """CPU check, then GPU check, on ``paths``; verdicts compared per file."""
    from pyvidfast.curation.check import run_files
    from pyvidfast.parallel.options import EngineOptions

    out: dict = {"files": len(paths)}
    results = {}
    for device, opts in (
        ("cpu", EngineOptions(workers=jobs, timeout=300)),
        ("cuda", EngineOptions(workers=workers, timeout=300)),
    ):
        t0 = time.perf_counter()
        results[device] = run_files(paths, options=opts, progress=False, device=device)
        out[f"{device}_seconds"] = time.perf_counter() - t0
        out[f"{device}_files_per_s"] = len(paths) / out[f"{device}_seconds"]
    cpu, gpu = results["cpu"], results["cuda"]
    out["speedup"] = out["cuda_files_per_s"] / out["cpu_files_per_s"]
    out["verdicts_differ"] = sorted(
        os.path.basename(p)
        for p in paths
        if (cpu[p]["ok"], cpu[p]["error_kind"]) != (gpu[p]["ok"], gpu[p]["error_kind"])
    )
    on_gpu = [p for p in paths if gpu[p].get("device") == "cuda"]
    out["nvdec_files"] = len(on_gpu)
    out["nvdec_frames"] = sum(int(gpu[p]["decoded_frames"]) for p in on_gpu)
    out["nvdec_fps"] = out["nvdec_frames"] / out["cuda_seconds"]
    return out


def nvdec_here() -> bool:
    """NVDEC's driver libraries and a GPU, found without initialising CUDA in this process."""
    from pyvidfast.io.nvdec import missing_driver_libraries

    return not missing_driver_libraries() and shutil.which("nvidia-smi") is not None


def generate(tmp: str, args) -> list[str]:
    span = int(args.max_seconds - args.min_seconds) + 1
    jobs = [
        (
            os.path.join(tmp, f"g{i:04d}.mp4"),
            "libx264" if i % 2 == 0 else "libx265",
            args.min_seconds + i % span,
            i,
        )
        for i in range(args.generated)
    ]
    with ProcessPoolExecutor(args.jobs) as ex:
        return list(ex.map(make_clip, jobs))


def run_ceiling(paths: list[str], threads: int, tmp: str) -> dict:
    listing = os.path.join(tmp, "ceiling.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths))
    cmd = [sys.executable, __file__, "--ceiling-of", listing, "--ceiling-threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=100)
    parser.add_argument("--min-seconds", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="CPU check workers")
    parser.add_argument("--workers", type=int, default=None, help="GPU checker processes")
    parser.add_argument("--ceiling-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-threads", type=int, default=14, help="raw NVDEC threads")
    parser.add_argument(
        "--dry-run", action="store_true", help="CPU: a few real clips, the NVDEC stand-in"
    )
    args = parser.parse_args()
    if args.dry_run:
        return dry_run()
    if args.ceiling_of:
        with open(args.ceiling_of) as f:
            print(json.dumps(ceiling(f.read().split("\n"), args.ceiling_threads)))
        return 0
    if not nvdec_here():
        print("bench_gpu_check: no NVDEC here; nothing to measure", file=sys.stderr)
        return 0
    real = sorted(
        str(p) for p in REAL_DIR.rglob("*") if p.is_file() and p.suffix not in (".csv", ".md")
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generated = generate(tmp, args)
        gen_seconds = time.perf_counter() - t0
        results = {"real": measure(real, args.jobs, args.workers)}
        results["generated"] = measure(generated, args.jobs, args.workers)
        results["ceiling"] = run_ceiling(generated, args.ceiling_threads, tmp)
    if "fps" in results["ceiling"]:
        results["generated"]["fraction_of_ceiling"] = (
            results["generated"]["nvdec_fps"] / results["ceiling"]["fps"]
        )
    results["generated"]["fraction_of_readme_ceiling"] = (
        results["generated"]["nvdec_fps"] / README_CEILING_FPS
    )
    return report(args, results, gen_seconds)


DRY_RUN_FILES = (
    "vpf/test.mp4",
    "decord/corrupted.mp4",
    "androidx_media/mp4__h265_bframes.mp4",
    "androidx_media/vp9__bear-vp9.webm",
)


def dry_run() -> int:
    """gpu_verify.sh's CPU rehearsal: the GPU checker's processes over the measured NVDEC
    stand-in, against the CPU check, on a few real clips; per-file verdicts compared."""
    from pyvidfast.curation.check import run_files
    from pyvidfast.curation.gpu import check_paths_cuda
    from pyvidfast.curation.tasks import Task
    from pyvidfast.io.nvdec.standin import standin_pool

    paths = [str(REAL_DIR / f) for f in DRY_RUN_FILES]
    cpu = run_files(paths, progress=False)
    got: dict = {}
    stats = check_paths_cuda(
        [Task(p) for p in paths],
        got.__setitem__,
        workers=1,
        timeout=120,
        pool_factory=lambda: standin_pool(1),
    )
    differ = [
        os.path.basename(p)
        for p in paths
        if (cpu[p]["ok"], cpu[p]["error_kind"]) != (got[p]["ok"], got[p]["error_kind"])
    ]
    out = write_results(
        "bench_gpu_check_dry_run",
        {"dry_run": True, "files": len(paths), "devices": stats, "verdicts_differ": differ},
    )
    print(f"wrote {out}")
    return 0 if not differ else 1


def report(args, results: dict, gen_seconds: float) -> int:
    out = write_results(
        "bench_gpu_check",
        {
            "question": "files/s: pyvidfast check --device cuda vs the CPU check (--jobs "
            "workers); per-file verdict equality; NVDEC decode rate vs the raw ceiling",
            "config": {**vars(args), "generate_seconds": gen_seconds},
            "targets": {"real_speedup": 1, "generated_speedup": 3, "verdicts_differ": 0},
            **results,
        },
    )
    print(f"wrote {out}")
    rows = [
        {
            "files": f"{name} ({r['files']})",
            "cpu check/s": f"{r['cpu_files_per_s']:.1f}",
            "gpu check/s": f"{r['cuda_files_per_s']:.1f}",
            "speedup": f"{r['speedup']:.2f}x",
            "nvdec fps": f"{r['nvdec_fps']:.0f}",
            "verdict diffs": len(r["verdicts_differ"]),
        }
        for name, r in results.items()
        if name != "ceiling"
    ]
    print(json.dumps(results["ceiling"]))
    print_table(
        rows, ["files", "cpu check/s", "gpu check/s", "speedup", "nvdec fps", "verdict diffs"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

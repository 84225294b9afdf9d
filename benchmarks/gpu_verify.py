"""Every GPU question in one device run of at most 5 minutes, in priority order (issue 25).

Steps: 1 the machine (GPU, driver, NVDEC engines, versions); 2 every ``needs_cuda`` test under
``PYVIDFAST_REQUIRE_CUDA=1`` (a skip fails); 3 the NVDEC sweep over the real corpus (on the GPU or
the fallback reason per file, pixels against the CPU reader, the multi-GOP seek); 4 the fused
kernel's device and host time against the torch chain and a copy; 5 the GPU loader against our
CPU ``SFTDataset`` and decord, 16 workers each, GPU memory over the run; 6 the GPU check against
the CPU check, 16 workers, per-file verdicts. Each step has its own time cap and runs whatever
the one before did; it writes ``step<N>_<name>.json`` (command, exit code, seconds, the
benchmark's JSON inside) and appends its output to ``gpu_verify.log``; ``summary.txt`` is the
one-screen result. That is 8 files, what a device call brings back.

``--dry-run`` is the CPU rehearsal CI runs (tests/test_gpu_verify.py): the same steps over the
measured NVDEC stand-in and the kernel's host-only path, so a typo, a missing file or a wrong
path shows here, not on the device.

    bash benchmarks/gpu_verify.sh [--dry-run]      # $OUT: where the 8 files go
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 295  # of the 300 s a device call is planned for
PY = sys.executable
DRY_SWEEP = [
    "vpf/test.mp4",
    "torchcodec/nasa_13013.mp4",
    "androidx_media/vp9__bear-vp9-odd-dimensions.webm",
]


def steps(dry: bool, out: Path, real_dir: Path) -> list[tuple[str, int, list[str]]]:
    """``(name, cap in seconds, command)`` in priority order."""
    bench = ROOT / "benchmarks"
    # The files that hold needs_cuda tests, not the whole folder: the device lacks the test
    # extras of other modules (moto, s3fs, ray), and collecting them would fail the step.
    files = sorted(
        str(p) for p in (ROOT / "tests").glob("test_*.py") if "needs_cuda" in p.read_text()
    )
    tests = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "needs_cuda", *files]
    if dry:
        return [
            ("machine", 60, [PY, str(bench / "gpu_verify.py"), "--machine"]),
            ("tests", 120, [PY, *tests, "--collect-only"]),
            (
                "sweep",
                240,
                [PY, str(bench / "nvdec_sweep.py"), "--standin", "--out", str(out)]
                + [str(real_dir / f) for f in DRY_SWEEP],
            ),
            (
                "kernel",
                120,
                [
                    PY,
                    str(bench / "bench_gpu_transform.py"),
                    "--host-only",
                    "--frames",
                    "2",
                    "--repeats",
                    "1",
                ],
            ),
            (
                "loader",
                300,
                [PY, str(bench / "bench_gpu_dataset.py"), "--dry-run", "--seconds", "7"],
            ),
            ("check", 240, [PY, str(bench / "bench_gpu_check.py"), "--dry-run"]),
        ]
    return [
        ("machine", 20, [PY, str(bench / "gpu_verify.py"), "--machine"]),
        ("tests", 90, [PY, *tests, "-n", "4"]),
        ("sweep", 45, [PY, str(bench / "nvdec_sweep.py"), "--device", "cuda", "--out", str(out)]),
        (
            "kernel",
            30,
            [PY, str(bench / "bench_gpu_transform.py"), "--frames", "49", "--repeats", "20"],
        ),
        (
            "loader",
            60,
            [
                PY,
                str(bench / "bench_gpu_dataset.py"),
                "--clips",
                "12",
                "--items",
                "600",
                "--loader-items",
                "200",
                "--cpu-items",
                "48",
                "--workers",
                "16",
            ],
        ),
        ("check", 60, [PY, str(bench / "bench_gpu_check.py"), "--generated", "24", "--jobs", "16"]),
    ]


def machine() -> dict:
    """The GPU, its driver and NVDEC engines, and the library versions (no CUDA context made
    by torch: NVML answers, so later steps may still fork)."""
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    info: dict = {"python": sys.version.split()[0]}
    smi = (
        subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        if _which("nvidia-smi")
        else None
    )
    info["nvidia_smi"] = smi.stdout.strip() if smi is not None else "not found"
    for module in ("torch", "av", "PyNvVideoCodec", "pyvidfast"):
        try:
            info[module] = getattr(__import__(module), "__version__", "present")
        except Exception as exc:  # a missing library is a finding, not a crash
            info[module] = f"missing: {type(exc).__name__}: {exc}"[:200]
    try:
        import pyvidfast
        from pyvidfast.io.nvdec import engine_count, nvdec_available

        info["cuda_built"] = pyvidfast.has_cuda()
        info["nvdec_available"] = nvdec_available()
        info["nvdec_engines"] = engine_count(0) if info["nvdec_available"] else 0
    except Exception as exc:
        info["nvdec_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return info


def _which(name: str) -> bool:
    return any(
        os.access(os.path.join(d, name), os.X_OK) for d in os.environ.get("PATH", "").split(":")
    )


def run_step(
    index: int, name: str, cap: int, command: list[str], out: Path, raw: Path, left: float
) -> dict:
    """Run one step under its cap (or what is left of the budget); never raises."""
    limit = max(5.0, min(cap, left))
    before = set(raw.glob("*.json")) | set(out.glob("nvdec_sweep*.json"))
    t0 = time.perf_counter()
    with open(out / "gpu_verify.log", "a") as log:
        log.write(f"\n== step {index} {name} (cap {limit:.0f} s): {' '.join(command)}\n")
        log.flush()
        try:
            done = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=limit, cwd=ROOT
            )
            rc, timed_out = done.returncode, False
        except subprocess.TimeoutExpired:
            rc, timed_out = None, True
        log.write(f"== step {index} {name}: rc={rc} timed_out={timed_out}\n")
    record = {
        "step": index,
        "name": name,
        "command": command,
        "rc": rc,
        "timed_out": timed_out,
        "seconds": round(time.perf_counter() - t0, 1),
        "cap_s": round(limit),
        "results": {},
    }
    for path in sorted((set(raw.glob("*.json")) | set(out.glob("nvdec_sweep*.json"))) - before):
        try:
            record["results"][path.name] = json.loads(path.read_text())
        except ValueError as exc:
            record["results"][path.name] = f"unreadable: {exc}"
        if path.parent == out:
            path.unlink()  # kept inside this step's JSON: 8 files in all
    if name == "tests":
        record["summary"] = _pytest_summary(out / "gpu_verify.log")
    return record


def _pytest_summary(log: Path) -> str:
    lines = [
        line
        for line in log.read_text().splitlines()
        if " passed" in line
        or " failed" in line
        or "tests collected" in line
        or "error" in line.lower()
    ]
    return lines[-1] if lines else ""


def summarize(records: list[dict], dry: bool, seconds: float) -> str:
    mode = "dry run (CPU, NVDEC stand-in)" if dry else "device"
    lines = [f"gpu_verify: {mode}, {seconds:.0f} s"]
    for r in records:
        state = "timeout" if r["timed_out"] else ("ok" if r["rc"] == 0 else f"rc={r['rc']}")
        extra = r.get("summary", "") or ", ".join(r["results"]) or "-"
        lines.append(
            f"  {r['step']}. {r['name']:<8} {state:<8} {r['seconds']:>6.1f} s  {extra[:90]}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU rehearsal over the stand-in")
    parser.add_argument("--out", default=os.environ.get("OUT", "/tmp/gpu_verify_out"))
    parser.add_argument("--machine", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.machine:
        print(json.dumps(machine(), indent=2))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    real_dir = Path(os.environ.get("PYVIDFAST_TESTDATA") or ROOT.parent / "shared/testdata/real")
    os.environ["PYVIDFAST_TESTDATA"] = str(real_dir)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    os.environ["PYTHONUNBUFFERED"] = "1"
    if not args.dry_run:
        os.environ["PYVIDFAST_REQUIRE_CUDA"] = "1"
    start = time.perf_counter()
    records = []
    with tempfile.TemporaryDirectory() as raw:
        os.environ["PYVIDFAST_RESULTS_DIR"] = raw
        for index, (name, cap, command) in enumerate(steps(args.dry_run, out, real_dir), 1):
            left = BUDGET_S - (time.perf_counter() - start) if not args.dry_run else cap
            record = run_step(index, name, cap, command, out, Path(raw), left)
            if name == "machine" and record["rc"] == 0:
                log = (out / "gpu_verify.log").read_text()
                block = log[log.rindex("== step 1 machine (cap") :]
                record["results"]["machine"] = json.loads(
                    block[block.index("{") : block.rindex("}") + 1]
                )
            record["dry_run"] = args.dry_run
            (out / f"step{index}_{name}.json").write_text(
                json.dumps(record, indent=2, default=str) + "\n"
            )
            records.append(record)
    text = summarize(records, args.dry_run, time.perf_counter() - start)
    (out / "summary.txt").write_text(text)
    print(text, end="")
    return 0 if all(r["rc"] == 0 for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())

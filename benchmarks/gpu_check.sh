#!/usr/bin/env bash
# The device check for issue 14 (`pyvidfast check --device cuda`), at most 5 minutes:
#   1. probe: a 7-file smoke run of the checker against the CPU check (after importing
#      PyNvVideoCodec in the parent, as the command does), the same after the parent ran
#      cudaGetDeviceCount (does fork survive it?), and the PyNvVideoCodec facts the CPU cannot
#      show (PacketData fields writable, decoder caps incl. VP9 10-bit);
#   2. tests/test_gpu_check*.py with PYVIDFAST_REQUIRE_CUDA=1 (a skipped GPU test fails);
#   3. benchmarks/bench_gpu_check.py: the 84 real clips and 100 generated 1080p H.264/HEVC clips
#      of 5-10 s (made on the device with PyAV's x264/x265), CPU check with 16 workers vs the GPU
#      check, per-file verdicts, NVDEC decode rate vs the raw 14-thread ceiling.
# Every step has its own timeout; a failing step does not stop the others (no `set -e`).
# On the developer machine: `bash ../shared/gpu/pack.sh` (PACK_DECORD=0 is enough), then
#   run(command="source .device/setup.sh && bash benchmarks/gpu_check.sh", carry=[".device"],
#       timeout_s=330)
# Results in $OUT: gpu_check.log (everything), probe.log, pytest_gpu_check.log,
# bench_gpu_check.log, bench_gpu_check.json.
set -x
cd "$(dirname "$0")/.." || exit 1
OUT="${OUT:-/tmp/gpu_check_out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
START=$SECONDS
left() { echo $((295 - (SECONDS - START))); }  # seconds left of the 5-minute budget
cap() { local l; l=$(left); echo $(($1 < l ? $1 : (l > 5 ? l : 5))); }
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$PWD/.device/testdata/real}"

echo "== machine"
date -u
nvidia-smi -L
python3 -c "import sys, torch, av; print(sys.version.split()[0], 'torch', torch.__version__, 'av', av.__version__)"

echo "== 1. probe"
# The checker forks its decoder processes: nothing in the parent may initialise CUDA first.
# torch.cuda.is_available() does (cudaGetDeviceCount) unless it asks NVML instead.
export PYTORCH_NVML_BASED_CUDA_CHECK=1
cat > /tmp/smoke.py <<'PY'
import os, sys
import PyNvVideoCodec  # noqa: F401  as `pyvidfast check --device cuda` does before the run
if len(sys.argv) > 1:
    import torch; print("parent cuda available:", torch.cuda.is_available())
from pyvidfast.curation.gpu import check_paths_cuda
from pyvidfast.curation.integrity import check_file
from pyvidfast.curation.tasks import Task
real = os.environ["PYVIDFAST_TESTDATA"]
files = ["vpf/test.mp4", "androidx_media/vp9__roadtrip-vp92-10bit.webm", "torchcodec/h265_video.mp4",
         "androidx_media/vp9__bear-vp9-odd-dimensions.webm", "decord/corrupted.mp4",
         "androidx_media/mp4__h265_bframes.mp4", "androidx_media/mp4__sample_with_invalid_nalu.mp4"]
got = {}
stats = check_paths_cuda([Task(os.path.join(real, f)) for f in files],
                         lambda p, r: got.__setitem__(p, r), workers=2, timeout=60)
print("stats", stats)
for f in files:
    r, c = got[os.path.join(real, f)], check_file(os.path.join(real, f))
    same = (r["ok"], r["error_kind"]) == (c["ok"], c["error_kind"])
    print("SAME" if same else "DIFF", f, r.get("device", "cpu"), r["ok"], r["error_kind"],
          r["decoded_frames"], "cpu:", c["ok"], c["error_kind"], c["decoded_frames"], r["error_lines"][:2])
PY
timeout "$(cap 40)" python3 /tmp/smoke.py >"$OUT/probe.log" 2>&1; echo "smoke rc=$?" >>"$OUT/probe.log"
# Does a parent that ran cudaGetDeviceCount (no NVML check) leave forked workers able to decode?
PYTORCH_NVML_BASED_CUDA_CHECK=0 timeout "$(cap 25)" python3 /tmp/smoke.py cuinit >>"$OUT/probe.log" 2>&1
echo "smoke after cuInit rc=$?" >>"$OUT/probe.log"
timeout "$(cap 15)" python3 - >>"$OUT/probe.log" 2>&1 <<'PY'
import PyNvVideoCodec as nvc
print("PyNvVideoCodec", getattr(nvc, "__version__", "?"))
p = nvc.PacketData()
for name in ("bsl_data", "bsl", "pts", "dts"):
    try:
        setattr(p, name, 0); print("PacketData.%s writable" % name)
    except Exception as exc:
        print("PacketData.%s NOT writable: %r" % (name, exc))
for codec, depth in (("H264", 8), ("HEVC", 8), ("HEVC", 10), ("VP9", 8), ("VP9", 10), ("AV1", 8)):
    try:
        caps = nvc.GetDecoderCaps(gpuid=0, codec=getattr(nvc.cudaVideoCodec, codec),
                                  chromaformat=nvc.cudaVideoChromaFormat._420, bitdepth=depth)
        print("caps", codec, depth, dict(caps))
    except Exception as exc:
        print("caps", codec, depth, "failed:", repr(exc))
PY
cat "$OUT/probe.log"

echo "== 2. tests (PYVIDFAST_REQUIRE_CUDA=1)"
PYVIDFAST_REQUIRE_CUDA=1 timeout "$(cap 90)" python3 -m pytest -q -x tests/test_gpu_check.py tests/test_gpu_check_cuda.py tests/test_gpu_check_errwatch.py \
  >"$OUT/pytest_gpu_check.log" 2>&1
echo "pytest rc=$?"; tail -15 "$OUT/pytest_gpu_check.log"

echo "== 3. benchmark ($(left) s left)"
(cd benchmarks && timeout "$(cap 200)" python3 bench_gpu_check.py --generated "${GPU_CHECK_GENERATED:-100}" \
  --jobs 16 >"$OUT/bench_gpu_check.log" 2>&1)
echo "bench rc=$?"; tail -12 "$OUT/bench_gpu_check.log"
cp benchmarks/results/bench_gpu_check.json "$OUT/" 2>/dev/null
echo "== done in $((SECONDS - START)) s"

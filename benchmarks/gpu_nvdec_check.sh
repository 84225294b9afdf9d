#!/usr/bin/env bash
# Issue 11 on a GPU machine, in at most 5 minutes: the NVDEC reader, the GPU dataset and the GPU
# check under PYVIDFAST_REQUIRE_CUDA=1 (a skipped GPU test fails), the real-corpus sweep
# (on_gpu per file, fallback reasons, pixel agreement at 6 indices, nasa_13013.mp4 238-389) and
# bench_gpu_dataset.py (B-frame clips; our CPU SFTDataset and decord with 16 workers in the run).
#
# Here first (CPU, ../shared/gpu/README.md):  bash ../shared/gpu/pack.sh   (decord included)
# Device call:
#   run(command="source .device/setup.sh && bash benchmarks/gpu_nvdec_check.sh",
#       carry=[".device"], timeout_s=330)
# Then commit $OUT's nvdec_sweep.json and bench_gpu_dataset.json to benchmarks/results/.
#
# Every step has its own timeout and log in $OUT (6 files); a failing step does not stop the
# others. The tests and the sweep run side by side (light GPU use); the benchmark runs alone.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT="${OUT:-/tmp/gpu_nvdec_out}"
mkdir -p "$OUT"
export PYVIDFAST_REQUIRE_CUDA=1 PYTHONUNBUFFERED=1
export PYTHONPATH="${PYTHONPATH:-$PWD}:$PWD/benchmarks"
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$PWD/.device/testdata/real}"
T0=$(date +%s)
step() { echo "== $1 at +$(($(date +%s) - T0))s" | tee -a "$OUT/env.log"; }

step "environment"
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.video --format=csv
  ldconfig -p | grep -E 'nvcuvid|nvidia-encode'
  timeout 30 python3 -c "import torch, pyvidfast, av, PyNvVideoCodec as n; \
from pyvidfast.io.nvdec import engine_count, nvdec_available; \
print('torch', torch.__version__, 'cuda', pyvidfast.has_cuda(), 'av', av.__version__, \
'nvdec', nvdec_available(), 'engines', engine_count(0))"
} >>"$OUT/env.log" 2>&1

step "tests and sweep (side by side)"
timeout 100 python3 -m pytest -q -n 4 -p no:cacheprovider \
  tests/test_nvdec.py tests/test_nvdec_pool.py tests/test_nvdec_reader.py \
  tests/test_gpu_dataset.py tests/test_gpu_check.py >"$OUT/pytest.log" 2>&1 &
TESTS=$!
timeout 80 python3 benchmarks/nvdec_sweep.py --device cuda --out "$OUT" >"$OUT/sweep.log" 2>&1
echo "sweep rc=$?" >>"$OUT/env.log"
wait $TESTS
echo "pytest rc=$?" >>"$OUT/env.log"

step "bench_gpu_dataset"
timeout 170 python3 benchmarks/bench_gpu_dataset.py --clips 16 --items 2000 --loader-items 300 \
  --cpu-items 64 --workers 16 >"$OUT/bench.log" 2>&1
echo "bench rc=$?" >>"$OUT/env.log"
cp benchmarks/results/bench_gpu_dataset.json "$OUT/" 2>/dev/null
step "done"
tail -3 "$OUT/pytest.log" "$OUT/sweep.log" "$OUT/bench.log"

#!/usr/bin/env bash
# Issue 13 on a GPU machine: the CUDA parity tests of the transform and colour ops (the fused
# kernel bit for bit against its CPU emulation and the CPU op) and bench_gpu_transform.py (device
# and host time of the fused kernel against the torch chain and a copy). At most ~5 minutes.
#
# Here first (per ../shared/gpu/README.md), after any change under csrc/:
#   PACK_DECORD=0 PACK_CLIPS="androidx_media/mp4__bt601.mp4 torchcodec/nasa_13013.mp4 \
#     torchcodec/bt709_full_range.mp4 androidx_media/mp4__h265_with_metadata_track.mp4 \
#     androidx_media/mp4__sample_no_bframes.mp4 torchcodec/h264_10bits.mp4 \
#     torchcodec/h265_10bits.mp4 androidx_media/vp9__roadtrip-vp92-10bit.webm" \
#     bash ../shared/gpu/pack.sh
# Device call:
#   run(command="source .device/setup.sh && bash benchmarks/gpu_transform.sh", carry=[".device"],
#       timeout_s=330)
# Plain on purpose (it cannot be tried without a GPU): `set -x`, no `set -e`, every step has its
# own timeout and a failing step does not stop the later ones. PYVIDFAST_REQUIRE_CUDA=1 turns a
# skipped GPU test into a failure. Results in $OUT: gpu_transform.log, pytest_cuda.log,
# bench_gpu_transform.log, bench_gpu_transform_<gpu>.json.
set -x
cd "$(dirname "$0")/.." || exit 1
OUT="${OUT:-/tmp/gpu_transform_out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_transform.log") 2>&1
export PYVIDFAST_REQUIRE_CUDA=1 PYTHONUNBUFFERED=1

date -u
nvidia-smi -L
timeout 30 python3 -c "import torch, pyvidfast; print(torch.__version__, torch.version.cuda, pyvidfast.has_cuda())"

timeout 170 python3 -m pytest -q -n 4 tests/test_transform_cuda.py tests/test_color_cuda.py \
  >"$OUT/pytest_cuda.log" 2>&1
echo "pytest rc=$?"
tail -15 "$OUT/pytest_cuda.log"

timeout 100 python3 benchmarks/bench_gpu_transform.py --frames 49 --repeats 20 \
  >"$OUT/bench_gpu_transform.log" 2>&1
echo "bench rc=$?"
tail -25 "$OUT/bench_gpu_transform.log"
cp benchmarks/results/bench_gpu_transform_*.json "$OUT"/ 2>/dev/null
date -u

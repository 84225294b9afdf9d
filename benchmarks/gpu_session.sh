#!/usr/bin/env bash
# The one command a GPU session runs for issue 6 (fused NV12/RGB -> resize -> crop -> normalise):
# build with CUDA, run every needs_cuda test with PYVIDFAST_REQUIRE_CUDA=1 (a GPU run can never
# pass by skipping), run the GPU benchmarks, and leave logs + JSON in $OUT (at most 8 files).
#
# It cannot be tried on a machine without a GPU, so it is plain: `set -x`, no `set -e`, every
# step logged and timed out on its own, and a failing step does not stop the later ones.
#
# Before the run, on the developer machine, from the repo root (both folders are git-ignored and
# must be carried: the device machine has no network, and ../shared does not travel):
#   1. Wheels for the device's Python 3.12 (/opt/torch/.venv: torch 2.11 cu130, pybind11,
#      scikit-build-core, cmake, ninja, nvcc 13.0; no PyAV). av 18 is an abi3 wheel:
#        pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#          --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --no-deps -d .whl \
#          av==18.1.0 numpy pytest pluggy iniconfig packaging
#      (numpy / pytest are installed only if the venv lacks them.)
#   2. The real clips the tests read (tests/test_color.py REAL, tests/test_transform.py
#      test_real_frames; 4 MB), into .device/testdata/real/<same sub-path>:
#        for f in androidx_media/mp4__bt601.mp4 torchcodec/nasa_13013.mp4 \
#          torchcodec/bt709_full_range.mp4 androidx_media/mp4__h265_with_metadata_track.mp4 \
#          androidx_media/mp4__sample_no_bframes.mp4 torchcodec/h264_10bits.mp4 \
#          torchcodec/h265_10bits.mp4 androidx_media/vp9__roadtrip-vp92-10bit.webm \
#          androidx_media/mp4__edit_list_positive_shift.mp4 torchcodec/testsrc2.mp4 \
#          androidx_media/mp4__sample_portrait.mp4 vpf/test.mp4; do
#          mkdir -p .device/testdata/real/$(dirname $f)
#          cp ../shared/testdata/real/$f .device/testdata/real/$f; done
#      (.whl 51 MB + .device 4 MB + the tree stay under run()'s 64 MiB.)
#   3. run(command="bash benchmarks/gpu_session.sh", carry=[".whl", ".device"], timeout_s=600)
#      The build goes to build/gpu and pyvidfast/_C*.so on the device machine only; do not run
#      this script on a machine whose pyvidfast is an editable install you want to keep using
#      (the in-place .so would shadow it; delete pyvidfast/_C*.so afterwards).
# Results: $OUT/gpu_session.log (everything), build.log, pytest_cuda.log, pytest_more.log,
# bench_gpu_transform.log, bench_gpu_transform_<gpu>.json, bench_resize.log,
# bench_resize_cuda.json.
set -x
cd "$(dirname "$0")/.." || exit 1
OUT="${OUT:-/tmp/gpu_session_out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_session.log") 2>&1
START=$SECONDS
# Whole-command budget: run()'s limit is 600 s; stop starting steps that could not finish.
budget_left() { echo $((570 - (SECONDS - START))); }

echo "== machine"
date -u
nvidia-smi
nvidia-smi -q -d CLOCK | head -40
ldconfig -p | grep -E 'nvcuvid|nvidia-encode' || echo "NO nvcuvid / nvidia-encode in ldconfig"
command -v python3 nvcc cmake ninja
python3 -c "import sys, torch; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
nvcc --version | tail -2

echo "== carried wheels -> /tmp/site"
mkdir -p /tmp/site
WHEELS=$(ls .whl/av-*.whl 2>/dev/null)
python3 -c "import numpy" 2>/dev/null || WHEELS="$WHEELS $(ls .whl/numpy-*.whl 2>/dev/null)"
python3 -c "import pytest" 2>/dev/null || WHEELS="$WHEELS $(ls .whl/pytest-*.whl .whl/pluggy-*.whl .whl/iniconfig-*.whl .whl/packaging-*.whl 2>/dev/null)"
if [ -n "$WHEELS" ]; then
  # shellcheck disable=SC2086
  python3 -m pip install -q --no-index --no-deps --target /tmp/site $WHEELS
else
  echo "NO carried wheels in .whl/ (PyAV tests will be skipped or fail)"
fi
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import av, numpy, pytest; print('av', av.__version__, 'numpy', numpy.__version__, 'pytest', pytest.__version__)"

for d in .device/testdata/real ../shared/testdata/real shared/testdata/real; do
  if [ -d "$d" ]; then export PYVIDFAST_TESTDATA="$PWD/$d"; break; fi
done
echo "PYVIDFAST_TESTDATA=${PYVIDFAST_TESTDATA:-<none: real-clip tests skip>}"

echo "== build (PYVIDFAST_CUDA=ON, sm_90 only to save time; in place: pyvidfast/_C*.so)"
rm -f pyvidfast/_C*.so
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
# shellcheck disable=SC2086
timeout 300 cmake -S . -B build/gpu $GEN -DCMAKE_BUILD_TYPE=Release -DPYVIDFAST_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DPython_EXECUTABLE="$(command -v python3)" \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >"$OUT/build.log" 2>&1
timeout 300 cmake --build build/gpu -j "$(nproc)" >>"$OUT/build.log" 2>&1
echo "build exit: $?"
tail -25 "$OUT/build.log"
cp build/gpu/_C*.so pyvidfast/ && ls -la pyvidfast/_C*.so
python3 -c "import pyvidfast, pyvidfast._C as C; print('native', pyvidfast.has_native(), 'cuda built', C.has_cuda(), 'cuda usable', pyvidfast.has_cuda())"

echo "== CUDA tests (PYVIDFAST_REQUIRE_CUDA=1: skipping counts as failing)"
PYVIDFAST_REQUIRE_CUDA=1 timeout "$(($(budget_left) < 200 ? $(budget_left) : 200))" \
  python3 -m pytest -q -rA -p no:cacheprovider -s tests/test_transform_cuda.py tests/test_color_cuda.py \
  >"$OUT/pytest_cuda.log" 2>&1
echo "CUDA tests exit: $?"
grep -E "passed|failed|error" "$OUT/pytest_cuda.log" | tail -5
grep -E "within 2 levels" "$OUT/pytest_cuda.log"

echo "== GPU benchmark (issue 6 targets)"
if [ "$(budget_left)" -gt 60 ]; then
  (cd benchmarks && timeout "$(($(budget_left) < 150 ? $(budget_left) : 150))" \
    python3 bench_gpu_transform.py --frames 49 --repeats 20) >"$OUT/bench_gpu_transform.log" 2>&1
  echo "bench_gpu_transform exit: $?"
  tail -20 "$OUT/bench_gpu_transform.log"
  cp benchmarks/results/bench_gpu_transform_*.json "$OUT/" 2>/dev/null
fi

echo "== other needs_cuda tests and the CPU tests of this issue, on this machine"
if [ "$(budget_left)" -gt 60 ]; then
  PYVIDFAST_REQUIRE_CUDA=1 timeout "$(($(budget_left) < 120 ? $(budget_left) - 5 : 120))" \
    python3 -m pytest -q -p no:cacheprovider -m needs_cuda tests \
    --ignore=tests/test_transform_cuda.py --ignore=tests/test_color_cuda.py \
    >"$OUT/pytest_more.log" 2>&1
  echo "other needs_cuda tests exit: $?"
  timeout "$(($(budget_left) < 90 ? $(budget_left) - 5 : 90))" \
    python3 -m pytest -q -p no:cacheprovider tests/test_transform.py tests/test_color.py \
    >>"$OUT/pytest_more.log" 2>&1
  echo "CPU tests exit: $?"
  tail -5 "$OUT/pytest_more.log"
fi

echo "== bench_resize.py (CPU part first, then CUDA; last since it is the least new)"
if [ "$(budget_left)" -gt 40 ]; then
  timeout "$(($(budget_left) - 10))" python3 benchmarks/bench_resize.py --repeats 3 \
    >"$OUT/bench_resize.log" 2>&1
  echo "bench_resize exit: $?"
  tail -12 "$OUT/bench_resize.log"
  cp benchmarks/results/bench_resize_cuda.json "$OUT/" 2>/dev/null
fi
echo "== done in $((SECONDS - START)) s"
ls -la "$OUT"

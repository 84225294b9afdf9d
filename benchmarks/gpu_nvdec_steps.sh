#!/usr/bin/env bash
# Issues 7 and 8 on a GPU machine: NVDEC decoding (pyvidfast.io.nvdec), the GPU CogVideoX loader
# (pyvidfast.cogvideox.gpu) and `pyvidfast check --device cuda` (pyvidfast.curation.gpu_check).
# None of it has run on a GPU yet: this script is how it gets verified.
#
#   bash benchmarks/gpu_nvdec_steps.sh prepare   # on the developer machine (network), once
#   bash benchmarks/gpu_nvdec_steps.sh           # on the GPU machine; logs + JSON to $OUT
#
# Device call (the tree travels, ../shared does not; .device/ is git-ignored, so carry it):
#   run(command="bash benchmarks/gpu_nvdec_steps.sh", carry=[".device"], timeout_s=600)
# Callable from benchmarks/gpu_session.sh (issue 6) after its build step: it reuses an existing
# pyvidfast/_C*.so and /tmp/site, and builds only when there is no CUDA-enabled _C.
#
# Carried size (64 MiB limit): av 35.8 MB + PyNvVideoCodec without samples/sources 4.6 MB +
# decord 13.6 MB + ~7 MB of real clips + the repo. Keep other wheels out of .device/nvdec_whl.
#
# Plain on purpose (it cannot be tried without a GPU): `set -x`, no `set -e`, each step logged
# and time-limited, a failing step does not stop the later ones. Results in $OUT (<= 8 files):
# nvdec_steps.log, pytest_nvdec.log, bench_gpu_dataset.log/.json, bench_gpu_check.log/.json.
set -x
cd "$(dirname "$0")/.." || exit 1
WHL="${NVDEC_WHL:-.device/nvdec_whl}"
DATA="${NVDEC_DATA:-.device/testdata/real}"

if [ "${1:-}" = "prepare" ]; then
  # --- developer machine: wheels for the device's Python 3.12, a slim PyNvVideoCodec, clips ---
  SHARED="${PYVIDFAST_TESTDATA:-../shared/testdata/real}"
  mkdir -p "$WHL" "$DATA" /tmp/pnvc312
  pip download --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 \
    --no-deps -d /tmp/pnvc312 pynvvideocodec==2.2.4 av==18.1.0 decord==0.6.0 || exit 1
  cp /tmp/pnvc312/av-18.1.0-*.whl /tmp/pnvc312/decord-0.6.0-*.whl "$WHL"/
  # PyNvVideoCodec's wheel is 27 MB, mostly an FFmpeg source tarball and notebooks: keep the
  # package, its bundled libcudart (rpath $ORIGIN/../pynvvideocodec.) and one copy of each lib.
  rm -rf /tmp/pnvc312/x && mkdir -p /tmp/pnvc312/x
  (cd /tmp/pnvc312/x && unzip -q ../pynvvideocodec-2.2.4-cp312-*.whl 'PyNvVideoCodec/*' 'pynvvideocodec./*' \
    && cd PyNvVideoCodec && rm -f libavformat.so libavformat.so.63 libavutil.so libavutil.so.61 \
    && ln -s libavformat.so.63.1.101 libavformat.so.63 && ln -s libavformat.so.63 libavformat.so \
    && ln -s libavutil.so.61.1.101 libavutil.so.61 && ln -s libavutil.so.61 libavutil.so) || exit 1
  tar czf "$WHL/pynvvideocodec-2.2.4-cp312-slim.tgz" -C /tmp/pnvc312/x PyNvVideoCodec 'pynvvideocodec.'
  # Real clips: every corpus file under 350 kB (all 16 that ffmpeg fails among them) plus the
  # larger ones the NVDEC tests name, and the verdict table.
  python3 - "$SHARED" "$DATA" <<'EOF'
import csv, os, shutil, sys
src, dst = sys.argv[1:]
named = ["vpf/test.mp4", "torchcodec/nasa_13013.mp4", "torchcodec/bt709_full_range.mp4",
         "androidx_media/mp4__bt601.mp4", "androidx_media/mp4__h265_bframes.mp4",
         "androidx_media/mp4__sample_android_slow_motion.mp4", "decord/video_0.mov",
         "torchcodec/av1_video.mkv"]
rows = list(csv.DictReader(open(os.path.join(src, "FFMPEG_VERDICTS.csv"))))
files = {r["file"] for r in rows if os.path.getsize(os.path.join(src, r["file"])) < 350_000}
for f in sorted(files | set(named)) + ["FFMPEG_VERDICTS.csv", "PROBE.csv"]:
    os.makedirs(os.path.dirname(os.path.join(dst, f)) or dst, exist_ok=True)
    shutil.copy2(os.path.join(src, f), os.path.join(dst, f))
print(len(files | set(named)), "clips copied")
EOF
  du -sh "$WHL"/* "$DATA"
  exit 0
fi

# --- GPU machine ---------------------------------------------------------------------------
OUT="${OUT:-/tmp/gpu_nvdec_out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/nvdec_steps.log") 2>&1
START=$SECONDS
budget_left() { echo $((570 - (SECONDS - START))); }
limit() { local b; b=$(budget_left); echo $(($1 < b ? $1 : (b > 10 ? b : 10))); }

echo "== 1. driver video libraries (PyNvVideoCodec needs both, even to decode)"
ldconfig -p | grep -E 'nvcuvid|nvidia-encode' || echo "NO nvcuvid / nvidia-encode: expect NvdecUnavailableError"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.video --format=csv
nvidia-smi -q -d CLOCK | grep -A4 -i video

echo "== 2. carried wheels -> /tmp/site"
mkdir -p /tmp/site
python3 -c "import av" 2>/dev/null || python3 -m pip install -q --no-index --no-deps --target /tmp/site "$WHL"/av-*.whl
python3 -m pip install -q --no-index --no-deps --target /tmp/site "$WHL"/decord-*.whl
tar xzf "$WHL"/pynvvideocodec-*-slim.tgz -C /tmp/site
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
[ -d "$DATA" ] && export PYVIDFAST_TESTDATA="$PWD/$DATA"
echo "PYVIDFAST_TESTDATA=${PYVIDFAST_TESTDATA:-<none>}"
timeout 120 python3 -c "
import PyNvVideoCodec as nvc, torch
from pyvidfast.io.nvdec import _caps_query, engine_count
print('PyNvVideoCodec', nvc.__version__, 'torch', torch.__version__, torch.cuda.get_device_name())
print('chroma formats', list(nvc.cudaVideoChromaFormat.__members__))
for codec, depth in (('H264', 8), ('HEVC', 10), ('VP9', 8), ('AV1', 8)):
    print('caps', codec, depth, _caps_query(nvc, 0, codec, '420', depth))
print('engines', engine_count(0))
"

echo "== 3. pyvidfast with CUDA kernels (reuse gpu_session.sh's build, else build sm_90)"
if ! python3 -c "import pyvidfast, sys; sys.exit(0 if pyvidfast.has_cuda() else 1)"; then
  GEN=""
  command -v ninja >/dev/null && GEN="-G Ninja"
  # shellcheck disable=SC2086
  timeout "$(limit 300)" cmake -S . -B build/gpu $GEN -DCMAKE_BUILD_TYPE=Release -DPYVIDFAST_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DPython_EXECUTABLE="$(command -v python3)" \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >"$OUT/build_nvdec.log" 2>&1
  timeout "$(limit 300)" cmake --build build/gpu -j "$(nproc)" >>"$OUT/build_nvdec.log" 2>&1
  tail -5 "$OUT/build_nvdec.log"
  cp build/gpu/_C*.so pyvidfast/
fi
python3 -c "import pyvidfast; print('native', pyvidfast.has_native(), 'cuda', pyvidfast.has_cuda())"

echo "== 4. one real file on NVDEC, against the CPU reader"
timeout "$(limit 120)" python3 - <<'EOF'
import os, time, torch
from pyvidfast.io.nvdec import NvdecVideoReader, decoder_pool, engine_count
from pyvidfast.io.reader import VideoReader
path = os.path.join(os.environ.get("PYVIDFAST_TESTDATA", ""), "torchcodec/nasa_13013.mp4")
print("engines", engine_count(0))
t = time.perf_counter()
with NvdecVideoReader(path, "cuda") as g, VideoReader(path) as c:
    print(g, "on_gpu", g.on_gpu, g.fallback_reason, "format", g.format)
    idx = [0, 5, 5, len(c) - 1]
    a = g.get_batch(idx).cpu().int(); b = c.get_batch(idx).int()
    print("shape", tuple(a.shape), "max diff", (a - b).abs().max().item(), "mean", (a - b).abs().float().mean().item())
    y, uv = g.get_batch_yuv([0])
    print("luma", y[0].dtype, tuple(y[0].shape), y[0].stride(), "chroma", tuple(uv[0].shape), uv[0].stride())
pool = decoder_pool(0)
print("first file", time.perf_counter() - t, "s; pool created", pool.created, "reconfigured", pool.reconfigured)
EOF

echo "== 5. needs_cuda tests for issues 7/8 (PYVIDFAST_REQUIRE_CUDA=1: a skip is a failure)"
PYVIDFAST_REQUIRE_CUDA=1 timeout "$(limit 240)" python3 -m pytest -q -rfEs -p no:cacheprovider \
  tests/test_nvdec.py tests/test_gpu_dataset.py tests/test_gpu_check.py >"$OUT/pytest_nvdec.log" 2>&1
echo "pytest exit: $?"
tail -40 "$OUT/pytest_nvdec.log"

echo "== 6. benchmarks (each writes benchmarks/results/<name>.json; copied to \$OUT)"
(cd benchmarks && timeout "$(limit 240)" python3 bench_gpu_dataset.py --items "${NVDEC_ITEMS:-2000}" \
  --clips 16 --ref-items 48 >"$OUT/bench_gpu_dataset.log" 2>&1; tail -12 "$OUT/bench_gpu_dataset.log")
(cd benchmarks && timeout "$(limit 200)" python3 bench_gpu_check.py --generated "${NVDEC_GENERATED:-160}" \
  >"$OUT/bench_gpu_check.log" 2>&1; tail -12 "$OUT/bench_gpu_check.log")
cp benchmarks/results/bench_gpu_dataset.json benchmarks/results/bench_gpu_check.json "$OUT"/ 2>/dev/null
echo "done in $((SECONDS - START)) s"

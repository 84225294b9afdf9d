#!/usr/bin/env bash
# Issue 21's numbers in one run on one machine: the decode benchmark against decord, decord2,
# torchcodec, PyAV and the ffmpeg CLI (bench_decode.py), then SFTDataset against CogVideoX's
# procedure (bench_cogvideox.py). decord2 and torchcodec live in venvs of their own
# (../shared/spec/peers.md): DECORD2_PYTHON / TORCHCODEC_PYTHON name their interpreters.
# The load average is printed before each step so that a busy machine shows in the log.
#   bash benchmarks/speed_decode.sh [bench_decode.py options]
set -euo pipefail
cd "$(dirname "$0")"
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$(cd ../.. && pwd)/shared/testdata/real}"
echo "== bench_decode.py  ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 bench_decode.py "$@"
echo "== bench_cogvideox.py  ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 bench_cogvideox.py --repeats 3 --gen-seconds 10
echo "== done ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"

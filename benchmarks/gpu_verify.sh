#!/usr/bin/env bash
# Every GPU question in one device run of at most 5 minutes (issue 25): benchmarks/gpu_verify.py
# says what each step does. Eight files come back in $OUT: step1_machine.json .. step6_check.json,
# gpu_verify.log and summary.txt. A failing step never stops the next.
#
# Here (CPU) first: `bash benchmarks/gpu_verify.sh --dry-run` (CI runs it: tests/test_gpu_verify.py),
# then `bash ../shared/gpu/pack.sh` (../shared/gpu/README.md). Device call:
#   run(command="source .device/setup.sh && bash benchmarks/gpu_verify.sh", carry=[".device"],
#       timeout_s=330)
# Then copy the benchmark JSON embedded in $OUT's step files to benchmarks/results/ (device named).
cd "$(dirname "$0")/.." || exit 1
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$([ -d .device/testdata/real ] && echo "$PWD/.device/testdata/real")}"
[ -n "$PYVIDFAST_TESTDATA" ] || unset PYVIDFAST_TESTDATA
exec python3 benchmarks/gpu_verify.py --out "${OUT:-/tmp/gpu_verify_out}" "$@"

#!/usr/bin/env bash
# Issue 12's three speed numbers, measured in one run on one machine:
#   --info vs Open-Sora's procedure (bench_info.py), check vs `ffmpeg -f null` one job per core
#   (bench_check.py), SFTDataset vs CogVideoX's procedure on 720p/1080p clips (bench_cogvideox.py).
# Each script writes its JSON to benchmarks/results/; the load average is printed before each so a
# busy machine shows in the log. Run from anywhere: bash benchmarks/speed_kept.sh
set -euo pipefail
cd "$(dirname "$0")"
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$(cd ../.. && pwd)/shared/testdata/real}"
for step in "bench_info.py" "bench_check.py" "bench_cogvideox.py"; do
    echo "== $step  ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
    python3 "$step"
done
echo "== done ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - <<'PY'
import json
info = json.load(open("results/bench_info.json"))["sets"]["real_corpus"]
check = json.load(open("results/bench_check.json"))
sft = json.load(open("results/bench_cogvideox.json"))["summary"]
print(f"--info default      {info['default']['speedup_vs_reference']:.1f}x the reference (target 100x)")
print(f"--info worker pool  {info['default_pool']['speedup_vs_reference']:.1f}x")
print(f"check               {check['speedup']:.2f}x ffmpeg -f null, one job per core (target 1.5x)")
print(f"SFTDataset          {sft['speedup']:.2f}x the reference on 720p/1080p clips (target 5x)")
PY

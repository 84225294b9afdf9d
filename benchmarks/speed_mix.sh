#!/usr/bin/env bash
# Issue 23's numbers in one run on one machine: --info and check on the scraped-web mix
# (bench_mix.py: the tests' 1-2 s clips, then the same classes as 8 s clips), then the real
# corpus's three ratios (speed_kept.sh), so a mix gain that cost the real corpus shows at once.
# The load average is printed before each step. Log: benchmarks/results/speed_mix.log
#     bash benchmarks/speed_mix.sh
set -euo pipefail
cd "$(dirname "$0")"
{
    echo "== bench_mix.py  ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
    python3 bench_mix.py
    echo "== bench_mix.py --seconds 8  ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
    python3 bench_mix.py --seconds 8 --out bench_mix_8s
    bash speed_kept.sh
} 2>&1 | grep -v '^\[' | tee results/speed_mix.log

#!/usr/bin/env bash
# Issue 24 (Ray half): info, check and prepare --engine ray on a head + two worker nodes started
# with `ray start` on this host, one worker node SIGKILLed mid-run (bench_ray_cluster.py), the
# load average before and after. JSON: results/bench_ray_cluster.json, log: results/ray_cluster.log.
# Run from anywhere: bash benchmarks/ray_cluster.sh
set -euo pipefail
cd "$(dirname "$0")"
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$(cd ../.. && pwd)/shared/testdata/real}"
{
    echo "== bench_ray_cluster.py  ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
    python3 bench_ray_cluster.py "$@"
    echo "== done ($(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
} 2>&1 | tee results/ray_cluster.log

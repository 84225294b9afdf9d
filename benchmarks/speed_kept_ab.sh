#!/usr/bin/env bash
# speed_kept.sh on another tree (the code before a change) and on this one, in one run:
#   bash benchmarks/speed_kept_ab.sh /path/to/worktree-before
# An editable install's finder would import this tree whatever PYTHONPATH says, so it is set
# aside for the run (and put back on exit); each tree gets a copy of the built _C.
set -uo pipefail
before=$(cd "$1" && pwd); here=$(cd "$(dirname "$0")/.." && pwd)
site=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
so=$(python3 -c "import pyvidfast._C as C; print(C.__file__)")
finder=$(ls "$site"/_editable_*pyvidfast*.pth 2>/dev/null | head -1)
cp "$so" "$before/pyvidfast/"; cp "$so" "$here/pyvidfast/" 2>/dev/null
if [ -n "$finder" ]; then
  mv "$finder" "$finder.off"
  trap 'mv "$finder.off" "$finder"; rm -f "$here"/pyvidfast/_C*.so "$before"/pyvidfast/_C*.so' EXIT
fi
export PYVIDFAST_TESTDATA="${PYVIDFAST_TESTDATA:-$(cd "$here/.." && pwd)/shared/testdata/real}"
for tree in "$before" "$here"; do
  echo "######## $tree ($(git -C "$tree" log --oneline -1 | cut -c1-60))"
  (cd /tmp && PYTHONPATH=$tree python3 -c "import pyvidfast; print('pyvidfast from', pyvidfast.__file__)")
  PYTHONPATH=$tree bash "$tree/benchmarks/speed_kept.sh" 2>&1 | grep -vE "^\s*$" | tail -40
done

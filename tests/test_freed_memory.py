"""parallel/memory.py (Note [freed memory]): the command-line tools and the pool's workers reuse
freed blocks instead of faulting in fresh pages for every packet-sized allocation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")

# Packet-sized blocks (a 1440p H.264 frame is 300-650 KB, an 8K one 3.3 MB), allocated and freed
# in turn as a demuxer does; bytearray zero-fills, so every page of a fresh block faults.
_FAULTS = """
import resource

def faults(_=None):
    sizes = [300_000, 650_000, 3_300_000, 400_000]
    for size in sizes:
        block = bytearray(size)
        del block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        for size in sizes:
            block = bytearray(size)
            del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
"""


def _run(body: str, keep: str | None = None) -> int:
    env = dict(os.environ)
    env.pop("PYVIDFAST_KEEP_FREED_MEMORY", None)
    if keep is not None:
        env["PYVIDFAST_KEEP_FREED_MEMORY"] = keep
    code = _FAULTS + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def test_kept_memory_takes_no_fresh_pages():
    body = """
        from pyvidfast.parallel.memory import keep_freed_memory
        print(keep_freed_memory(), faults())
    """
    default = _run("print(faults())")
    assert _run(body) < 20 < default  # glibc's default: a fresh mmap for many of these blocks
    assert _run(body, keep="0") > 20  # the opt-out leaves malloc alone


def test_pool_workers_and_commands_keep_memory():
    pool = """
        from pyvidfast.parallel.pool import map_with_timeout
        print(max(map_with_timeout(faults, [0, 1], num_workers=2)))
    """
    assert _run(pool) < 20
    command = """
        from pyvidfast.parallel.interrupt import run_command
        run_command("test", lambda: print(faults()))
    """
    assert _run(command) < 20

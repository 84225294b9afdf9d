"""Fuzz the ``moov`` parser (``pyvidfast.io.mp4.moov_info``) and the probe (``probe_video``)
with byte mutations of the real MP4/MOV clips: no crash, no hang, no unbounded allocation.

The mutations aim where a parser can go wrong: box sizes (0, 1, 7, one off, 2**32 - 1, the
64-bit form), the entry counts of full boxes (stts, stsz, ctts, stsc, stco, elst, stsd, ...) set
to 0, 1 and huge values, random bytes inside ``moov``, and truncation. Each case runs in a child
process (``python tests/test_fuzz.py``) under an address-space limit (``RLIMIT_AS``) and a CPU
limit per input (``RLIMIT_CPU`` raised by ``PER_INPUT_CPU_S`` before each one: SIGXCPU kills a
loop even inside C code, and CPU time does not swing with a shared machine's load), with
``faulthandler`` as the wall-clock backstop for an input that blocks without using CPU. ``moov_info`` may return a ``MoovInfo`` or None or raise the errors its caller
(``probe_video``) handles, ``ValueError``/``IndexError``/``OSError``; ``probe_video`` may not raise.

More cases, another seed: ``PYVIDFAST_FUZZ_CASES=5000 PYVIDFAST_FUZZ_SEED=7 python3 -m pytest
tests/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pyvidfast.io.errors import VideoDecodeError
from pyvidfast.io.mp4 import moov_info
from pyvidfast.io.mp4_trust import header_problem
from pyvidfast.io.probe import probe_video
from pyvidfast.io.reader import VideoReader

MEMORY_LIMIT = 1 << 30  # bytes of address space for the child: a real clip needs far less
PER_INPUT_CPU_S = 15  # CPU seconds; the slowest clip (AV1 720x1280, decoded twice) takes ~3
PER_INPUT_S = 180  # wall seconds, for an input that hangs without using CPU
MAX_FILE = 2 << 20  # clips small enough to mutate quickly
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"}
FULL_BOX_TABLES = {
    b"stts": 4,
    b"ctts": 4,
    b"stss": 4,
    b"stsc": 4,
    b"stco": 4,
    b"co64": 4,
    b"elst": 4,
    b"stsd": 4,
    b"stsz": 8,  # version/flags, sample_size, then sample_count
    b"stz2": 8,
}
EXTREMES = [0, 1, 2, 7, 8, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def boxes(data: bytes, start: int = 0, end: int | None = None, depth: int = 0):
    """(kind, offset of the box, box size) of every box, descending into container boxes."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end and depth < 8:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if size < 8 or pos + size > end:
            return
        yield kind, pos, size
        if kind in CONTAINERS:
            yield from boxes(data, pos + 8, pos + size, depth + 1)
        elif kind == b"stsd" and size > 16:  # the sample entries after its 8-byte header
            yield from boxes(data, pos + 16, pos + size, depth + 1)
        pos += size


def _put32(data: bytearray, at: int, value: int) -> None:
    if at + 4 <= len(data):
        data[at : at + 4] = value.to_bytes(4, "big")


def _consistent_count(out: bytearray, found: list, count: int) -> tuple[bytes, str]:
    """stsz: constant sample size 1 and ``count`` samples; stts: one entry of ``count`` samples
    of duration 1. The tables agree, so a parser that trusts them allocates per sample."""
    for kind, pos, _ in found:
        if kind == b"stsz":
            _put32(out, pos + 12, 1)
            _put32(out, pos + 16, count)
        elif kind == b"stts":
            _put32(out, pos + 12, 1)
            _put32(out, pos + 16, count)
            _put32(out, pos + 20, 1)
    return bytes(out), f"stsz and stts agree on {count} samples"


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One mutated copy of ``data`` and a short description of the mutation."""
    found = list(boxes(data))
    out = bytearray(data)
    choice = rng.randrange(6) if found else 4
    if choice == 5:  # a huge sample count that stsz and stts agree on
        return _consistent_count(out, found, rng.choice([1 << 24, 0x7FFFFFFF, 0xFFFFFFFF]))
    if choice == 0:  # a box size
        kind, pos, size = rng.choice(found)
        value = rng.choice(EXTREMES + [size - 1, size + 1, size * 2])
        _put32(out, pos, value & 0xFFFFFFFF)
        return bytes(out), f"size of {kind!r}@{pos} -> {value}"
    if choice == 1:  # an entry count
        tables = [b for b in found if b[0] in FULL_BOX_TABLES] or found
        kind, pos, _ = rng.choice(tables)
        value = rng.choice(EXTREMES + [rng.randrange(1 << 32)])
        _put32(out, pos + 8 + FULL_BOX_TABLES.get(kind, 4), value)
        return bytes(out), f"count of {kind!r}@{pos} -> {value}"
    if choice == 2:  # random bytes inside one box (moov and below)
        kind, pos, size = rng.choice(found)
        for _ in range(rng.randint(1, 8)):
            out[pos + rng.randrange(size)] = rng.randrange(256)
        return bytes(out), f"bytes in {kind!r}@{pos}"
    if choice == 3:  # the 64-bit size form with a huge size
        kind, pos, _ = rng.choice(found)
        _put32(out, pos, 1)
        out[pos + 8 : pos + 16] = rng.choice([1 << 40, 16, 0xFFFFFFFFFFFFFFFF]).to_bytes(8, "big")
        return bytes(out), f"64-bit size of {kind!r}@{pos}"
    cut = rng.randrange(len(data))
    return bytes(out[:cut]), f"truncated at {cut}"


def corpus(real_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in real_dir.rglob("*")
        if p.suffix.lower() in (".mp4", ".mov", ".m4v") and 0 < p.stat().st_size <= MAX_FILE
    )


def _describe(exc: BaseException) -> str:
    import traceback

    where = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} at {Path(where.filename).name}:{where.lineno}"


def run_child(files: list[str], cases: int, seed: int, work: str) -> None:
    """The child: mutate, write, call moov_info and probe_video; print one JSON line per case."""
    import faulthandler
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    rng = random.Random(seed)
    sources = [Path(f).read_bytes() for f in files]
    target = os.path.join(work, "case.mp4")
    for case in range(cases):
        i = rng.randrange(len(sources))
        data, what = mutate(sources[i], rng)
        with open(target, "wb") as f:
            f.write(data)
        record = {"case": case, "file": files[i], "mutation": what}
        print(json.dumps({**record, "started": True}), flush=True)
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_limit = int(used.ru_utime + used.ru_stime) + PER_INPUT_CPU_S
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, resource.RLIM_INFINITY))
        faulthandler.dump_traceback_later(PER_INPUT_S, exit=True)
        try:
            moov_info(target)
        except (ValueError, IndexError, OSError):
            pass  # the errors probe_video turns into "ask FFmpeg"
        except BaseException as exc:  # anything else is a finding: record it, keep fuzzing
            record["moov_error"] = _describe(exc)
        try:
            probe_video(target)
            probe_video(target, exact_frames=rng.random() < 0.2)
        except BaseException as exc:  # probe_video must never raise: a finding
            record["probe_error"] = _describe(exc)
        faulthandler.cancel_dump_traceback_later()
        print(json.dumps(record), flush=True)


@pytest.mark.slow  # about 30 s for the default 300 cases on 2 cores
def test_fuzz_moov_and_probe(real_dir, tmp_path):
    files = corpus(real_dir)
    assert len(files) >= 20
    cases = int(os.environ.get("PYVIDFAST_FUZZ_CASES", "300"))
    seed = int(os.environ.get("PYVIDFAST_FUZZ_SEED", "20261201"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, __file__, str(cases), str(seed), str(tmp_path), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=PER_INPUT_S + cases * 5,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    finished = [r for r in lines if "started" not in r]
    last = lines[-1] if lines else None
    assert proc.returncode == 0, f"child died (rc {proc.returncode}) on {last}:\n{proc.stderr}"
    findings = [r for r in finished if "moov_error" in r or "probe_error" in r]
    assert not findings, findings[:5]
    assert len(finished) == cases


@pytest.mark.parametrize("seed", range(3))
def test_mutations_change_the_file(real_dir, seed):
    """The mutator really mutates (a fuzz loop over unchanged files would prove nothing)."""
    rng = random.Random(seed)
    data = corpus(real_dir)[seed].read_bytes()
    assert list(boxes(data))  # the box walker finds the structure to aim at
    changed = sum(mutate(data, rng)[0] != data for _ in range(50))
    assert changed >= 45


def _edited(real_dir: Path, tmp_path: Path, edit) -> Path:
    data = bytearray((real_dir / "torchcodec" / "nasa_13013.mp4").read_bytes())
    edit(data, list(boxes(bytes(data))))
    out = tmp_path / "edited.mp4"
    out.write_bytes(data)
    return out


def test_unknown_codec_tag_is_a_failure_row(real_dir, tmp_path):
    """Found by the fuzzer: a stream FFmpeg has no decoder for has no codec context."""

    def edit(data, found):
        for kind, pos, _ in found:
            if kind == b"avc1":
                data[pos + 4 : pos + 8] = b"zzzz"

    path = str(_edited(real_dir, tmp_path, edit))
    probe = probe_video(path)
    assert probe.error == "no decoder for the video stream" and probe.num_frames == 0
    with pytest.raises(VideoDecodeError, match="no decoder for the video stream"):
        VideoReader(path)


def test_huge_sample_count_is_not_trusted(real_dir, tmp_path):
    """Found by the fuzzer: stsz and stts agreeing on 2**31 samples made moov_info allocate
    8 bytes a sample (17 GB); more samples than bytes in the file is not believed."""
    path = _edited(real_dir, tmp_path, lambda data, found: _consistent_count(data, found, 1 << 24))
    assert moov_info(str(path)) is None
    assert "more than the file has bytes" in header_problem(str(path))  # before any allocation
    assert probe_video(str(path)).num_frames != 1 << 24


if __name__ == "__main__":
    run_child(sys.argv[4:], int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])

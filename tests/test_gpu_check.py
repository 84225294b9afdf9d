"""pyvidfast.curation.gpu (``check --device cuda``): on the CPU with a stand-in decoder that
behaves as NVDEC was measured (tests/nvdec_standin.py); on NVDEC against the CPU check under
``needs_cuda``."""

from __future__ import annotations

import ctypes
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest
import torch
from media import make_clip

from pyvidfast.curation import check, engines, integrity
from pyvidfast.curation.gpu import check_paths_cuda, run_cuda
from pyvidfast.curation.gpu.shown import ShownCounter
from pyvidfast.curation.tasks import Task
from pyvidfast.io import nvdec, open_video
from pyvidfast.io.nvdec.standin import StandinDecoder

ROADTRIP = "androidx_media/vp9__roadtrip-vp92-10bit.webm"
VP9_ODD = "androidx_media/vp9__bear-vp9-odd-dimensions.webm"  # 161x121: below VP9's 128x128
HEVC_SMALL = "torchcodec/h265_video.mp4"  # 128x128: below HEVC's 144x144
AV1 = "torchcodec/av1_video.mkv"


class StatusErrors(StandinDecoder):
    """The stand-in, plus NVDEC's decode-status errors: a packet whose bytes' SHA-1 is in
    ``BAD`` is a damaged picture, and like NvDecoder (which prints, it does not raise) the
    decoder prints ``Decode Error occurred for picture N`` through C stdio, outputs the
    picture anyway and goes on: only the printed line tells."""

    BAD: frozenset[str] = frozenset()

    def decode(self, packet):
        if packet is not None and hashlib.sha1(packet.data).hexdigest() in self.BAD:
            libc = ctypes.CDLL(None)
            libc.printf(b"Decode Error occurred for picture %d\n", len(self.fed))
            libc.fflush(None)
        return super().decode(packet)  # the picture still comes out, concealed


def h200_caps(fmt) -> dict | None:
    """GetDecoderCaps as the H200 answers, VP9 10-bit included (issue 14's run decoded
    vp9__roadtrip-vp92-10bit.webm on NVDEC); None elsewhere (the measured table decides)."""
    if fmt.nv_codec == "VP9" and fmt.bit_depth == 10:
        return {
            "num_decoder_engines": 7,
            "width_min": 128,
            "height_min": 128,
            "width_max": 8192,
            "height_max": 8192,
        }
    return None


def standin_pool(bad: frozenset[str] = frozenset()):
    decoder = type("Flagged", (StatusErrors,), {"BAD": bad})
    return lambda: nvdec.DecoderPool(decoder, 2, capability=(9, 0), caps=h200_caps)


def packet_sha1(path: str, index: int) -> str:
    """SHA-1 of the bytes NVDEC receives for video packet ``index`` of ``path`` (Annex B)."""
    with av.open(path) as c:
        st = c.streams.video[0]
        bsf = av.bitstream.BitStreamFilterContext(f"{st.codec_context.name}_mp4toannexb", st)
        packets = [p for p in c.demux(st) if p.size]
        return hashlib.sha1(bytes(bsf.filter(packets[index])[0])).hexdigest()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("gpucheck")
    return {
        "a": str(make_clip(d / "a.mp4", 30, size=(64, 48), options={"bf": "2"})),
        "b": str(make_clip(d / "b.mkv", 17, size=(96, 64))),
        "c": str(make_clip(d / "c.mp4", 12, size=(64, 48))),
        "hevc": str(make_clip(d / "h.mp4", 12, codec="libx265", size=(160, 160))),
    }


def _shown(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        counter = ShownCounter(st.codec_context.name)
        for p in c.demux(st):
            counter.add(bytes(p))
    return counter.packets, counter.shown


def _ffmpeg_frames(path: Path) -> int:
    """Frames the ffmpeg CLI decodes from the first video stream (its final progress line)."""
    cmd = ["ffmpeg", "-nostdin", "-v", "info", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    return int(re.findall(r"frame=\s*(\d+)", err)[-1])


def test_hidden_vp9_frames_are_counted_as_ffmpeg_counts_them(real_dir: Path):
    assert _shown(real_dir / ROADTRIP) == (80, 72)
    assert _ffmpeg_frames(real_dir / ROADTRIP) == 72
    for name in ("androidx_media/vp9__bear-vp9.webm", AV1, "androidx_media/mp4__sample_av1.mp4"):
        assert _shown(real_dir / name)[1] == _ffmpeg_frames(real_dir / name), name


def test_av1_shown_frames_of_a_generated_clip(tmp_path: Path):
    # SVT-AV1's default hierarchy codes frames ahead and shows them later (show_existing_frame).
    clip = make_clip(tmp_path / "x.mkv", 40, codec="libsvtav1", size=(64, 64))
    packets, shown = _shown(clip)
    assert shown == _ffmpeg_frames(clip) == 40
    assert packets >= shown


def test_routing_follows_the_decoder_caps(real_dir: Path, clips):
    from pyvidfast.curation.gpu.worker import route

    pool = standin_pool()()

    def decide(path) -> tuple[bool, str]:
        with av.open(str(path)) as c:
            return tuple(route(pool, nvdec.stream_format_of(c.streams.video[0])))

    assert decide(clips["a"]) == (True, "")  # 64x48 H.264: above 48x16
    assert decide(clips["hevc"]) == (True, "")  # 160x160 HEVC: above 144x144
    assert decide(real_dir / ROADTRIP) == (True, "")  # VP9 profile 2
    assert "below the NVDEC minimum 128x128" in decide(real_dir / VP9_ODD)[1]
    assert "below the NVDEC minimum 144x144" in decide(real_dir / HEVC_SMALL)[1]
    assert "AV1" in decide(real_dir / AV1)[1]
    h263 = "androidx_media/3gp__bbb_176x144_128kbps_15fps_h263.3gp"
    assert "not decoded on NVDEC" in decide(real_dir / h263)[1]


def _run(paths, pool_factory, workers=2, timeout=60) -> tuple[dict[str, dict], dict]:
    got: dict[str, dict] = {}

    def on_result(path, result):
        assert path not in got
        got[path] = result

    tasks = [Task(p) for p in paths]
    stats = check_paths_cuda(
        tasks, on_result, workers=workers, timeout=timeout, pool_factory=pool_factory
    )
    assert set(got) == set(paths)
    return got, stats


def test_one_batch_routes_and_attributes_errors_per_file(real_dir: Path, clips):
    """A broken file among good ones: only it fails; files NVDEC cannot take are in the same
    output with the CPU checker's verdict."""
    pool_factory = standin_pool(frozenset({packet_sha1(clips["b"], 5)}))
    gpu_files = [clips["a"], clips["b"], clips["c"], clips["hevc"], str(real_dir / ROADTRIP)]
    cpu_files = [
        str(real_dir / VP9_ODD),
        str(real_dir / HEVC_SMALL),
        str(real_dir / AV1),
        str(real_dir / "androidx_media/mp4__sample_malformed_free_box.mp4"),
        str(real_dir / "missing.mp4"),
    ]
    got, stats = _run(gpu_files + cpu_files, pool_factory)
    assert stats == {"gpu_files": 5, "cpu_files": 5}
    for p in cpu_files:
        assert got[p] == integrity.check_file(p)
    bad = got[clips["b"]]
    assert not bad["ok"] and bad["error_kind"] == "decode"
    assert "1 picture(s) with decode errors" in bad["error_lines"][-1]
    for p in gpu_files:
        if p == clips["b"]:
            continue
        want = integrity.check_file(p)
        assert got[p]["ok"] and got[p]["device"] == "cuda", got[p]
        assert got[p]["decoded_frames"] == want["decoded_frames"], p
        assert got[p]["header_frames"] == want["header_frames"], p
    assert got[str(real_dir / ROADTRIP)]["decoded_frames"] == 72


@pytest.mark.slow
def corpus_mismatches(real_dir: str) -> dict:
    """The stand-in check of every real clip against ffmpeg's verdict (its recorded run,
    FFMPEG_VERDICTS.csv): how many files went to NVDEC and the verdicts that differ."""
    import csv

    real = Path(real_dir)
    with open(real / "FFMPEG_VERDICTS.csv") as f:
        want = {str(real / r["file"]): r["ffmpeg_ok"] == "1" for r in csv.DictReader(f)}
    # The recording's ffmpeg decodes VVC; this FFmpeg (PyAV's) has no VVC decoder, and the CPU
    # check fails the file as ffmpeg 5.1 does.
    vvc = str(real / "androidx_media/mp4__sample_vvc.mp4")
    want[vvc] = integrity.check_file(vvc)["ok"]
    got, stats = _run(list(want), standin_pool(), timeout=120)
    wrong = {p: got[p] for p in sorted(want) if got[p]["ok"] != want[p]}
    return {"gpu_files": stats["gpu_files"], "wrong": wrong}


def test_the_real_corpus_gets_ffmpegs_verdicts_with_the_stand_in(real_dir: Path):
    """Every real clip, NVDEC-routed ones through the stand-in: ffmpeg's verdict on every file.
    Run in a fresh interpreter, as ``pyvidfast check`` runs: the checker processes fork from
    their parent, and this long-lived test process carries earlier tests' threads."""
    import json

    here = str(Path(__file__).resolve().parent)
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import test_gpu_check as t; "
        f"print(json.dumps(t.corpus_mismatches({str(real_dir)!r}), default=str))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["gpu_files"] >= 50
    assert result["wrong"] == {}


def test_container_and_audio_errors_come_from_the_one_demux(real_dir: Path):
    files = {
        "libwebm/invalid_fixed_lacing_bad_lace_size.mkv": "[matroska,webm @ 0x0] Error parsing",
        "decord/corrupted.mp4": "[h264 @ 0x0] Invalid NAL unit size (-1 > 551).",
        # a zero NAL size: NVDEC (and the stand-in) decode every frame, FFmpeg refuses the packet
        "androidx_media/mp4__sample_with_invalid_nalu.mp4": "[h264 @ 0x0] Error splitting the",
    }
    got, _ = _run([str(real_dir / f) for f in files], standin_pool())
    for f, line in files.items():
        want = integrity.check_file(str(real_dir / f))
        r = got[str(real_dir / f)]
        assert r["ok"] == want["ok"] is False and r["error_kind"] == want["error_kind"], r
        assert r["error_lines"][0].startswith(line), r


def test_nal_framing_as_ffmpeg_splits_it():
    from pyvidfast.curation.gpu.nal import split_errors
    from pyvidfast.io.bitstream.nal import length_size

    nal = b"\x65" + bytes(9)
    assert split_errors(len(nal).to_bytes(4, "big") + nal, 4) == []
    assert split_errors(bytes(4) + nal, 4) == ["Error splitting the input into NAL units."]
    assert split_errors(b"\xff\xff\xff\xff" + nal, 4)[0] == "Invalid NAL unit size (-1 > 10)."
    assert split_errors(len(nal).to_bytes(4, "big") + nal + b"\x00\x00", 4) == []  # < 4 left
    assert length_size("h264", b"\x01\x64\x00\x1f\xff") == 4
    assert length_size("h264", b"\x00\x00\x00\x01\x67") is None  # Annex B extradata


def test_decoders_are_kept_across_files(clips):
    from pyvidfast.curation.gpu.demux import open_video
    from pyvidfast.curation.gpu.session import decode_file
    from pyvidfast.curation.integrity import ErrorLog

    pool = standin_pool()()
    for name in ["a", "c", "a", "b", "c", "hevc"]:
        demux, _ = open_video(clips[name], ErrorLog([]), lambda f: (True, ""))
        decoded = decode_file(pool, demux.fmt, demux.packets())
        demux.close()
        want = integrity.check_file(clips[name])["decoded_frames"]
        assert decoded.lines == [] and decoded.frames == want, name
    # one decoder per (codec, depth, size): 64x48 H.264 (a, c) made once and reused three
    # times, 96x64 H.264 and 160x160 HEVC made once each
    assert (pool.created, pool.reused) == (3, 3)


def test_a_decoder_that_raises_fails_the_file_and_is_replaced(clips):
    from pyvidfast.curation.gpu.demux import open_video
    from pyvidfast.curation.gpu.session import decode_file
    from pyvidfast.curation.integrity import ErrorLog

    class Breaks(StandinDecoder):
        def decode(self, packet):
            if len(self.fed) == 4:
                raise RuntimeError("HW decode failed")
            return super().decode(packet)

    pool = nvdec.DecoderPool(Breaks, 2, capability=(9, 0))
    for expected_created in (1, 2):
        demux, _ = open_video(clips["a"], ErrorLog([]), lambda f: (True, ""))
        decoded = decode_file(pool, demux.fmt, demux.packets())
        demux.close()
        assert decoded.lines[0][0] == "decode" and "HW decode failed" in decoded.lines[0][1]
        assert pool.created == expected_created and pool.dropped == expected_created


def test_verdict_rules(clips):
    from pyvidfast.curation.gpu.demux import open_video
    from pyvidfast.curation.gpu.session import Decoded
    from pyvidfast.curation.gpu.worker import verdict
    from pyvidfast.curation.integrity import ErrorLog

    demux, _ = open_video(clips["a"], ErrorLog([]), lambda f: (True, ""))
    for _ in demux.packets():
        pass
    demux.close()
    assert verdict("p", demux, Decoded(30, [], False), 0).ok
    short = verdict("p", demux, Decoded(27, [], False), 0)
    assert short.error_kind == "decode" and "27 frames, the packets show 30" in short.error_lines[0]
    assert verdict("p", demux, Decoded(0, [], False), 0).error_kind == "no_frames"
    failed = verdict("p", demux, Decoded(3, [("decode", "Error while x")], False), 0)
    assert failed.error_lines == ["Error while x"]
    status = verdict("p", demux, Decoded(30, [], False), 2)
    assert not status.ok and "2 picture(s)" in status.error_lines[0]


def test_the_command_writes_the_cpu_checks_output(
    tmp_path: Path, real_dir: Path, clips, monkeypatch
):
    """``check --device cuda``: the CPU check's columns and rows (a failed file's log lines are
    NVDEC's, its verdict and kind the CPU's), .err files, and a journal that resumes."""
    import pandas as pd

    monkeypatch.setattr(nvdec, "require_nvdec", lambda: None)  # check.run's device check
    monkeypatch.setattr(nvdec, "decoder_pool", lambda device, size: standin_pool()())
    files = [clips["a"], clips["hevc"], str(real_dir / ROADTRIP), str(real_dir / VP9_ODD)]
    files.append(str(real_dir / "decord/corrupted.mp4"))
    copies = []
    for f in files:  # .err files are written beside the videos
        copy = tmp_path / Path(f).name
        copy.write_bytes(Path(f).read_bytes())
        copies.append(str(copy))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(copies) + "\n")
    tables, errs = {}, {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.csv"
        args = [str(listing), "-o", str(out), "--device", device, "--no-progress", "--write-err"]
        assert check.main(args) == 0
        tables[device] = pd.read_csv(out, keep_default_na=False)
        errs[device] = [Path(c + ".err").read_text() for c in copies]
    cpu, gpu = tables["cpu"], tables["cuda"]
    assert list(gpu.columns) == list(cpu.columns) == ["path", *check.CHECK_COLUMNS]
    assert gpu[["path", "ok", "error_kind"]].equals(cpu[["path", "ok", "error_kind"]])
    ok = cpu["ok"].astype(bool)
    assert ok.sum() == 4 and gpu[ok].equals(cpu[ok])
    assert [e == "" for e in errs["cuda"]] == [e == "" for e in errs["cpu"]] == list(ok)
    journal = tmp_path / "cuda.csv.journal.jsonl"
    assert journal.read_text().count("\n") == len(copies)
    monkeypatch.setattr(nvdec, "nvdec_module", lambda: pytest.fail("a journaled file was redone"))
    again = check.run_files(copies, journal=str(journal), progress=False, device="cuda")
    assert journal.read_text().count("\n") == len(copies) and set(again) == set(copies)


def test_run_cuda_hands_info_tasks_to_the_cpu_engine(clips):
    seen = []
    tasks = [Task(clips["a"], with_info=True), Task(clips["b"], with_check=False)]
    run_cuda(tasks, lambda p, r: None, seen.extend)
    assert seen == tasks
    with pytest.raises(ValueError, match="device must be one of"):
        engines.run([Task("x")], lambda p, r: None, device="tpu")


def test_ray_runs_one_chunk_per_gpu_task(clips, monkeypatch):
    """``--engine ray --device cuda``: chunks of files, each a Ray task that takes one GPU;
    a chunk whose task dies gives crash rows for its files, never missing ones."""
    from pyvidfast.curation.gpu import run as gpu_run

    calls = []

    def map_on_ray(func, items, on_result, num_workers, timeout, *, on_crash, **resources):
        calls.append(resources)
        for i, item in enumerate(items):
            if clips["c"] in [t.path for t in item[0]]:
                on_result(i, on_crash(item, RuntimeError("worker died")))
            else:
                on_result(i, func(item))

    monkeypatch.setattr(gpu_run, "map_on_ray", map_on_ray)
    got = {}
    names = ["a", "b", "c", "hevc"]
    tasks = [Task(clips[n]) for n in names]
    run_cuda(tasks, got.__setitem__, None, "ray", 2, 60, chunk=2, pool_factory=standin_pool())
    assert calls == [{"address": None, "num_cpus": 1, "num_gpus": 1}]
    assert set(got) == {clips[n] for n in names}
    assert got[clips["a"]]["ok"] and got[clips["b"]]["ok"]  # the first chunk
    assert [got[clips[n]]["error_kind"] for n in ("c", "hevc")] == ["crash", "crash"]


def test_device_option_without_nvdec(tmp_path: Path, capsys, clips, monkeypatch):
    if not nvdec.missing_driver_libraries():
        pytest.skip("this machine has the NVDEC driver libraries")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU, but no libnvcuvid
    listing = tmp_path / "list.txt"
    listing.write_text(clips["a"] + "\n")
    assert check.main([str(listing), "--device", "cuda", "--no-progress"]) == 2
    assert "libnvcuvid.so.1" in capsys.readouterr().err


def test_no_gpu_is_one_plain_line_from_the_cli_and_from_python(
    tmp_path: Path, capsys, clips, monkeypatch
):
    """Issue 26: the cause nearest the user (a CPU build of torch), not the driver libraries,
    in the same words from `check --device cuda` and from open_video(device="cuda")."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    want = f"no CUDA device: torch {torch.__version__} is a CPU build"
    listing = tmp_path / "list.txt"
    listing.write_text(clips["a"] + "\n")
    assert check.main([str(listing), "--device", "cuda", "--no-progress"]) == 2
    assert capsys.readouterr().err == f"check: --device cuda: {want}\n"
    with pytest.raises(nvdec.NvdecUnavailableError) as info:
        open_video(clips["a"], device="cuda")
    assert str(info.value) == want
    monkeypatch.setattr(torch.version, "cuda", "12.8")  # a CUDA build that sees no GPU
    with pytest.raises(nvdec.NvdecUnavailableError, match="built for CUDA 12.8 but sees no GPU"):
        nvdec.require_nvdec()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine without a GPU")
def test_no_gpu_line_from_the_pyvidfast_command(tmp_path: Path, clips):
    listing = tmp_path / "list.txt"
    listing.write_text(clips["a"] + "\n")
    argv = [sys.executable, "-m", "pyvidfast", "check", str(listing), "--device", "cuda"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"check: --device cuda: {nvdec.no_cuda_device()}\n"
    assert "CPU build" in proc.stderr or "sees no GPU" in proc.stderr


def test_the_gpu_checker_never_imports_the_engines():
    """engines.run -> gpu.run_cuda is the only direction (issue 17: no import circle)."""
    import ast

    import pyvidfast.curation.gpu as gpu

    for module in Path(gpu.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                assert "pyvidfast.curation.engines" not in names, module.name
                assert "pyvidfast.curation.check" not in names, module.name

"""pyvidfast.curation.gpu (``check --device cuda``): on the CPU with a stand-in decoder that
behaves as NVDEC was measured (tests/nvdec_standin.py); on NVDEC against the CPU check under
``needs_cuda``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import pytest
from media import make_clip
from nvdec_standin import StandinNvc, packet_sha1

from pyvidfast.curation import check, engines, integrity
from pyvidfast.curation.gpu import check_paths_cuda, run_cuda
from pyvidfast.curation.gpu.errwatch import DecodeErrorWatch
from pyvidfast.curation.gpu.routing import CapsTable
from pyvidfast.curation.gpu.shown import ShownCounter
from pyvidfast.curation.tasks import Task
from pyvidfast.io import nvdec

ROADTRIP = "androidx_media/vp9__roadtrip-vp92-10bit.webm"
VP9_ODD = "androidx_media/vp9__bear-vp9-odd-dimensions.webm"  # 161x121: below VP9's 128x128
HEVC_SMALL = "torchcodec/h265_video.mp4"  # 128x128: below HEVC's 144x144
AV1 = "torchcodec/av1_video.mkv"


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
    caps = CapsTable(StandinNvc())

    def route(path) -> tuple[bool, str]:
        with av.open(str(path)) as c:
            return caps.decide(nvdec.stream_format_of(c.streams.video[0]))

    assert route(clips["a"]) == (True, "")  # 64x48 H.264: above 48x16
    assert route(clips["hevc"]) == (True, "")  # 160x160 HEVC: above 144x144
    assert route(real_dir / ROADTRIP) == (True, "")  # VP9 profile 2
    assert "below NVDEC's minimum 128x128" in route(real_dir / VP9_ODD)[1]
    assert "below NVDEC's minimum" in route(real_dir / HEVC_SMALL)[1]
    assert "no NVDEC support" in route(real_dir / AV1)[1]
    h263 = "androidx_media/3gp__bbb_176x144_128kbps_15fps_h263.3gp"
    assert "not decoded on NVDEC" in route(real_dir / h263)[1]


def _run(paths, nvc, workers=2, timeout=60) -> tuple[dict[str, dict], dict]:
    got: dict[str, dict] = {}

    def on_result(path, result):
        assert path not in got
        got[path] = result

    stats = check_paths_cuda(
        [Task(p) for p in paths],
        on_result,
        workers=workers,
        timeout=timeout,
        nvc_factory=lambda: nvc,
    )
    assert set(got) == set(paths)
    return got, stats


def test_one_batch_routes_and_attributes_errors_per_file(real_dir: Path, clips):
    """A broken file among good ones: only it fails; files NVDEC cannot take are in the same
    output with the CPU checker's verdict."""
    nvc = StandinNvc(bad_packets=frozenset({packet_sha1(clips["b"], 5)}))
    gpu_files = [clips["a"], clips["b"], clips["c"], clips["hevc"], str(real_dir / ROADTRIP)]
    cpu_files = [
        str(real_dir / VP9_ODD),
        str(real_dir / HEVC_SMALL),
        str(real_dir / AV1),
        str(real_dir / "androidx_media/mp4__sample_malformed_free_box.mp4"),
        str(real_dir / "missing.mp4"),
    ]
    got, stats = _run(gpu_files + cpu_files, nvc)
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


def test_container_and_audio_errors_come_from_the_one_demux(real_dir: Path):
    files = {
        "libwebm/invalid_fixed_lacing_bad_lace_size.mkv": "[matroska,webm @ 0x0] Error parsing",
        "decord/corrupted.mp4": "[h264 @ 0x0] Invalid NAL unit size (-1 > 551).",
    }
    got, _ = _run([str(real_dir / f) for f in files], StandinNvc())
    for f, line in files.items():
        want = integrity.check_file(str(real_dir / f))
        r = got[str(real_dir / f)]
        assert r["ok"] == want["ok"] is False and r["error_kind"] == want["error_kind"], r
        assert r["error_lines"][0].startswith(line), r


def test_decoders_are_created_once_and_reconfigured(clips):
    from pyvidfast.curation.gpu.session import NvdecSession

    nvc = StandinNvc()
    session = NvdecSession(nvc, min_size=(64, 48))
    order = ["a", "c", "a", "b", "c", "hevc"]
    for name in order:
        with av.open(clips[name]) as c:
            fmt = nvdec.stream_format_of(c.streams.video[0])
        from pyvidfast.curation.gpu.demux import open_video
        from pyvidfast.curation.integrity import ErrorLog

        demux, _ = open_video(clips[name], ErrorLog([]), lambda f: (True, ""))
        decoded = session.decode(fmt, demux.packets())
        demux.close()
        assert (
            decoded.lines == []
            and decoded.frames == integrity.check_file(clips[name])["decoded_frames"]
        )
    # 64x48 H.264 three times on one decoder, 96x64 needs a larger one that then takes 64x48
    # too, HEVC its own.
    assert (session.created, session.reused) == (3, 3)
    assert [len(d.reconfigs) for d in nvc.decoders] == [2, 1, 0]


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

    monkeypatch.setattr(nvdec, "nvdec_module", lambda: StandinNvc())
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


def test_device_option_without_nvdec(tmp_path: Path, capsys, clips):
    if not nvdec.missing_driver_libraries():
        pytest.skip("this machine has the NVDEC driver libraries")
    listing = tmp_path / "list.txt"
    listing.write_text(clips["a"] + "\n")
    assert check.main([str(listing), "--device", "cuda", "--no-progress"]) == 2
    assert "libnvcuvid.so.1" in capsys.readouterr().err


# ------------------------------------------------------------------------- the error watch


def _c_printf(text: bytes) -> None:
    """Print through C stdio, as NvDecoder does (buffered until fflush when not a terminal)."""
    import ctypes

    ctypes.CDLL(None).printf(b"%s", text)


def test_error_watch_counts_status_lines_and_passes_the_rest(capfd):
    import threading

    with DecodeErrorWatch() as watch:
        assert watch.sync() == 0
        t = threading.Thread(target=_c_printf, args=(b"Decode Error occurred for picture 7\n",))
        t.start()
        t.join()
        print("hello from python")
        _c_printf(b"Decode Error occurred for picture 8\nunrelated line\n")
        assert watch.sync() == 2
    out = capfd.readouterr().out
    assert "hello from python" in out and "unrelated line" in out
    assert "Decode Error occurred for picture 7" in out  # passed through, not swallowed
    assert "pyvidfast-sync" not in out


def test_error_watch_forwards_partial_lines_at_once(capfd):
    import os

    with DecodeErrorWatch() as watch:
        os.write(2, b"\rprogress 10%")
        watch.sync()
        os.write(2, b"\rprogress 20%")
        _c_printf(b"Decode Error occurred")
        watch.sync()
        _c_printf(b" for picture 1\n")
        assert watch.sync() == 1  # a line split across writes still counts once
    captured = capfd.readouterr()
    assert captured.err == "\rprogress 10%\rprogress 20%"
    assert captured.out == "Decode Error occurred for picture 1\n"


# ------------------------------------------------------------------------- on NVDEC


@pytest.mark.needs_cuda
def test_gpu_check_equals_the_cpu_check_on_the_real_corpus(real_dir: Path):
    import csv

    with open(real_dir / "FFMPEG_VERDICTS.csv") as f:
        files = sorted(r["file"] for r in csv.DictReader(f) if (real_dir / r["file"]).exists())
    assert len(files) >= 40
    paths = [str(real_dir / f) for f in files]
    gpu = check.check_files(paths, device="cuda", timeout=120)
    cpu = check.check_files(paths, timeout=120)
    differ = [f for f, g, c in zip(files, gpu["ok"], cpu["ok"]) if g != c]
    assert differ == []
    for f, ok, kind in zip(files, gpu["ok"], gpu["error_kind"]):
        assert ok == (kind == ""), f


@pytest.mark.needs_cuda
def test_gpu_check_decodes_every_frame(real_dir: Path):
    for name in (
        "torchcodec/nasa_13013.mp4",
        "vpf/test.mp4",
        "androidx_media/mp4__h265_bframes.mp4",
        ROADTRIP,
    ):
        want = integrity.check_file(str(real_dir / name))
        got = check.check_files([str(real_dir / name)], device="cuda").iloc[0]
        assert got["ok"] and got["decoded_frames"] == want["decoded_frames"] > 0, name

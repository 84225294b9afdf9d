"""pyvidfast.curation.gpu_check: the CPU pass, routing, verdicts and decoder reuse on the CPU (with
a stand-in for PyNvVideoCodec that follows its documented decode contract); verdicts on NVDEC
against ffmpeg's under ``needs_cuda``."""

from __future__ import annotations

import csv
from pathlib import Path

import av
import pytest
from media import make_clip

from pyvidfast.curation import check, engines, gpu_check, integrity
from pyvidfast.curation.gpu_check import CpuPass, NvdecChecker, cpu_pass, verdict

H100 = (9, 0)


class FakePacket:
    def __init__(self, size: int):
        self.bsl = size


class FakeDemuxer:
    """``CreateDemuxer(filename=...)``: stream facts, and packets from the real file (PyAV);
    ``tail_flush`` adds the empty end-of-stream packet the SDK's demuxer yields last."""

    def __init__(self, filename: str, tail_flush: bool = True):
        with av.open(filename) as c:
            st = c.streams.video[0]
            cc = st.codec_context
            self.codec, self.w, self.h = cc.name, cc.width, cc.height
            self.sizes = [p.size for p in c.demux(st) if p.size > 0]
        self.tail_flush = tail_flush

    def GetNvCodecId(self):  # noqa: N802 (PyNvVideoCodec's names)
        return f"cudaVideoCodec.{self.codec.upper()}"

    def ChromaFormat(self):  # noqa: N802
        return "cudaVideoChromaFormat.420"

    def BitDepth(self):  # noqa: N802
        return 8

    def Width(self):  # noqa: N802
        return self.w

    def Height(self):  # noqa: N802
        return self.h

    def __iter__(self):
        yield from (FakePacket(s) for s in self.sizes)
        if self.tail_flush:
            yield FakePacket(0)


class FakeDecoder:
    """``Decode(packet)`` -> frames with NVDEC's default 4-frame display latency; an empty
    packet flushes. ``fail_at`` raises on that packet (a decoder error)."""

    def __init__(self, maxwidth: int, maxheight: int, fail_at: int | None = None):
        self.maxwidth, self.maxheight = maxwidth, maxheight
        self.pending = 0
        self.fed = 0
        self.fail_at = fail_at
        self.reconfigs: list[tuple[int, int]] = []

    def setReconfigParams(self, w, h):  # noqa: N802
        assert w <= self.maxwidth and h <= self.maxheight
        self.reconfigs.append((w, h))

    def Decode(self, packet):  # noqa: N802
        if packet.bsl == 0:
            out, self.pending = self.pending, 0
            return [object()] * out
        self.fed += 1
        if self.fail_at is not None and self.fed == self.fail_at:
            raise RuntimeError("HW decode failed")
        self.pending += 1
        if self.pending > 4:
            self.pending -= 1
            return [object()]
        return []


class FakeNvc:
    def __init__(self, tail_flush: bool = True, fail_at: int | None = None):
        self.tail_flush = tail_flush
        self.fail_at = fail_at
        self.decoders: list[FakeDecoder] = []

    def CreateDemuxer(self, filename):  # noqa: N802
        return FakeDemuxer(filename, self.tail_flush)

    def CreateDecoder(self, gpuid, codec, usedevicememory, maxwidth, maxheight):  # noqa: N802
        d = FakeDecoder(maxwidth, maxheight, self.fail_at)
        self.decoders.append(d)
        return d

    def PacketData(self):  # noqa: N802
        return FakePacket(0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("gpucheck")
    return {
        "a": str(make_clip(d / "a.mp4", 30, size=(64, 48), options={"bf": "2"})),
        "b": str(make_clip(d / "b.mp4", 17, size=(64, 48))),
        "big": str(make_clip(d / "big.mp4", 9, size=(2560, 1440))),
        # NVDEC decodes HEVC from 144x144 (Note [measured caps] in pyvidfast/io/nvdec/caps.py)
        "hevc": str(make_clip(d / "h.mp4", 12, codec="libx265", size=(160, 144))),
    }


def test_cpu_pass_routes_and_counts(real_dir: Path, clips):
    p = cpu_pass(clips["a"], H100)
    assert p.route == "gpu" and p.video_packets == 30 and p.header_frames == 30 and p.lines == []
    assert cpu_pass(str(real_dir / "torchcodec/av1_video.mkv"), H100).route == "cpu"
    assert cpu_pass(str(real_dir / "torchcodec/av1_video.mkv"), (8, 9)).route == "gpu"
    h263 = "androidx_media/3gp__bbb_176x144_128kbps_15fps_h263.3gp"
    assert cpu_pass(str(real_dir / h263), H100).route == "cpu"
    assert cpu_pass(str(real_dir / "no/such.mp4"), H100).route == "cpu"
    bad = cpu_pass(str(real_dir / "androidx_media/mp4__sample_malformed_free_box.mp4"), H100)
    assert bad.route == "cpu"  # cannot open: the CPU checker says how, as ffmpeg


def test_cpu_pass_keeps_the_lines_ffmpeg_prints(real_dir: Path):
    lacing = cpu_pass(str(real_dir / "libwebm/invalid_fixed_lacing_bad_lace_size.mkv"), H100)
    assert lacing.route == "gpu"
    assert lacing.lines[0] == ("demux", "[matroska,webm @ 0x0] Error parsing frame sizes.")
    corrupted = cpu_pass(str(real_dir / "decord/corrupted.mp4"), H100)
    assert corrupted.lines[0] == ("decode", "[h264 @ 0x0] Invalid NAL unit size (-1 > 551).")
    r = verdict("decord/corrupted.mp4", corrupted, corrupted.video_packets, [])
    assert not r["ok"] and r["error_kind"] == "decode"


def test_verdict_rules():
    clean = CpuPass("gpu", video_packets=10, header_frames=10)
    assert verdict("p", clean, 10, [])["ok"] is True
    short = verdict("p", clean, 7, [])
    assert short["error_kind"] == "decode" and "7 frames" in short["error_lines"][0]
    none = verdict("p", CpuPass("gpu", video_packets=0), 0, [])
    assert none["error_kind"] == "no_frames"
    err = verdict("p", clean, 10, [("decode", "Error while decoding stream (NVDEC): x")])
    assert not err["ok"] and err["error_kind"] == "decode"
    audio = CpuPass("gpu", lines=[("decode", "[aac @ 0x0] bad")], video_packets=3)
    assert verdict("p", audio, 3, [])["error_lines"] == ["[aac @ 0x0] bad"]
    assert set(integrity.check_file(str(Path("/nonexistent.mp4")))) <= set(short)


def test_decoders_are_reused_and_resized(clips):
    nvc = FakeNvc()
    c = NvdecChecker(nvc, min_size=(64, 48))
    for name in ("a", "b", "a"):
        r = c.check(clips[name], cpu_pass(clips[name], H100))
        assert r["ok"] and r["decoded_frames"] == r["header_frames"], r
    assert c.created == 1 and c.reused == 2
    assert c.check(clips["big"], cpu_pass(clips["big"], H100))["ok"]
    assert c.created == 2  # too large for the first: a bigger one replaces it
    assert c.check(clips["b"], cpu_pass(clips["b"], H100))["ok"]
    assert c.created == 2 and c.reused == 3  # the big one takes small files too
    assert c.check(clips["hevc"], cpu_pass(clips["hevc"], H100))["ok"]
    assert c.created == 3  # another codec, another decoder


def test_flush_without_the_demuxers_empty_packet(clips):
    c = NvdecChecker(FakeNvc(tail_flush=False))
    r = c.check(clips["a"], cpu_pass(clips["a"], H100))
    assert r["ok"] and r["decoded_frames"] == 30


def test_decoder_error_fails_and_drops_the_decoder(clips):
    nvc = FakeNvc(fail_at=5)
    c = NvdecChecker(nvc)
    r = c.check(clips["a"], cpu_pass(clips["a"], H100))
    assert not r["ok"] and r["error_kind"] == "decode"
    assert "HW decode failed" in r["error_lines"][0]
    c.check(clips["b"], cpu_pass(clips["b"], H100))
    assert c.created == 2  # the failed decoder was never reused


def test_a_reused_decoder_that_fails_gets_a_fresh_retry(clips):
    class RefusesSecondStream(FakeNvc):
        def CreateDecoder(self, **kw):  # noqa: N802
            d = super().CreateDecoder(**kw)
            d.fail_at = 31  # past the first file's 30 packets: the next file fails on it
            return d

    c = NvdecChecker(RefusesSecondStream(), min_size=(64, 48))
    assert c.check(clips["a"], cpu_pass(clips["a"], H100))["ok"]
    r = c.check(clips["b"], cpu_pass(clips["b"], H100))
    assert r["ok"] and r["decoded_frames"] == 17 and c.retried == 1 and c.created == 2
    bad = NvdecChecker(FakeNvc(fail_at=3))
    assert not bad.check(clips["a"], cpu_pass(clips["a"], H100))["ok"]
    assert bad.retried == 0  # a fresh decoder that fails: the file is bad


def test_timeout_stops_the_file(clips):
    r = NvdecChecker(FakeNvc()).check(clips["a"], cpu_pass(clips["a"], H100), timeout=1e-9)
    assert r["error_kind"] == "timeout" and not r["ok"]


def test_every_path_gets_one_result(real_dir: Path, clips):
    paths = [
        clips["a"],
        clips["hevc"],
        str(real_dir / "torchcodec/av1_video.mkv"),
        str(real_dir / "androidx_media/mp4__sample_malformed_free_box.mp4"),
        str(real_dir / "missing.mp4"),
    ]
    got: dict[str, dict] = {}

    def on_result(path, result):
        assert path not in got
        got[path] = result

    stats = gpu_check.check_paths_cuda(paths, on_result, workers=2, nvc=FakeNvc(), capability=H100)
    assert set(got) == set(paths)
    assert stats["gpu_files"] == 2 and stats["cpu_files"] == 3
    for p in paths[2:]:  # the CPU checker's verdict, unchanged
        want = integrity.check_file(p)
        assert {k: got[p][k] for k in want} == want
    assert got[clips["a"]]["ok"] and got[clips["hevc"]]["ok"]


def test_device_option_is_wired(tmp_path: Path, capsys, clips):
    import argparse

    parser = argparse.ArgumentParser()
    check.register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["check", "x.txt"]).device == "cpu"
    assert parser.parse_args(["check", "x.txt", "--device", "cuda"]).device == "cuda"
    with pytest.raises(ValueError, match="device must be one of"):
        engines.run([("x", False, 1, True)], lambda p, r: None, device="tpu")
    from pyvidfast.io import nvdec

    if not nvdec.missing_driver_libraries():
        pytest.skip("this machine has the NVDEC driver libraries")
    listing = tmp_path / "list.txt"
    listing.write_text(clips["a"] + "\n")
    assert check.main([str(listing), "--device", "cuda", "--no-progress"]) == 2
    assert "libnvcuvid.so.1" in capsys.readouterr().err


# ------------------------------------------------------------------------- on NVDEC


def _reference(real_dir: Path) -> dict[str, bool]:
    with open(real_dir / "FFMPEG_VERDICTS.csv") as f:
        return {r["file"]: r["ffmpeg_ok"] == "1" for r in csv.DictReader(f)}


@pytest.mark.needs_cuda
def test_gpu_check_agrees_with_ffmpeg_on_the_real_corpus(real_dir: Path):
    reference = _reference(real_dir)
    # The device machine carries a subset of the corpus (gpu_nvdec_steps.sh prepare): all of it
    # that is there, never a handful.
    files = sorted(f for f in reference if (real_dir / f).exists())
    assert len(files) >= 40 and sum(not reference[f] for f in files) >= 10
    table = check.check_files([str(real_dir / f) for f in files], device="cuda", timeout=120)
    cpu = check.check_files([str(real_dir / f) for f in files], workers=2, timeout=120)
    got = dict(zip(files, table["ok"]))
    disagree = sorted(f for f in files if got[f] != reference[f])
    cpu_disagree = sorted(f for f, ok in zip(files, cpu["ok"]) if ok != reference[f])
    assert disagree == cpu_disagree, disagree
    for f, ok, kind in zip(files, table["ok"], table["error_kind"]):
        assert ok == (kind == ""), f


@pytest.mark.needs_cuda
def test_gpu_check_decodes_every_frame(real_dir: Path):
    for name in (
        "torchcodec/nasa_13013.mp4",
        "vpf/test.mp4",
        "androidx_media/mp4__h265_bframes.mp4",
    ):
        want = integrity.check_file(str(real_dir / name))
        got = check.check_files([str(real_dir / name)], device="cuda").iloc[0]
        assert got["ok"] and got["decoded_frames"] >= want["decoded_frames"] > 0, name


def test_run_cuda_splits_tasks(monkeypatch, clips):
    """Tasks that also want Open-Sora's info row stay on the CPU engine; integrity-only tasks go
    to the NVDEC checker, with the CPU-routed ones handed back to the CPU engine's pool."""
    seen = {}

    def fake_check_paths(paths, on_result, *, workers, timeout, run_cpu):
        seen["gpu"] = list(paths)
        run_cpu(paths[:1])
        for p in paths[1:]:
            on_result(p, {"ok": True, "device": "cuda"})

    monkeypatch.setattr(gpu_check, "check_paths_cuda", fake_check_paths)
    got = {}
    tasks = [
        (clips["a"], True, 1, True),
        (clips["b"], False, 1, True),
        (clips["hevc"], False, 1, True),
    ]
    gpu_check.run_cuda(tasks, lambda p, r: got.__setitem__(p, r), workers=1, timeout=60)
    assert seen["gpu"] == [clips["b"], clips["hevc"]]
    assert "info" in got[clips["a"]]  # the CPU engine's full task
    assert got[clips["b"]] == integrity.check_file(clips["b"])  # routed back to the CPU pool
    assert got[clips["hevc"]]["device"] == "cuda"


def _c_printf(text: bytes) -> None:
    """Print through C stdio, as NvDecoder does (buffered until fflush when not a terminal)."""
    import ctypes

    ctypes.CDLL(None).printf(b"%s", text)


def test_error_watch_counts_status_lines_and_passes_the_rest(capfd):
    import threading

    with gpu_check.DecodeErrorWatch() as watch:
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


def test_status_errors_fail_their_own_file(clips, monkeypatch):
    bad = {clips["b"]}
    nvc = FakeNvc()
    demux = NvdecChecker.decode_all

    def decode_all(self, path, deadline=float("inf"), fresh=False):
        frames, lines = demux(self, path, deadline, fresh)
        if path in bad:
            _c_printf(b"Decode Error occurred for picture 3\n")
        return frames, lines

    monkeypatch.setattr(NvdecChecker, "decode_all", decode_all)
    got = {}
    stats = gpu_check.check_paths_cuda(
        [clips["a"], clips["b"], clips["hevc"]],
        lambda p, r: got.__setitem__(p, r),
        workers=3,
        nvc=nvc,
        capability=H100,
    )
    assert got[clips["a"]]["ok"] and got[clips["hevc"]]["ok"]
    assert not got[clips["b"]]["ok"] and got[clips["b"]]["error_kind"] == "decode"
    assert "cuvidGetDecodeStatus" in got[clips["b"]]["error_lines"][-1]
    assert stats["rechecked_alone"] >= 1


def test_error_watch_forwards_partial_lines_at_once(capfd):
    import os

    with gpu_check.DecodeErrorWatch() as watch:
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

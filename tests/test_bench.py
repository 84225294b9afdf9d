"""`pyvidfast bench`: the sample, the isolated measurements, bench.json, bench.md and plots."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import torch
from media import make_clip

from pyvidfast.bench import loaders, measures
from pyvidfast.bench.isolate import run_isolated
from pyvidfast.bench.output import PLOT_HINT, markdown, write_outputs
from pyvidfast.bench.results import Budget, Measurement
from pyvidfast.bench.runner import SCHEMA, BenchOptions, default_workers, run_bench
from pyvidfast.bench.sources import load_sample
from pyvidfast.bench.verdict import verdict_lines
from pyvidfast.cli import main
from pyvidfast.cogvideox import SFTDataset

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"info", "check", "decode", "sample"}
RESULT_KEYS = {
    "group": str,
    "tool": str,
    "unit": str,
    "workers": int,
    "files": int,
    "items": int,
    "seconds": float,
    "bytes": int,
    "failures": int,
    "cpu_seconds": float,
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two 64x48 clips long enough for a small SFT sample, and one broken file."""
    folder = tmp_path_factory.mktemp("clips")
    make_clip(folder / "a.mp4", 60, fps=24)
    make_clip(folder / "b.mkv", 48, fps=12, codec="libvpx-vp9")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(300))
    return folder


@pytest.fixture(scope="module")
def report(clips) -> dict:
    options = BenchOptions(seconds=20, max_files=None, workers=[0, 1], progress=False)
    return run_bench(str(clips), options)


def test_bench_json_schema(report):
    assert report["schema"] == SCHEMA
    assert report["budget_s"] == 20 and report["elapsed_s"] > 0
    assert report["measure_budget_s"] <= report["budget_s"] - report["startup_s"]
    assert report["source"]["kind"] == "folder"
    assert report["source"]["sampled_files"] == report["source"]["total_files"] == 3
    assert set(report["machine"]) >= {"cpu_model", "cpu_count", "gpu", "versions"}
    assert report["peak_rss_mb"] > 0
    mix = report["mix"]  # what was probed within its share, or why nothing was
    assert "error" in mix or (
        mix["files"] >= 1 and set(mix) == {"codec", "resolution", "container", "files"}
    )
    tools = {(r["tool"], r["workers"]) for r in report["results"]}
    assert ("pyvidfast SFTDataset", 0) in tools and ("pyvidfast SFTDataset", 1) in tools
    assert {r["group"] for r in report["results"]} == GROUPS
    for r in report["results"]:
        if r["skipped"]:
            assert r["rate"] is None and r["skipped"].strip()
            continue
        for key, kind in RESULT_KEYS.items():
            assert isinstance(r[key], kind), (r["tool"], key, r[key])
        assert r["files"] >= 1 and r["seconds"] > 0, r
        assert r["rate"] == pytest.approx(r["items"] / r["seconds"])
        assert r["peak_rss_mb"] > 0
        if r["progress"]:  # empty only when the first file was cut by the time limit
            assert r["progress"][-1][0] <= r["files"]
            assert 1 <= r["same_files"] <= r["files"] and r["same_files_rate"] >= 0
    json.loads(json.dumps(report, default=str))  # what write_outputs writes


def test_measures_count_what_they_did(clips):
    paths = sorted(str(p) for p in clips.iterdir())  # a.mp4, b.mkv, broken.mp4
    budget = Budget(3600)
    header = measures.info(paths, budget, exact=False)
    assert (header.files, header.items, header.failures) == (3, 3, 1)
    assert header.bytes == sum(os.path.getsize(p) for p in paths)
    decode = measures.decode(paths, budget, "pyvidfast VideoReader (CPU)")
    assert (decode.files, decode.items, decode.failures) == (3, 60 + 48, 1)
    if measures.decoder_missing("decord") is None:
        decord = measures.decode(paths, budget, "decord")
        assert (decord.files, decord.items) == (3, 60 + 48)
    mix = measures.stream_mix(paths, budget)
    assert mix["codec"] == {"h264": 1, "vp9": 1, "unknown": 1}
    assert mix["resolution"] == {"64x48": 2, "unknown": 1}


def test_sample_path_counts_clips_after_the_warm_up(clips, tmp_path):
    paths = [str(clips / n) for n in ("a.mp4", "b.mkv", "broken.mp4")]
    folder = str(tmp_path / "sft")
    loaders.link_sft_folder(paths, folder)
    params = loaders.SampleParams(video_size=(32, 48), fps=8, max_num_frames=9)
    # SFTDataset visits the links in os.walk order; with workers the first clip is the untimed
    # warm-up (worker start-up), in the main process every clip counts
    order = [os.path.realpath(p) for p in SFTDataset(folder, **params.kwargs()).video_paths]
    for workers, timed in ((0, order), (1, order[1:])):
        good = sum(not p.endswith("broken.mp4") for p in timed)
        m = loaders.sft_dataloader(folder, Budget(3600), params, workers)
        assert (m.files, m.items, m.failures) == (len(timed), good, len(timed) - good), workers
        assert m.rate == pytest.approx(good / m.seconds)
        assert m.bytes == sum(os.path.getsize(p) for p in timed)
        assert (m.startup_seconds is not None) == (workers > 0)
    if measures.decoder_missing("decord") is None:
        m = loaders.reference(folder, Budget(3600), params)
        assert (m.files, m.items, m.failures) == (3, 2, 1)


def test_measures_stop_at_the_budget(clips):
    paths = [str(clips / "a.mp4")] * 5
    done = measures.info(paths, Budget(0), exact=False)
    assert done.files == 1  # always at least one file, then the spent budget stops it


def test_missing_tools_are_rows_with_a_reason(report):
    missing = {r["tool"]: r["skipped"] for r in report["results"] if r["skipped"]}
    if not torch.cuda.is_available():
        assert "GPU" in missing["pyvidfast NVDEC"] or "installed" in missing["pyvidfast NVDEC"]
        assert "GPU" in missing["pyvidfast GpuBatchLoader"]
    if measures.decoder_missing("torchcodec"):
        assert missing["torchcodec"] == "torchcodec is not installed"


def test_outputs_and_markdown(report, tmp_path):
    paths = write_outputs(report, str(tmp_path))
    text = Path(paths["markdown"]).read_text()
    for r in report["results"]:
        assert r["tool"] in text
    assert json.loads(Path(paths["json"]).read_text())["schema"] == SCHEMA
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert PLOT_HINT in text
        return
    from PIL import Image

    for name in ("bench_throughput.png", "bench_scaling.png"):
        assert f"![{name}]({name})" in text
        with Image.open(paths[name]) as image:
            assert image.width > 200 and image.height > 100


BLOCK_MATPLOTLIB = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("matplotlib blocked by the test")
sys.meta_path.insert(0, Block())
"""


def test_outputs_without_matplotlib(report, tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(report, default=str))
    code = BLOCK_MATPLOTLIB + (
        "import json, sys\n"
        "from pyvidfast.bench.output import write_outputs\n"
        "report = json.load(open(sys.argv[1]))\n"
        "print(json.dumps(write_outputs(report, sys.argv[2])))\n"
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "report.json"), str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    written = json.loads(proc.stdout)
    assert set(written) == {"json", "markdown"}
    assert sorted(os.listdir(out)) == ["bench.json", "bench.md"]
    assert PLOT_HINT in (out / "bench.md").read_text()


def test_skipped_tools_are_a_sentence_not_rows(report):
    text = markdown(report, [])
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    not_measured = [line for line in text.splitlines() if line.startswith("- Not measured: ")]
    skipped = [r for r in report["results"] if r["skipped"]]
    assert len(rows) == 1 + sum(not r["skipped"] for r in report["results"])  # header + ran
    assert len(not_measured) == (1 if skipped else 0)
    for r in skipped:
        assert f"({r['skipped']})" in not_measured[0]
        assert r["skipped"] not in "".join(rows)


def _row(group, tool, rate, files, workers=1, unit="files/s", skipped=None):
    return {
        "group": group,
        "tool": tool,
        "unit": unit,
        "workers": workers,
        "files": files,
        "rate": None if skipped else rate,
        "same_files": None if skipped else files,
        "same_files_rate": None if skipped else rate,
        "skipped": skipped,
        "note": "",
    }


def test_verdict_names_the_fastest_option_per_task_and_by_how_much():
    many = verdict_lines(
        {
            "results": [
                _row("decode", "decord", 300.0, 40, unit="frames/s"),
                _row("decode", "pyvidfast VideoReader (CPU)", 600.0, 40, unit="frames/s"),
                _row("decode", "torchcodec", None, 0, skipped="torchcodec is not installed"),
                _row("sample", "pyvidfast SFTDataset", 2.0, 30, 0, "clips/s"),
                _row("sample", "pyvidfast SFTDataset", 5.0, 30, 2, "clips/s"),
                _row("sample", "reference (decord + torch)", 4.8, 30, 0, "clips/s"),
                _row("check", "pyvidfast check", 10.0, 12, 2),
            ],
            "log": "out/bench.log",
            "log_lines": 7,
        }
    )
    assert many == [
        "CogVideoX training clips: pyvidfast SFTDataset with 2 DataLoader workers is the fastest "
        "here, 1.04x reference (decord + torch) (5 vs 4.8 clips/s, over the same 30 files); that "
        "is too close to call: rerun, or on a quieter machine.",
        "Decoding: pyvidfast VideoReader (CPU) is the fastest here, 2.00x decord (600 vs 300 "
        "frames/s, over the same 40 files).",
        "Integrity check: only pyvidfast check was measured (10 files/s over 12 files), so there "
        "is nothing to compare it with.",
        "Not measured: torchcodec (torchcodec is not installed).",
        "What the measured tools printed themselves (FFmpeg's and decord's messages among them): "
        "7 lines in out/bench.log.",
    ]
    few = verdict_lines({"results": [_row("check", "a", 4.0, 3), _row("check", "b", 1.0, 9)]})
    assert few[0].startswith("Integrity check: a is the fastest here, 4.00x b (4 vs 1 files/s, ")
    assert few[1] == (
        "Too few files to mean anything (under 10): Integrity check (3 files); measure more "
        "files (a larger sample or --seconds) before choosing."
    )
    assert len(few) == 2


def _noisy_stream_mix(paths, budget):
    """What FFmpeg or decord does in a measuring process: write to file descriptor 2 itself."""
    os.write(2, b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5565] moov atom not found\n")
    return REAL_STREAM_MIX(paths, budget)


REAL_STREAM_MIX = measures.stream_mix


def test_cli_ends_with_the_verdict_and_keeps_tool_messages_in_a_log(
    clips, tmp_path, capfd, monkeypatch
):
    monkeypatch.setattr(measures, "stream_mix", _noisy_stream_mix)  # forked children inherit it
    out = tmp_path / "out"
    argv = ["bench", str(clips), "-o", str(out), "--seconds", "12", "--workers", "0"]
    assert main([*argv, "--no-progress"]) == 0
    terminal = capfd.readouterr()
    assert "moov atom" not in terminal.out + terminal.err
    log = out / "bench.log"
    assert "moov atom not found" in log.read_text()
    assert f"wrote log: {log}" in terminal.out
    lines = terminal.out.rstrip("\n").splitlines()
    verdict = lines[lines.index("## Verdict") + 2 :]
    report = json.loads((out / "bench.json").read_text())
    assert verdict == [f"- {line}" for line in verdict_lines(report)]
    assert verdict[-1].endswith(f"lines in {log}.") and report["log"] == str(log)
    measured = any(r["rate"] for r in report["results"])  # 3 files: too few, if any ran
    assert any(line.startswith("- Too few files to mean anything") for line in verdict) == measured


def test_sources(clips, tmp_path):
    sample = load_sample(str(clips), 2, 0, str(tmp_path))
    assert sample.kind == "folder" and sample.total == 3 and len(sample.paths) == 2
    assert load_sample(str(clips), 2, 0, str(tmp_path)).paths == sample.paths  # fixed seed

    table = tmp_path / "t.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "text"])
        writer.writerows([[clips / "a.mp4", "x"], [tmp_path / "gone.mp4", "y"]])
    sample = load_sample(str(table), None, 0, str(tmp_path))
    assert (sample.kind, sample.total, sample.missing) == ("table", 2, 1)
    assert sample.paths == [str(clips / "a.mp4")]

    shard = tmp_path / "shards" / "000000.tar"
    shard.parent.mkdir()
    with tarfile.open(shard, "w") as tar:
        tar.add(clips / "a.mp4", arcname="k1.mp4")
        tar.add(table, arcname="k1.txt")
    work = tmp_path / "work"
    work.mkdir()
    sample = load_sample(str(shard.parent), None, 0, str(work))
    assert (sample.kind, sample.total) == ("webdataset", 1)
    assert Path(sample.paths[0]).read_bytes() == (clips / "a.mp4").read_bytes()

    (tmp_path / "sft" / "videos").mkdir(parents=True)
    (tmp_path / "sft" / "labels").mkdir()
    make_clip(tmp_path / "sft" / "videos" / "c.mp4", 5)
    assert load_sample(str(tmp_path / "sft"), None, 0, str(work)).kind == "sft"


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_sample(str(tmp_path / "nothing"), None, 0, str(tmp_path))
    (tmp_path / "nopath.csv").write_text("file,text\na.mp4,x\n")
    with pytest.raises(KeyError, match="path"):
        load_sample(str(tmp_path / "nopath.csv"), None, 0, str(tmp_path))


def test_cli_on_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["bench", str(tmp_path / "empty"), "-o", str(tmp_path / "out"), "--no-progress"])
    assert code == 1
    data = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert data["results"] == [] and data["source"]["total_files"] == 0
    assert main(["bench", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o2")]) == 2


def _crash():
    os._exit(3)


def _hang():
    time.sleep(60)


def _raise():
    raise ValueError("bad file")


def _two_then_hang():
    from pyvidfast.bench.isolate import report_progress

    report_progress(1)
    report_progress(2)
    time.sleep(60)


def _one_then_crash():
    from pyvidfast.bench.isolate import report_progress

    report_progress("half")
    os._exit(4)


def test_isolated_run_reports_crash_timeout_and_error():
    assert run_isolated(sum, ([1, 2],), 30) == ("ok", 3, None)
    status, message, partial = run_isolated(_crash, (), 30)
    assert status == "crash" and "exit code 3" in message and partial is None
    assert run_isolated(_hang, (), 0.5)[::2] == ("timeout", None)
    status, message, _ = run_isolated(_raise, (), 30)
    assert status == "error" and "bad file" in message


def test_isolated_run_keeps_the_last_partial_result():
    status, message, partial = run_isolated(_two_then_hang, (), 2)
    assert (status, partial) == ("timeout", 2) and "killed after" in message
    status, message, partial = run_isolated(_one_then_crash, (), 30)
    assert (status, partial) == ("crash", "half") and "exit code 4" in message


def test_default_workers():
    assert default_workers(1) == [1]
    assert default_workers(2) == [1, 2]
    assert default_workers(6) == [1, 2, 4, 6]


def test_process_age():
    from pyvidfast.bench.machine import process_age

    age = process_age()
    assert 0 < age < time.time() - 1.6e9  # started, and after 2020


def test_ffmpeg_baseline_matches_recorded_verdicts(real_dir, tmp_path):
    """The bench's baseline runs the ffmpeg CLI; its verdicts are the ones recorded for it."""
    import shutil

    from pyvidfast.bench.measures import ffmpeg_check

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command")
    with open(real_dir / "FFMPEG_VERDICTS.csv") as f:
        rows = {r["file"]: r["ffmpeg_ok"] == "1" for r in csv.DictReader(f)}
    names = [
        "androidx_media/3gp__bbb_176x144_128kbps_15fps_h263.3gp",
        "decord/corrupted.mp4",
        "libwebm/invalid_fixed_lacing_bad_lace_size.mkv",
    ]
    verdicts = ffmpeg_check([str(real_dir / n) for n in names], 2, str(tmp_path))
    assert [verdicts[str(real_dir / n)] for n in names] == [rows[n] for n in names]


def test_reference_procedure_matches_sftdataset(tmp_path):
    """The bench's baseline (decord + torch) and SFTDataset give the same sample."""
    pytest.importorskip("decord")
    from pyvidfast.bench.reference import reference_item
    from pyvidfast.cogvideox import SFTDataset

    (tmp_path / "videos").mkdir()
    path = make_clip(tmp_path / "videos" / "c.mp4", 40, fps=24, size=(96, 64))
    params = dict(video_size=[48, 64], fps=8, max_num_frames=9, skip_frms_num=3)
    ref = reference_item(str(path), **params)
    ours = SFTDataset(str(tmp_path), **params)[0]
    assert ours["num_frames"] == ref["num_frames"]
    assert ((ours["mp4"] - ref["mp4"]).abs() * 127.5).max() <= 3


def _crashing_measure(paths, budget):
    os._exit(9)


def test_a_crashing_tool_is_a_row_with_its_reason(clips, monkeypatch):
    from pyvidfast.bench import runner

    def two_steps(paths, folder, options):
        return [
            runner.Step("crashes", "decode", 1.0, _crashing_measure, (paths,), "frames/s"),
            runner.Step("info (header)", "info", 1.0, measures.info, (paths, False)),
        ]

    monkeypatch.setattr(runner, "plan", two_steps)
    report = run_bench(str(clips), BenchOptions(seconds=30, workers=[0], progress=False))
    crashed, info = report["results"]
    assert (crashed["group"], crashed["tool"], crashed["unit"]) == ("decode", "crashes", "frames/s")
    assert "exit code 9" in crashed["skipped"]
    assert info["files"] >= 1 and info["skipped"] is None


def test_tools_of_a_group_are_compared_on_the_same_files():
    from pyvidfast.bench.results import compare_same_files

    fast = Measurement("check", "a", "files/s", files=6, items=6, seconds=3.0)
    fast.progress = [(2, 2, 1.0), (4, 4, 2.0), (6, 6, 3.0)]
    slow = Measurement("check", "b", "files/s", files=4, items=4, seconds=8.0)
    slow.progress = [(2, 2, 2.0), (4, 4, 8.0)]
    other = Measurement("decode", "c", "frames/s", files=1, items=50, seconds=2.0)
    other.progress = [(1, 50, 2.0)]
    skipped = Measurement("check", "d", "files/s", skipped="not installed")
    compare_same_files([fast, slow, other, skipped])
    assert (fast.same_files, fast.same_files_rate) == (4, 2.0)
    assert (slow.same_files, slow.same_files_rate) == (4, 0.5)
    assert (other.same_files, other.same_files_rate) == (1, 25.0)
    assert skipped.same_files is None

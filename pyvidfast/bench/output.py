"""bench.json, bench.md and the plots of a `pyvidfast bench` run.

The plots need matplotlib (``pip install 'pyvidfast[report]'``); without it the JSON and the
Markdown table still come out and the Markdown says how to get the plots.
"""

from __future__ import annotations

import importlib.util
import json
import os

from pyvidfast.bench.verdict import verdict_lines

__all__ = ["markdown", "plots_available", "write_outputs", "write_plots"]

PLOT_HINT = "plots need matplotlib: pip install 'pyvidfast[report]'"


def plots_available() -> bool:
    """True when matplotlib can be imported (the seam the tests use to simulate its absence)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a blocked or broken import system entry
        return False


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _results_table(results: list[dict]) -> list[str]:
    columns = ["group", "tool", "workers", "files", "rate", "same files: N, rate", "unit"]
    columns += ["MB/s", "failures"]
    columns += ["seconds", "CPU s", "peak RSS MB", "note"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    order = ["info", "check", "decode", "sample"]
    measured = [r for r in results if not r["skipped"]]  # the verdict names the others
    for r in sorted(measured, key=lambda r: order.index(r["group"]) if r["group"] in order else 9):
        note = r["note"]
        cells = [
            r["group"],
            r["tool"],
            r["workers"],
            r["files"],
            _fmt(r["rate"]),
            f"{r['same_files']}, {_fmt(r['same_files_rate'])}" if r["same_files"] else "",
            r["unit"],
            _fmt(r["mb_per_s"]),
            r["failures"],
            _fmt(r["seconds"]),
            _fmt(r["cpu_seconds"]),
            _fmt(r["peak_rss_mb"], 0),
            note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def _mix_lines(mix: dict) -> list[str]:
    if not mix or "error" in mix:
        return [f"Stream mix: {mix.get('error', 'no file probed')}" if mix else "Stream mix: none"]
    lines = [f"Stream mix of {mix['files']} probed file(s):", ""]
    for key in ("codec", "resolution", "container"):
        parts = ", ".join(f"{k} {v}" for k, v in list(mix[key].items())[:12])
        lines.append(f"- {key}: {parts}")
    return lines


def _overrun(report: dict) -> list[str]:
    if report["elapsed_s"] <= report["measure_budget_s"] + 1:
        return []
    return [
        f"- the budget was too small for this machine: the measurements had "
        f"{max(report['measure_budget_s'], 0):.0f} s after {report['startup_s']:.0f} s of "
        f"start-up and took {report['elapsed_s']:.0f} s; raise --seconds"
    ]


def markdown(report: dict, plots: list[str]) -> str:
    """The run as Markdown: source, machine, the results table of the tools that ran, the
    stream mix, the plots, and last the verdict (``verdict.py``)."""
    m, src = report["machine"], report["source"]
    gpu = m["gpu"]["name"] + f" (driver {m['gpu']['driver']})" if m.get("gpu") else "none"
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines = [
        f"# pyvidfast bench: {src['source']}",
        "",
        f"- sample: {src['sampled_files']} of {src['total_files']} files ({src['kind']}), "
        f"{src['sampled_bytes'] / 2**20:.1f} MiB; {src['missing_files']} sampled row(s) missing",
        f"- budget {report['budget_s']:g} s, elapsed {report['elapsed_s']:.1f} s, "
        f"peak RSS {report['peak_rss_mb']:.0f} MiB"
        + (f", GPU peak {report['gpu_peak_mb']:.0f} MiB" if report.get("gpu_peak_mb") else ""),
        f"- machine: {m['cpu_model']}, {m['cpu_count']} cores; GPU: {gpu}",
        *_overrun(report),
        f"- versions: {versions}",
        "",
        *_results_table(report["results"]),
        "",
        "rate = items (unit) per second of wall time over the files the tool reached within its "
        "share of the budget; same files = the rate over the first N files of the shuffled "
        "sample, N being what every tool of the group finished (SFTDataset with workers counts "
        "from its second clip, after the worker start-up): compare tools on that one. "
        "failures are files a tool could not process (counted in the time).",
        "",
        *_mix_lines(report["mix"]),
        "",
    ]
    lines += [f"![{name}]({name})" for name in plots] or [PLOT_HINT]
    lines += ["", "## Verdict", "", *(f"- {line}" for line in verdict_lines(report))]
    return "\n".join(lines) + "\n"


def write_plots(report: dict, out_dir: str) -> list[str]:
    """bench_throughput.png (rate per tool, one panel per group) and bench_scaling.png (clips/s
    per DataLoader worker count); [] without matplotlib."""
    if not plots_available():
        return []
    from pyvidfast.bench.plots import scaling_plot, throughput_plot

    names = []
    for name, draw in (
        ("bench_throughput.png", throughput_plot),
        ("bench_scaling.png", scaling_plot),
    ):
        if draw(report["results"], os.path.join(out_dir, name)):
            names.append(name)
    return names


def write_outputs(report: dict, out_dir: str) -> dict[str, str]:
    """Write bench.json, bench.md and the plots into ``out_dir``; their paths by kind."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "bench.json")}
    with open(paths["json"], "w") as f:
        json.dump(report, f, indent=2, default=str)
        f.write("\n")
    plots = write_plots(report, out_dir)
    paths["markdown"] = os.path.join(out_dir, "bench.md")
    with open(paths["markdown"], "w") as f:
        f.write(markdown(report, plots))
    for name in plots:
        paths[name] = os.path.join(out_dir, name)
    return paths

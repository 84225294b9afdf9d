"""The plain-language end of `pyvidfast bench`: per task, the fastest option on this sample and
machine and by how much; what was not measured and why; and one line when a comparison rests on
too few files to mean anything. It reads bench.json's rows, so it can be rebuilt from the file.
"""

from __future__ import annotations

__all__ = ["MIN_FILES", "NOISE", "TASKS", "verdict_lines"]

TASKS = {  # group -> the task its tools are options for, in the order the verdict gives them
    "sample": "CogVideoX training clips",
    "decode": "Decoding",
    "check": "Integrity check",
    "info": "Metadata (--info)",
}
MIN_FILES = 10  # a ranking over fewer files says more about those files than about the tools
NOISE = 1.1  # closer than this, two rates are within run-to-run noise on a shared machine


def _label(row: dict) -> str:
    if row["tool"] != "pyvidfast SFTDataset":
        return row["tool"]
    w = row["workers"]
    if w == 0:
        return f"{row['tool']} in the main process"
    return f"{row['tool']} with {w} DataLoader worker{'s' if w != 1 else ''}"


def _rate(row: dict) -> tuple[float, int]:
    """(rate, files it is over): over the files every tool of the group finished, when known."""
    if row.get("same_files") and row.get("same_files_rate"):
        return row["same_files_rate"], row["same_files"]
    return row["rate"] or 0.0, row["files"]


def _best_per_tool(rows: list[dict]) -> list[dict]:
    """Each tool's fastest row (SFTDataset has one per worker count), fastest tool first."""
    best: dict[str, dict] = {}
    for row in rows:
        if row["skipped"] or not row["rate"]:
            continue
        if row["tool"] not in best or _rate(row)[0] > _rate(best[row["tool"]])[0]:
            best[row["tool"]] = row
    return sorted(best.values(), key=lambda r: _rate(r)[0], reverse=True)


def _task_sentence(task: str, ranked: list[dict]) -> str:
    first, (rate, files) = ranked[0], _rate(ranked[0])
    unit = first["unit"]
    if len(ranked) == 1:
        return (
            f"{task}: only {_label(first)} was measured ({rate:.3g} {unit} over {files} "
            f"file{'s' if files != 1 else ''}), so there is nothing to compare it with."
        )
    second_rate, second_files = _rate(ranked[1])
    files = min(files, second_files)
    ratio = rate / second_rate if second_rate else float("inf")
    text = (
        f"{task}: {_label(first)} is the fastest here, {ratio:.2f}x {_label(ranked[1])} "
        f"({rate:.3g} vs {second_rate:.3g} {unit}, over the same {files} "
        f"file{'s' if files != 1 else ''})"
    )
    if ratio < NOISE:
        return text + "; that is too close to call: rerun, or on a quieter machine."
    return text + "."


def _not_measured(rows: list[dict]) -> list[str]:
    """Tools that did not run (missing, crashed, out of time) and tools that ran but finished
    nothing to time (every file failed, or the one in progress was cut)."""
    parts = []
    for r in rows:
        if r["skipped"]:
            parts.append(f"{_label(r)} ({r['skipped']})")
        elif not r["rate"]:
            unit = r["unit"].removesuffix("/s").removesuffix("s") or "item"
            why = f"; {r['note']}" if r["note"] else ""
            parts.append(f"{_label(r)} (no {unit} finished{why})")
    return ["Not measured: " + "; ".join(parts) + "."] if parts else []


def verdict_lines(report: dict) -> list[str]:
    """The verdict as sentences, one per line (Markdown list items are added by the caller)."""
    rows = report["results"]
    lines, thin = [], []
    for group, task in TASKS.items():
        ranked = _best_per_tool([r for r in rows if r["group"] == group])
        if not ranked:
            continue
        lines.append(_task_sentence(task, ranked))
        files = min(_rate(r)[1] for r in ranked[:2])
        if files < MIN_FILES:
            thin.append(f"{task} ({files} file{'s' if files != 1 else ''})")
    if thin:
        lines.append(
            f"Too few files to mean anything (under {MIN_FILES}): "
            + ", ".join(thin)
            + "; measure more files (a larger sample or --seconds) before choosing."
        )
    if not lines:
        lines.append("Nothing was measured: no tool finished a file within its share of the time.")
    lines += _not_measured(rows)
    log = report.get("log")
    if log:
        count = report.get("log_lines", 0)
        lines.append(
            f"What the measured tools printed themselves (FFmpeg's and decord's messages among "
            f"them): {count} line{'s' if count != 1 else ''} in {log}."
        )
    return lines

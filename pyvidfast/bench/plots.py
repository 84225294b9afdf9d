"""Plots of a `pyvidfast bench` run, drawn from its results (matplotlib, Agg backend)."""

from __future__ import annotations

__all__ = ["pyplot", "scaling_plot", "throughput_plot"]

GROUPS = ("info", "check", "decode", "sample")


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(r: dict) -> str:
    if r["tool"] == "pyvidfast SFTDataset":
        return f"{r['tool']}, {r['workers']} workers"
    return r["tool"]


def _rate(r: dict) -> float | None:
    return r["same_files_rate"] or r["rate"]


def throughput_plot(results: list[dict], path: str) -> bool:
    """One horizontal bar panel per group (files/s, frames/s, clips/s); False if nothing ran."""
    groups = [g for g in GROUPS if any(r["group"] == g and _rate(r) for r in results)]
    if not groups:
        return False
    plt = pyplot()
    rows = [[r for r in results if r["group"] == g and _rate(r)] for g in groups]
    heights = [0.6 + 0.35 * len(r) for r in rows]
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(7.5, sum(heights) + 0.8), gridspec_kw={"height_ratios": heights}
    )
    axes = axes if len(groups) > 1 else [axes]
    for ax, group, group_rows in zip(axes, groups, rows):
        labels = [_label(r) for r in group_rows]
        rates = [_rate(r) for r in group_rows]
        colors = ["#1f77b4" if r["tool"].startswith("pyvidfast") else "#999999" for r in group_rows]
        ax.barh(labels, rates, color=colors)
        ax.invert_yaxis()
        same = group_rows[0]["same_files"]
        where = f" on the same {same} file(s)" if same else ""
        ax.set_xlabel(f"{group_rows[0]['unit']}{where} (higher is better)")
        ax.set_title(group, loc="left", fontsize=10)
        for y, rate in enumerate(rates):
            ax.text(rate, y, f" {rate:.3g}", va="center", fontsize=8)
        ax.margins(x=0.18)
    fig.suptitle("pyvidfast bench: throughput per tool (blue: pyvidfast)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def scaling_plot(results: list[dict], path: str) -> bool:
    """Clips/s of SFTDataset against DataLoader workers, with the reference as a line."""
    points = sorted(
        (r["workers"], _rate(r))
        for r in results
        if r["tool"] == "pyvidfast SFTDataset" and _rate(r) is not None
    )
    if not points:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([w for w, _ in points], [r for _, r in points], "o-", label="pyvidfast SFTDataset")
    for r in results:
        if r["group"] == "sample" and r["tool"] != "pyvidfast SFTDataset" and _rate(r):
            ax.axhline(
                _rate(r),
                linestyle="--",
                color="#777777" if "reference" in r["tool"] else "#2ca02c",
            )
            ax.text(points[0][0], _rate(r), f" {r['tool']}", va="bottom", fontsize=8)
    ax.set_xlabel("DataLoader workers (0 = in the main process)")
    ax.set_ylabel("clips/s")
    ax.set_xticks([w for w, _ in points])
    ax.set_ylim(bottom=0)
    ax.set_title("CogVideoX sample path: scaling with workers", fontsize=11)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True

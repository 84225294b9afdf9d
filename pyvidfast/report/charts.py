"""Charts for the report page as data URIs: PNG from matplotlib when it is installed, otherwise
a small hand-written SVG, so the page always has its charts and never needs a server."""

from __future__ import annotations

import base64
import importlib.util
import io
import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "histogram", "histogram_bins", "matplotlib_available"]

WIDTH, HEIGHT = 420, 240
COLOR = "#3a6ea5"


def matplotlib_available() -> bool:
    """True when matplotlib can be imported (the seam tests use to simulate its absence)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a blocked or broken import system entry
        return False


def _range(values: list[float]) -> tuple[float, float, int]:
    """(low, high, outliers): the 1st..99th percentile when at least 20 values lie beyond a
    long tail (one 20000-frame clip would otherwise squeeze every other row into one bar)."""
    ordered = sorted(values)
    lo, hi = ordered[0], ordered[-1]
    if len(ordered) < 20:
        return lo, hi, 0
    k = max(1, len(ordered) // 100)
    p1, p99 = ordered[k], ordered[-1 - k]
    if hi - lo <= 3 * (p99 - p1):
        return lo, hi, 0
    return p1, p99, sum(1 for v in ordered if v < p1 or v > p99)


def _bins(values: Sequence[float], bins: int) -> tuple[list[float], list[int]]:
    """Equal bins over ``_range``; values outside it count in the end bins."""
    lo, hi, _ = _range(list(values))
    if hi <= lo:
        hi = lo + 1
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]
    counts = [0] * bins
    for v in values:
        counts[max(0, min(int((v - lo) / (hi - lo) * bins), bins - 1))] += 1
    return edges, counts


def _integer_bins(values: Sequence[float], bins: int) -> tuple[list[str], list[int]]:
    """At most ``bins`` bins of whole numbers over ``_range``, each ``width`` integers wide and
    labelled ``6`` or ``6-8`` (inclusive): a count of words or frames has no bin at 6.15."""
    lo, hi, _ = _range(list(values))
    lo, hi = math.floor(lo), math.ceil(hi)
    width = max(1, math.ceil((hi - lo + 1) / bins))
    n = (hi - lo) // width + 1
    counts = [0] * n
    for v in values:
        counts[max(0, min(int((v - lo) // width), n - 1))] += 1
    starts = [lo + width * i for i in range(n)]
    labels = [str(s) if width == 1 else f"{s}-{s + width - 1}" for s in starts]
    return labels, counts


def histogram_bins(
    values: Sequence[float], bins: int = 20, integer: bool = False
) -> tuple[list[str], list[int]]:
    """(bin labels, counts) of the finite ``values``: equal real bins labelled by their start,
    or with ``integer`` whole-number bins (``_integer_bins``)."""
    if integer:
        return _integer_bins(values, bins)
    edges, counts = _bins(values, bins)
    return [_short(e) for e in edges[:-1]], counts


def _short(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


def _svg(labels: list[str], counts: list[int], title: str, xlabel: str) -> str:
    """A bar chart in plain SVG: bars, counts above them, a label every few bars."""
    left, bottom, top = 36, 46, 28
    plot_w, plot_h = WIDTH - left - 10, HEIGHT - bottom - top
    peak = max(counts) or 1
    step = plot_w / max(len(counts), 1)
    every = max(1, math.ceil(len(labels) / 8))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="10">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="12">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>',
    ]
    for i, (label, n) in enumerate(zip(labels, counts)):
        h = plot_h * n / peak
        x = left + i * step
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{COLOR}"/>'
        )
        if n:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{top + plot_h - h - 2:.1f}" '
                f'text-anchor="middle">{n}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 12}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(xlabel)}</text></svg>'
    )
    data = base64.b64encode("".join(parts).encode()).decode()
    return f"data:image/svg+xml;base64,{data}"


def _png(labels: list[str], counts: list[int], title: str, xlabel: str, rotate: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH / 80, HEIGHT / 80))
    positions = range(len(counts))
    ax.bar(positions, counts, color=COLOR, width=0.9)
    every = max(1, math.ceil(len(labels) / 8))
    ax.set_xticks(list(positions)[::every])
    ax.set_xticklabels(labels[::every], rotation=30 if rotate else 0, fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("rows", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def bar_chart(labels: Sequence[str], counts: Sequence[int], title: str, xlabel: str) -> str:
    """A data URI of a bar chart (PNG with matplotlib, SVG without)."""
    labels, counts = [str(x) for x in labels], [int(c) for c in counts]
    if matplotlib_available():
        return _png(labels, counts, title, xlabel, rotate=True)
    return _svg(labels, counts, title, xlabel)


def histogram(
    values: Sequence[float], title: str, xlabel: str, bins: int = 20, integer: bool = False
) -> str | None:
    """A data URI of the histogram of the finite ``values``; None when there are none.
    ``integer``: the values are counts (words, frames), binned in whole numbers."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return None
    labels, counts = histogram_bins(finite, bins, integer)
    outliers = _range(finite)[2]
    if outliers:
        title = f"{title} ({outliers} outlier(s) in the end bins)"
    xlabel = xlabel if integer else f"{xlabel} (bin start)"
    if matplotlib_available():
        return _png(labels, counts, title, xlabel, rotate=False)
    return _svg(labels, counts, title, xlabel)

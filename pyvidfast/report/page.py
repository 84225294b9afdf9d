"""The report page: one self-contained HTML file (charts and thumbnails are data URIs).

Sections, each ``<section id=...>`` with an ``<h2>``: ``summary``, ``histograms``,
``rejections``, ``contact-sheet`` and ``captions``. No script, no external resource.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from html import escape

import pandas as pd

from pyvidfast.report import charts
from pyvidfast.report.tables import ReportData, caption_words, durations, file_sizes_mb
from pyvidfast.report.thumbs import Thumbs

__all__ = ["SECTIONS", "render_page", "thumb_sample"]

SECTIONS = ("summary", "histograms", "rejections", "contact-sheet", "captions")

STYLE = """
body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts img{border:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 1em 1em 0;display:inline-table;vertical-align:top}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:.9em;text-align:left}
.sheet{display:flex;flex-wrap:wrap;gap:10px}.clip{border:1px solid #ccc;padding:4px;width:500px}
.clip.rejected{border-color:#c33}.clip p{margin:2px 0;font-size:.8em;word-break:break-all}
.clip img{margin-right:2px}.note{color:#666;font-size:.9em}
"""


def _table(title: str, counts: Counter | dict, limit: int = 25) -> str:
    items = list(Counter(counts).most_common(limit))
    if not items:
        return f"<p class='note'>{escape(title)}: none</p>"
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{v}</td></tr>" for k, v in items)
    return f"<table><tr><th>{escape(title)}</th><th>rows</th></tr>{rows}</table>"


def _img(uri: str | None, alt: str) -> str:
    if uri is None:
        return f"<p class='note'>{escape(alt)}: no value to plot</p>"
    return f'<img src="{uri}" alt="{escape(alt)}">'


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{escape(title)}</h2>\n{body}\n</section>'


def _summary(data: ReportData) -> str:
    kept, rejected = len(data.kept), len(data.rejected)
    lines = [
        f"<p>Table: <code>{escape(data.table_path)}</code> &mdash; <b>{kept}</b> kept rows, "
        f"<b>{rejected}</b> rejected rows"
        + (f" (from <code>{escape(data.rejected_path)}</code>)" if data.rejected_path else "")
        + ".</p>"
    ]
    if data.info_computed:
        lines.append("<p class='note'>The table had no info columns: they were read here.</p>")
    return "\n".join(lines)


def _resolutions(kept: pd.DataFrame) -> Counter:
    if "height" not in kept.columns or "width" not in kept.columns:
        return Counter()
    return Counter(
        f"{int(w)}x{int(h)}" for h, w in zip(kept["height"], kept["width"]) if h == h and h > 0
    )


def _column(kept: pd.DataFrame, name: str) -> list[float]:
    if name not in kept.columns:
        return []
    return [float(v) for v in pd.to_numeric(kept[name], errors="coerce") if v == v and v > 0]


def _histograms(kept: pd.DataFrame) -> str:
    res = _resolutions(kept).most_common(15)
    images = [
        _img(charts.histogram(durations(kept), "duration", "seconds"), "duration"),
        _img(
            charts.histogram(_column(kept, "num_frames"), "frames", "frames", integer=True),
            "frames",
        ),
        _img(charts.histogram(_column(kept, "fps"), "frame rate", "fps"), "fps"),
        _img(
            charts.bar_chart(
                [r for r, _ in res], [n for _, n in res], "resolution", "width x height"
            )
            if res
            else None,
            "resolution",
        ),
        _img(
            charts.histogram(_column(kept, "aspect_ratio"), "aspect ratio", "height / width"),
            "aspect ratio",
        ),
        _img(charts.histogram(file_sizes_mb(kept), "file size", "MiB"), "file size"),
    ]
    return "<p>Kept rows.</p><div class='charts'>" + "".join(images) + "</div>"


def _rejections(data: ReportData) -> str:
    rejected = data.rejected
    if rejected.empty:
        return f"<p>{len(data.kept)} rows kept, none rejected.</p>"
    parts = [f"<p>{len(data.kept)} rows kept, {len(rejected)} rejected.</p>"]
    for column, title in (("step", "step"), ("error_kind", "error kind"), ("reason", "reason")):
        if column in rejected.columns:
            values = rejected[column].fillna("").astype(str).str.slice(0, 160)
            parts.append(_table(title, Counter(v or "(none)" for v in values)))
    return "".join(parts)


def _clip(thumbs: Thumbs, label: str, rejected: bool) -> str:
    images = "".join(f'<img src="{u}" alt="frame">' for u in thumbs.images)
    status = f"<p class='note'>does not decode: {escape(thumbs.error)}</p>" if thumbs.error else ""
    css = "clip rejected" if rejected else "clip"
    name = escape(os.path.basename(thumbs.path))
    return f"<div class='{css}'>{images}<p><b>{name}</b> {escape(label)}</p>{status}</div>"


def _contact_sheet(kept_thumbs: list, rejected_thumbs: list[tuple[Thumbs, str]]) -> str:
    parts = ["<p>First, middle and last frame.</p><h3>Kept (a sample)</h3><div class='sheet'>"]
    parts += [_clip(t, "", False) for t in kept_thumbs] or ["<p class='note'>none</p>"]
    decodes = [(t, r) for t, r in rejected_thumbs if t.images]
    parts.append(
        f"</div><h3>Rejected ({len(decodes)} of {len(rejected_thumbs)} decode at all)</h3>"
        "<div class='sheet'>"
    )
    parts += [_clip(t, reason, True) for t, reason in decodes] or ["<p class='note'>none</p>"]
    return "".join(parts) + "</div>"


def _captions(kept: pd.DataFrame) -> str:
    words = caption_words(kept)
    if not words:
        return "<p class='note'>No captions (no 'text' column).</p>"
    mean = sum(words) / len(words)
    text = f"<p>{len(words)} captions, {mean:.1f} words on average, {max(words)} at most.</p>"
    return text + _img(
        charts.histogram(words, "caption length", "words", integer=True), "caption length"
    )


def thumb_sample(data: ReportData, kept_count: int, seed: int = 0) -> tuple[list, list]:
    """(kept paths to show: ``kept_count`` at random, every rejected (path, reason))."""
    kept = [p for p in data.kept.get("path", []) if isinstance(p, str) and os.path.isfile(p)]
    kept = random.Random(seed).sample(kept, min(kept_count, len(kept)))
    rejected = data.rejected
    reasons = rejected["reason"] if "reason" in rejected.columns else [""] * len(rejected)
    pairs = [
        (p, str(r) if r == r else "")
        for p, r in zip(rejected.get("path", []), reasons)
        if isinstance(p, str) and os.path.isfile(p)
    ]
    return kept, pairs


def render_page(data: ReportData, kept_thumbs: list, rejected_thumbs: list, title: str) -> str:
    """The whole page as a string."""
    body = [
        _section("summary", "Summary", _summary(data)),
        _section("histograms", "Distributions", _histograms(data.kept)),
        _section("rejections", "Kept and rejected", _rejections(data)),
        _section("contact-sheet", "Contact sheet", _contact_sheet(kept_thumbs, rejected_thumbs)),
        _section("captions", "Caption length", _captions(data.kept)),
    ]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><link rel='icon' href='data:,'><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )

"""`pyvidfast report`: the page's sections, its charts with and without matplotlib, empty and
missing-file tables, and the page in a real headless browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from media import make_clip

from pyvidfast.cli import main
from pyvidfast.report import charts, page, write_report
from pyvidfast.report.page import SECTIONS
from pyvidfast.report.tables import load_report_data, rejected_path_for

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = Path(os.environ.get("PYVIDFAST_SCREENSHOT_DIR", ROOT / "build" / "screenshots"))


def _prepare(tmp: Path) -> Path:
    """pyvidfast prepare on two clips, an empty caption, a broken file and a missing file."""
    make_clip(tmp / "a.mp4", 30, fps=10, size=(64, 48))
    make_clip(tmp / "b.mp4", 20, fps=5, size=(48, 64))
    make_clip(tmp / "c.mp4", 10, fps=5)
    data = (tmp / "a.mp4").read_bytes()
    (tmp / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])  # truncated: decodes in part
    table = pd.DataFrame(
        {
            "path": [str(tmp / n) for n in ("a.mp4", "b.mp4", "c.mp4", "cut.mp4", "gone.mp4")],
            "text": ["a clip of a cat", "two dogs run on the grass", None, "text", "missing"],
        }
    )
    table.to_csv(tmp / "data.csv", index=False)
    out = tmp / "out"
    assert main(["prepare", str(tmp / "data.csv"), "--output-dir", str(out), "--no-progress"]) == 0
    return out / "data_info_noempty_le50MB_withouterror.csv"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return _prepare(tmp_path_factory.mktemp("prep"))


def _sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"><h2>', html)


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="(data:[^"]+)"', html)


def test_page_has_every_section(prepared, tmp_path):
    out = write_report(str(prepared), str(tmp_path / "r.html"))
    html = Path(out).read_text()
    assert _sections(html) == list(SECTIONS)
    assert Path(rejected_path_for(str(prepared))).is_file()
    rejected = pd.read_csv(rejected_path_for(str(prepared)))
    for step in set(rejected["step"]):
        assert f"<td>{step}</td>" in html
    for kind in set(rejected["error_kind"].dropna()):
        assert f"<td>{kind}</td>" in html
    assert "caption is missing (NaN)" in html
    assert "2 captions" in html  # a.mp4 and b.mp4 are kept
    assert 'src="http' not in html and "<script" not in html  # nothing to fetch, nothing to run


def test_contact_sheet_shows_kept_and_decodable_rejected(prepared, tmp_path):
    html = Path(write_report(str(prepared), str(tmp_path / "r.html"))).read_text()
    sheet = html.split('<section id="contact-sheet">')[1].split("</section>")[0]
    kept, rejected = sheet.split("<h3>Rejected")
    assert kept.count("class='clip'") == 2 and kept.count('alt="frame"') == 6
    # c.mp4 (empty caption) decodes; the truncated file is rejected and decodes in part;
    # gone.mp4 is missing and has no thumbnail.
    assert "c.mp4" in rejected and "gone.mp4" not in rejected
    frames = [base64.b64decode(u.split(",", 1)[1]) for u in _images(sheet)]
    assert frames and all(f[:2] == b"\xff\xd8" for f in frames)  # JPEG


def test_empty_table(tmp_path):
    (tmp_path / "empty.csv").write_text("path,text\n")
    html = Path(write_report(str(tmp_path / "empty.csv"))).read_text()
    assert _sections(html) == list(SECTIONS)
    assert "<b>0</b> kept rows" in html and "no value to plot" in html


def test_table_whose_files_are_all_missing(tmp_path):
    paths = [str(tmp_path / f"gone{i}.mp4") for i in range(3)]
    pd.DataFrame({"path": paths, "text": ["x", "y z", ""]}).to_csv(tmp_path / "t.csv", index=False)
    data = load_report_data(str(tmp_path / "t.csv"))
    assert data.info_computed and (data.kept["num_frames"] == 0).all()
    html = Path(write_report(str(tmp_path / "t.csv"), str(tmp_path / "t.html"))).read_text()
    assert _sections(html) == list(SECTIONS)
    assert "<b>3</b> kept rows" in html and 'alt="frame"' not in html


def test_check_table_rows_that_failed_are_the_rejected(tmp_path):
    make_clip(tmp_path / "a.mp4", 5)
    table = pd.DataFrame(
        {
            "path": [str(tmp_path / "a.mp4"), str(tmp_path / "gone.mp4")],
            "ok": [True, False],
            "error_kind": ["", "missing"],
            "error": ["", "No such file"],
        }
    )
    table.to_csv(tmp_path / "check.csv", index=False)
    data = load_report_data(str(tmp_path / "check.csv"))
    assert len(data.kept) == 1 and list(data.rejected["error_kind"]) == ["missing"]
    assert data.kept["num_frames"].tolist() == [5]


def test_cli(prepared, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(prepared), "-o", str(out), "--no-progress", "--thumbs", "1"]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope.csv")]) == 2


BLOCK_MATPLOTLIB = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("matplotlib blocked by the test")
sys.meta_path.insert(0, Block())
from pyvidfast.report import write_report
print(write_report(sys.argv[1], sys.argv[2], thumbs=0))
"""


def test_charts_without_matplotlib_are_svg(prepared, tmp_path):
    out = tmp_path / "svg.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", BLOCK_MATPLOTLIB, str(prepared), str(out)], env=env, check=True
    )
    html = out.read_text()
    assert _sections(html) == list(SECTIONS)
    charts = [u for u in _images(html) if not u.startswith("data:image/jpeg")]
    assert charts and all(u.startswith("data:image/svg+xml;base64,") for u in charts)
    svg = base64.b64decode(charts[0].split(",", 1)[1]).decode()
    assert svg.startswith("<svg") and "<rect" in svg


def _browser_or_skip():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api"), chromium


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def test_page_in_a_headless_browser(prepared, tmp_path):
    """Chromium opens the page from disk: no console error, every section, every image drawn."""
    sync_api, chromium = _browser_or_skip()
    page_path = Path(write_report(str(prepared), str(tmp_path / "report.html")))
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            ids = page.evaluate(
                "Array.from(document.querySelectorAll('section > h2')).map(h => h.parentElement.id)"
            )
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
            )
            page.screenshot(path=str(SCREENSHOT_DIR / "report.png"), full_page=True)
        finally:
            context.close()
    assert errors == []
    assert ids == list(SECTIONS)
    assert images and all(done and width > 0 for done, width in images)
    assert (SCREENSHOT_DIR / "report.png").stat().st_size > 0


def test_caption_length_histogram_has_whole_number_bins(monkeypatch):
    """Issue 26: word counts are whole numbers; bins at 6, 6.15, 6.3 ... said otherwise."""
    words = [6, 7, 7, 8, 9, 12, 26]  # 21 possible lengths, 20 bins: two lengths a bin
    labels, counts = charts.histogram_bins(words, 20, integer=True)
    assert labels[:3] == ["6-7", "8-9", "10-11"] and labels[-1] == "26-27"
    assert counts[:4] == [3, 2, 0, 1] and sum(counts) == len(words)
    labels, counts = charts.histogram_bins([6, 6, 7, 9], 20, integer=True)
    assert (labels, counts) == (["6", "7", "8", "9"], [2, 1, 0, 1])
    # the page's chart (the SVG drawn without matplotlib) labels its bins that way
    monkeypatch.setattr(charts, "matplotlib_available", lambda: False)
    short = [6, 7, 7, 8, 9]  # the case: real bins started at 6, 6.15, 6.3 ...
    section = page._captions(pd.DataFrame({"text": [" ".join(["w"] * n) for n in short]}))
    uri = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', section).group(1)
    svg = base64.b64decode(uri).decode()
    ticks = re.findall(r'text-anchor="middle">([^<]*)</text>', svg)
    assert {"6", "7", "8", "9"} <= set(ticks)
    assert not [t for t in ticks if "." in t], ticks

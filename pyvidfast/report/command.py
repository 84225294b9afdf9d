"""The ``pyvidfast report`` subcommand and ``write_report``."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register", "run", "write_report"]

DESCRIPTION = """\
Write one self-contained HTML page about a dataset table (the output of `pyvidfast info`,
datautil --info, `pyvidfast check` or `pyvidfast prepare`, with the <base>_rejected.csv beside it
when present): histograms of duration, frames, fps, resolution, aspect ratio and file size;
counts of kept and rejected rows by step, reason and error_kind; a contact sheet (first, middle
and last frame, read with pyvidfast's VideoReader) for a sample of kept clips and for every
rejected clip that decodes at all; and the caption length distribution. Charts are PNG with
matplotlib installed (pip install 'pyvidfast[report]'), inline SVG without. The page opens from
disk in any browser: no server, no network."""


def write_report(
    table: str,
    output: str | None = None,
    thumbs: int = 24,
    timeout: float = 60,
    workers: int | None = None,
    progress: bool = False,
) -> str:
    """Write the page for ``table`` to ``output`` (default ``<table base>.html``); its path."""
    from pyvidfast.report.page import render_page, thumb_sample
    from pyvidfast.report.tables import load_report_data
    from pyvidfast.report.thumbs import make_thumbs

    data = load_report_data(table, progress=progress)
    kept_paths, rejected_pairs = thumb_sample(data, thumbs)
    made = make_thumbs(kept_paths + [p for p, _ in rejected_pairs], timeout, workers)
    kept_thumbs = made[: len(kept_paths)]
    rejected_thumbs = list(zip(made[len(kept_paths) :], [r for _, r in rejected_pairs]))
    output = output or os.path.splitext(table)[0] + ".html"
    title = f"pyvidfast report: {os.path.basename(table)}"
    page = render_page(data, kept_thumbs, rejected_thumbs, title)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(page)
    return output


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to the ``pyvidfast`` command."""
    parser = subparsers.add_parser(
        "report",
        help="one HTML page: what a dataset table holds and what was dropped",
        description=DESCRIPTION,
        epilog="example:\n  pyvidfast report data_info_noempty_le50MB_withouterror.csv -o report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("table", help="CSV/Parquet table with a 'path' column")
    parser.add_argument(
        "--output", "-o", default=None, help="HTML file to write (default: TABLE with .html)"
    )
    parser.add_argument(
        "--thumbs",
        type=int,
        default=24,
        help="kept clips on the contact sheet, drawn at random (default 24; every rejected clip "
        "that decodes is shown)",
    )
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds per clip for its thumbnails"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="decode processes (default: cores)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``pyvidfast report``."""
    if args.thumbs < 0 or args.timeout <= 0:
        print("report: --thumbs must be >= 0 and --timeout > 0", file=sys.stderr)
        return 2
    try:
        path = write_report(
            args.table,
            args.output,
            args.thumbs,
            args.timeout,
            args.workers,
            progress=not args.no_progress,
        )
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"report: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0

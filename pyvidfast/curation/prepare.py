"""``pyvidfast prepare``: Open-Sora's four preparation commands in one pass over the files.

Reproduces, file names, columns and row order included::

    python -m tools.datasets.datautil IN.csv --info --remove-empty-caption  # _info_noempty
    python -m tools.datasets.filter_large_videos IN_info_noempty.csv 50     # _le50MB
    bash tools/datasets/ffmpeg_check_parallel.sh ...                        # P.err files
    python -m tools.datasets.ffmpeg_filter_without_errors ..._le50MB.csv    # _withouterror

Each file is opened once, by one worker that reads its info row (header speed) and decodes it for
the integrity verdict; files whose row the caption or size step drops are not decoded. The table
steps then run in the reference order with the reference functions, and between steps the table
goes through CSV text as it does between the reference commands, so dtypes (``921600`` vs
``921600.0``) come out the same. Every dropped row goes to ``<out>_rejected.csv`` with its step
and reason.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from pyvidfast.curation.sources import MIRADATA_CAPTIONS, SOURCES, import_table
from pyvidfast.io.errors import RemoteIOError
from pyvidfast.io.storage import add_storage_argument, apply_storage_argument, remembered_sizes
from pyvidfast.opensora.datautil import remove_empty_caption
from pyvidfast.opensora.ffmpeg_filter_without_errors import output_name as withouterror_name
from pyvidfast.opensora.filter_large_videos import add_file_size, filter_large_videos
from pyvidfast.opensora.filter_large_videos import output_name as large_name
from pyvidfast.opensora.info import ERROR_COLUMN, assign_info, summarize
from pyvidfast.parallel.options import DEFAULT_TIMEOUT, EngineOptions, add_engine_arguments
from pyvidfast.parallel.outputs import outputs_ready
from pyvidfast.parallel.table import output_path, read_tables, write_table

__all__ = ["PrepareResult", "prepare", "output_names"]

STEPS = ("noempty", "le{}MB", "withouterror")
REJECTED_COLUMNS = ["step", "reason", "error_kind"]


@dataclass
class PrepareResult:
    """The kept table (as the four reference commands write it), the rejected rows, counts."""

    kept: pd.DataFrame
    rejected: pd.DataFrame
    steps: list[dict] = field(default_factory=list)
    info_rows: list[dict] = field(default_factory=list)


def _roundtrip(data: pd.DataFrame) -> pd.DataFrame:
    """The table as the next reference command reads it back from the previous one's CSV."""
    buffer = io.StringIO()
    data.to_csv(buffer, index=False)
    buffer.seek(0)
    out = pd.read_csv(buffer)
    out.index = data.index
    return out


def _rejected(data: pd.DataFrame, step: str, reasons: dict, kinds: dict | None = None):
    out = data.copy()
    out["step"] = step
    out["reason"] = [reasons[i] for i in data.index]
    out["error_kind"] = [(kinds or {}).get(i, "") for i in data.index]
    return out


def _caption_reason(text) -> str:
    return "caption is missing (NaN)" if not isinstance(text, str) else "caption is empty"


def _size_reason(size: float, limit_mib: float) -> str:
    if size != size:  # NaN
        return "file is missing (no size)"
    return f"file_size {int(size)} bytes >= {limit_mib:g} MiB"


def prepare(
    data: pd.DataFrame,
    max_size_mb: float = 50,
    *,
    allow: Sequence[str] = (),
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    threads: int = 1,
    journal: str | None = None,
    progress: bool = False,
) -> PrepareResult:
    """info -> remove empty captions -> size < ``max_size_mb`` MiB -> integrity, in one pass.

    ``data`` needs ``path`` and ``text``. ``allow``: error kinds to keep anyway (e.g.
    ``["timestamps"]``; the default keeps the rows the reference keeps, less audio-only files,
    rejected as ``no_video``: allow ``"no_video"`` to keep them as Open-Sora does). Engine
    arguments as in :func:`pyvidfast.curation.check_files`.
    """
    for column in ("path", "text"):
        if column not in data.columns:
            raise KeyError(f"prepare needs a '{column}' column (has {list(data.columns)})")
    options = EngineOptions(engine, address, workers, timeout, threads)
    with remembered_sizes():  # three steps and the workers ask for sizes: one round trip a URL
        return _prepare(data.reset_index(drop=True), max_size_mb, allow, options, journal, progress)


def _prepare(
    data: pd.DataFrame,
    max_size_mb: float,
    allow: Sequence[str],
    options: EngineOptions,
    journal: str | None,
    progress: bool,
) -> PrepareResult:
    from pyvidfast.curation.check import run_files

    paths = [str(p) for p in data["path"]]

    # Which files the integrity decode is for: rows the caption and size steps keep.
    survivors = filter_large_videos(remove_empty_caption(data), max_size_mb)
    decode = {str(p) for p in survivors["path"]}
    results = run_files(
        paths,
        True,
        options=options,
        journal=journal,
        progress=progress,
        check_paths=decode,
        desc="prepare",
    )
    info_rows = [results[p]["info"] for p in paths]

    steps: list[dict] = []
    rejected: list[pd.DataFrame] = []

    noempty = _info_step(assign_info(data, info_rows), info_rows, rejected, steps)
    small = _size_step(noempty, max_size_mb, rejected, steps)

    # 3 + 4. the ffmpeg check and ffmpeg_filter_without_errors
    missing = [str(p) for p in small["path"] if "ok" not in results[str(p)]]
    if missing:  # only if the CSV round trip changed a path or caption: decode those now
        results.update(run_files(missing, True, options=options, journal=journal, progress=False))
    kept = _integrity_step(small, results, allow, rejected, steps)

    rejected_table = pd.concat(rejected) if rejected else pd.DataFrame()
    rejected_table = rejected_table.sort_index(kind="stable")
    order = [c for c in rejected_table.columns if c not in REJECTED_COLUMNS] + REJECTED_COLUMNS
    rejected_table = rejected_table[order]
    return PrepareResult(kept, rejected_table, steps, info_rows)


def _info_step(info: pd.DataFrame, info_rows, rejected: list, steps: list) -> pd.DataFrame:
    """Step 1: datautil --info --remove-empty-caption (one CSV written after both)."""
    n_failed = sum(1 for r in info_rows if r.get(ERROR_COLUMN))
    steps.append(
        {
            "step": "info",
            "in": len(info),
            "kept": len(info),
            "dropped": 0,
            "reasons": f"{n_failed} rows without info kept as 0,0,0 (as Open-Sora)",
        }
    )
    noempty = remove_empty_caption(info)
    dropped = info.loc[info.index.difference(noempty.index)]
    reasons = {i: _caption_reason(t) for i, t in dropped["text"].items()}
    rejected.append(_rejected(dropped, "noempty", reasons))
    steps.append(_step("noempty", info, noempty, reasons))
    return _roundtrip(noempty)


def _size_step(noempty: pd.DataFrame, max_size_mb: float, rejected: list, steps: list):
    """Step 2: filter_large_videos N."""
    sized = add_file_size(noempty)
    small = filter_large_videos(noempty, max_size_mb)
    dropped = sized.loc[sized.index.difference(small.index)]
    reasons = {i: _size_reason(s, max_size_mb) for i, s in dropped["file_size"].items()}
    rejected.append(_rejected(dropped, f"le{max_size_mb:g}MB", reasons))
    sizes = {i: "missing file" if s != s else "too large" for i, s in dropped["file_size"].items()}
    steps.append(_step(f"le{max_size_mb:g}MB", noempty, small, sizes))
    return _roundtrip(small)


def usable(result: dict) -> tuple[str, str]:
    """``(error kind, reason)`` when a checked file cannot be a training clip, else ``("", "")``.

    FFmpeg's verdict, plus one rule of ours: a file that decodes cleanly but gives no video frame
    (audio only) is rejected as ``no_video``; Open-Sora's chain keeps it as a 0-frame row.
    """
    kind = result.get("error_kind") or ""
    if not result["ok"]:
        lines = result.get("error_lines") or [""]
        return kind, f"{kind}: {lines[0]}"[:500]
    if not result.get("decoded_frames"):
        return "no_video", "no_video: no video frame decoded (audio only, or an empty video track)"
    return "", ""


def _integrity_step(small, results: dict, allow, rejected: list, steps: list) -> pd.DataFrame:
    """Step 3 + 4: the ffmpeg check and ffmpeg_filter_without_errors (plus ``no_video``)."""
    keep, reasons, kinds = [], {}, {}
    for i, p in small["path"].items():
        kind, reason = usable(results[str(p)])
        good = not kind or kind in allow
        keep.append(good)
        if not good:
            reasons[i], kinds[i] = reason, kind
    kept = small[pd.Series(keep, index=small.index, dtype=bool)]
    dropped = small.loc[small.index.difference(kept.index)]
    rejected.append(_rejected(dropped, "withouterror", reasons, kinds))
    steps.append(_step("withouterror", small, kept, {i: kinds[i] for i in dropped.index}))
    return kept


def _step(name: str, before: pd.DataFrame, after: pd.DataFrame, categories: dict) -> dict:
    counts = Counter(categories.values())
    return {
        "step": name,
        "in": len(before),
        "kept": len(after),
        "dropped": len(before) - len(after),
        "reasons": ", ".join(f"{n} {r}" for r, n in counts.most_common()),
    }


def output_names(inputs: list[str], max_size: str, output_dir: str | None = None) -> tuple:
    """(kept, rejected) paths: ``<base>_info_noempty_le{N}MB_withouterror.csv`` + ``_rejected``."""
    noempty = output_path(inputs, ["_info", "_noempty"], "csv")
    if output_dir:
        noempty = os.path.join(output_dir, os.path.basename(noempty))
    kept = withouterror_name(large_name(noempty, max_size))
    root, ext = os.path.splitext(kept)
    return kept, f"{root}_rejected{ext}"


def format_steps(steps: list[dict]) -> str:
    """The summary table printed at the end of ``prepare``."""
    headers = ["step", "in", "kept", "dropped", "reasons"]
    cells = [[str(s[h]) for h in headers] for s in steps]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


# ------------------------------------------------------------------------- the command


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``prepare`` subcommand to the ``pyvidfast`` command."""
    parser = subparsers.add_parser(
        "prepare",
        help="info + empty-caption + size + integrity, one pass",
        description="Open-Sora's dataset preparation in one command and one pass over the files: "
        "`datautil --info --remove-empty-caption`, `filter_large_videos N`, the ffmpeg "
        "integrity check and `ffmpeg_filter_without_errors`. Writes the same "
        "<base>_info_noempty_le{N}MB_withouterror.csv those four steps write (columns and row "
        "order included), <...>_rejected.csv with every dropped row, its step and reason, and "
        "prints a summary. Resumable: killed and rerun, it redoes nothing that finished.",
    )
    parser.add_argument("input", nargs="+", help="CSV/Parquet tables (globs allowed)")
    parser.add_argument(
        "--max-size-mb",
        default="50",
        help="keep files smaller than this many MiB (strict, as filter_large_videos; default 50)",
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default=None,
        help="the input is OpenVid-1M.csv (path = ROOT/video/<video>, text = caption) or "
        "MiraData's CSV (path = ROOT/<file_path>, text = --caption column)",
    )
    parser.add_argument("--root", default=None, help="with --from: the dataset's root folder")
    parser.add_argument(
        "--caption",
        choices=MIRADATA_CAPTIONS,
        default="short_caption",
        help="with --from miradata: which caption column becomes 'text' (default short_caption)",
    )
    parser.add_argument(
        "--allow",
        default="",
        help="comma-separated error kinds to keep anyway, e.g. 'timestamps' keeps files whose "
        "only complaint is the null muxer's dts check, 'no_video' keeps audio-only files "
        "(default: none)",
    )
    parser.add_argument(
        "--output-dir", default=None, help="where to write (default: next to the first input)"
    )
    add_engine_arguments(parser)
    add_storage_argument(parser, nal_walk=True)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``pyvidfast prepare``."""
    apply_storage_argument(args)
    try:
        max_size = float(args.max_size_mb)
    except ValueError:
        print(f"prepare: --max-size-mb must be a number, got {args.max_size_mb!r}", file=sys.stderr)
        return 2
    try:
        data, inputs = read_tables(args.input)
        if args.source:
            if not args.root:
                print("prepare: --from needs --root (the dataset folder)", file=sys.stderr)
                return 2
            data = import_table(data, args.source, args.root, args.caption)
    except (OSError, KeyError, ValueError) as exc:
        print(f"prepare: cannot read {' '.join(args.input)}: {exc}", file=sys.stderr)
        return 2
    kept_path, rejected_path = output_names(inputs, args.max_size_mb, args.output_dir)
    journal = args.journal or kept_path + ".journal.jsonl"
    if not outputs_ready("prepare", [kept_path, rejected_path, journal], inputs):
        return 2
    try:
        result = prepare(
            data,
            max_size,
            allow=[k.strip() for k in args.allow.split(",") if k.strip()],
            **EngineOptions.from_args(args).as_kwargs(),
            journal=journal,
            progress=not args.no_progress,
        )
    except KeyError as exc:
        print(f"prepare: {exc.args[0]}", file=sys.stderr)
        return 2
    except RemoteIOError as exc:  # a size the storage would not give: not a missing file
        print(f"prepare: {exc} (rerun to resume when the storage answers)", file=sys.stderr)
        return 1
    write_table(result.kept, kept_path)
    write_table(result.rejected, rejected_path)
    print(summarize(result.info_rows), file=sys.stderr)
    print(format_steps(result.steps))
    print(f"Kept {len(result.kept)} of {len(data)} rows: {kept_path}")
    print(f"Rejected {len(result.rejected)} rows with reasons: {rejected_path}")
    return 0

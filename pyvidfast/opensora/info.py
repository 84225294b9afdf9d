"""Open-Sora's ``--info`` columns at header speed, and the ``pyvidfast info`` command.

``video_info(path)`` gives one row's values; ``compute_info(paths)`` runs it over many files in
worker processes with a per-file timeout and a progress bar; ``add_info(df)`` adds the columns
``num_frames, height, width, aspect_ratio, fps, resolution`` the way Open-Sora's datautil does.
Where the values come from is explained in ``pyvidfast/io/probe.py`` (Note [frame count]):
container headers where they can be trusted, an exact count by decoding (no RGB) where they
cannot (broken MP4 sample tables, corrupt NAL sizes, MPEG-TS cut mid-GOP), so every row equals
the reference's (tests/test_opensora_info.py runs it).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd

from pyvidfast.io.errors import ffmpeg_text
from pyvidfast.io.probe import VideoProbe, failed, is_image, probe_image, probe_video
from pyvidfast.io.storage import add_storage_argument, apply_storage_argument
from pyvidfast.parallel.options import DEFAULT_TIMEOUT, add_cluster_arguments
from pyvidfast.parallel.pool import map_in_process, map_with_timeout
from pyvidfast.parallel.ray_loop import map_on_ray_in_order

INFO_COLUMNS = ["num_frames", "height", "width", "aspect_ratio", "fps", "resolution"]
ERROR_COLUMN = "info_error"

__all__ = [
    "DEFAULT_TIMEOUT",
    "ERROR_COLUMN",
    "INFO_COLUMNS",
    "add_info",
    "compute_info",
    "summarize",
    "video_info",
]


class _Timeout(BaseException):
    """Raised by SIGALRM; a BaseException so the probe's ``except Exception`` lets it through."""


@contextmanager
def _alarm(seconds: float | None) -> Iterator[list[bool]]:
    """Raise ``_Timeout`` after ``seconds`` (main thread only; elsewhere no limit is applied).

    Yields a flag that is ``[True]`` once the alarm went off. FFmpeg can turn the interrupted
    system call into an error of its own (``open`` of a file that never delivers data gives
    ``InterruptedError``) that the probe reports as ``cannot open`` while ``_Timeout`` is lost;
    the flag still says it was the timeout.
    """
    fired = [False]
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield fired
        return

    def _raise(signum, frame):
        fired[0] = True
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _row(probe: VideoProbe) -> dict:
    """Open-Sora's row: failures are ``0, 0, 0, NaN, NaN, NaN``; aspect = h / w, res = h * w."""
    if probe.height <= 0 or probe.width <= 0:
        values = (0, 0, 0, math.nan, math.nan, math.nan)
    else:
        h, w = probe.height, probe.width
        values = (probe.num_frames, h, w, h / w, probe.fps, h * w)
    row = dict(zip(INFO_COLUMNS, values))
    row[ERROR_COLUMN] = probe.error
    return row


def video_info(path: str, exact_frames: bool = False, timeout: float | None = None) -> dict:
    """One row of Open-Sora's ``--info`` for ``path`` (video or image), never raising.

    Returns ``{"num_frames", "height", "width", "aspect_ratio", "fps", "resolution",
    "info_error"}``. ``info_error`` is None when the file was read, else a short reason
    (``missing file: ...``, ``no video stream``, ``no decodable frame``, ``cannot open: ...``,
    ``timeout after Ns``) and the values are ``0, 0, 0, NaN, NaN, NaN``. Images (by extension)
    give ``1, h, w, h / w, NaN, h * w``. ``exact_frames`` counts decodable frames by decoding
    (no RGB conversion) instead of trusting headers. ``timeout`` (seconds) is enforced with
    SIGALRM in the main thread; ``compute_info`` enforces it with worker processes instead.
    """
    path = os.fspath(path)
    try:
        with _alarm(timeout) as fired:
            if is_image(path):
                probe = probe_image(path, exact=exact_frames)
            else:
                probe = probe_video(path, exact_frames=exact_frames)
        if fired[0]:
            raise _Timeout
    except _Timeout:
        probe = failed(f"timeout after {timeout:g}s")
    except Exception as exc:  # probe_video does not raise on bad files; this is a last guard
        probe = failed(f"error: {type(exc).__name__}: {ffmpeg_text(exc)}"[:200])
    return _row(probe)


def _info_task(task: tuple[str, bool]) -> dict:
    path, exact = task
    return video_info(path, exact_frames=exact)


def _failure_row(reason: str) -> dict:
    return _row(failed(reason))


def compute_info(
    paths: Sequence[str],
    exact_frames: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    num_workers: int | None = None,
    parallel: bool = True,
    progress: bool = True,
    engine: str = "local",
    address: str | None = None,
) -> list[dict]:
    """``video_info`` for every path, in order, with a per-file timeout.

    ``parallel`` runs ``num_workers`` worker processes (default: cpu count) and kills a worker
    whose file runs past ``timeout``; ``parallel=False`` runs in this process (timeout by
    SIGALRM). ``engine="ray"``: one Ray task per file on the cluster at ``address`` instead.
    ``progress`` shows a tqdm bar (files/s, ETA) on stderr. Memory does not grow with
    video length: no frame is kept.
    """
    paths = [os.fspath(p) if not isinstance(p, str) else p for p in paths]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="file", desc="info", file=sys.stderr, smoothing=0.1)

    def tick(index: int, result: object) -> None:
        if bar is not None:
            bar.update(1)

    try:
        if engine == "ray":
            tasks = [(p, exact_frames) for p in paths]
            results = _info_on_ray(tasks, num_workers, timeout, tick, address)
        elif parallel and len(paths) > 1:
            tasks = [(p, exact_frames) for p in paths]
            results = map_with_timeout(
                _info_task,
                tasks,
                num_workers=num_workers,
                timeout=timeout,
                on_timeout=lambda task: _failure_row(f"timeout after {timeout:g}s"),
                on_crash=lambda task, code: _failure_row(f"worker died (exit code {code})"),
                on_result=tick,
            )
        else:
            results = map_in_process(
                lambda p: video_info(p, exact_frames=exact_frames, timeout=timeout), paths, tick
            )
    finally:
        if bar is not None:
            bar.close()
    return [
        r if isinstance(r, dict) else _failure_row(f"error: {type(r).__name__}: {r}"[:200])
        for r in results
    ]


def _info_on_ray(tasks, num_workers, timeout, tick, address) -> list:
    """``compute_info(engine="ray")``: one Ray task per file, failures as rows."""
    return map_on_ray_in_order(
        _info_task,
        tasks,
        num_workers,
        timeout,
        on_timeout=lambda task: _failure_row(f"timeout after {timeout:g}s"),
        on_crash=lambda task, exc: _failure_row(f"ray task failed: {exc}"[:200]),
        on_result=tick,
        address=address,
    )


def _reason_kind(reason: str) -> str:
    """``missing file: /x.mp4`` -> ``missing file`` (the part a summary can count)."""
    return reason.split(":")[0].strip()


def summarize(rows: Sequence[dict], label: str = "info") -> str:
    """``info: 84 files, 79 ok, 5 failed (3 no decodable frame, 2 missing file)``."""
    errors = [r.get(ERROR_COLUMN) for r in rows]
    bad = Counter(_reason_kind(e) for e in errors if e)
    n_bad = sum(bad.values())
    line = f"{label}: {len(rows)} files, {len(rows) - n_bad} ok, {n_bad} failed"
    if bad:
        line += " (" + ", ".join(f"{n} {k}" for k, n in bad.most_common()) + ")"
    return line


def add_info(
    data: pd.DataFrame,
    exact_frames: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    num_workers: int | None = None,
    parallel: bool = True,
    progress: bool = True,
    errors_column: bool = False,
    engine: str = "local",
    address: str | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Add or overwrite the ``INFO_COLUMNS`` of ``data`` from its ``path`` column.

    As Open-Sora assigns them: new columns go after the existing ones in INFO_COLUMNS order, an
    existing column keeps its place. ``errors_column`` also adds ``info_error`` (empty when the
    file was read). Returns a new table and the per-row results.
    """
    if "path" not in data.columns:
        raise KeyError("--info needs a 'path' column")
    rows = compute_info(
        [str(p) for p in data["path"]],
        exact_frames=exact_frames,
        timeout=timeout,
        num_workers=num_workers,
        parallel=parallel,
        progress=progress,
        engine=engine,
        address=address,
    )
    return assign_info(data, rows, errors_column), rows


def add_info_from_args(
    data: pd.DataFrame, args: argparse.Namespace
) -> tuple[pd.DataFrame, list[dict]]:
    """``add_info`` configured by the flags of ``add_run_arguments`` (``info`` and ``datautil``)."""
    return add_info(
        data,
        exact_frames=args.exact_frames,
        timeout=args.timeout,
        num_workers=args.num_workers,
        parallel=not args.disable_parallel,
        progress=not args.no_progress,
        errors_column=args.info_errors,
        engine=args.engine,
        address=args.address,
    )


def assign_info(data: pd.DataFrame, rows: list[dict], errors_column: bool = False) -> pd.DataFrame:
    """A copy of ``data`` with the ``INFO_COLUMNS`` of ``rows`` (one ``video_info`` dict a row).

    Built from tuples like Open-Sora's ``zip(*info)``: an int column turns float when any row
    failed (NaN), exactly as in the reference CSVs; an existing column keeps its place.
    """
    data = data.copy()
    values = pd.DataFrame([[r[c] for c in INFO_COLUMNS] for r in rows], columns=INFO_COLUMNS)
    for column in INFO_COLUMNS:
        data[column] = values[column].to_numpy() if len(rows) else []
    if errors_column:
        data[ERROR_COLUMN] = [r[ERROR_COLUMN] or "" for r in rows]
    return data


# ---------------------------------------------------------------- the `pyvidfast info` command


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags shared by ``pyvidfast info`` and ``datautil --info``."""
    parser.add_argument(
        "--exact-frames",
        action="store_true",
        help="count decodable frames by decoding every video (no RGB conversion), even where "
        "the container headers look sound; slower",
    )
    parser.add_argument(
        "--info-errors",
        action="store_true",
        help="add an 'info_error' column with the reason a row failed (empty when it did not)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per file before it is given up as a failure row (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="worker processes (default: number of CPUs)",
    )
    parser.add_argument(
        "--disable-parallel",
        action="store_true",
        help="run in this process, one file at a time (no worker processes)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_storage_argument(parser, nal_walk=True)
    add_cluster_arguments(parser)


DESCRIPTION = (
    "Add Open-Sora's info columns (num_frames, height, width, aspect_ratio, fps, resolution) to "
    "CSV/Parquet tables with a 'path' column, reading container headers instead of decoding. "
    "Same values and file names as `datautil --info` (<input>_info.csv next to the first input)."
)


def _configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("input", nargs="+", help="CSV or Parquet files (globs allowed)")
    parser.add_argument("--output", default=None, help="output path (default <base>_info.<fmt>)")
    parser.add_argument(
        "--format", default="csv", choices=["csv", "parquet"], help="output format (default csv)"
    )
    add_run_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``info`` subcommand to the ``pyvidfast`` command."""
    parser = subparsers.add_parser(
        "info", help="add num_frames/height/width/fps columns to a CSV", description=DESCRIPTION
    )
    return _configure(parser)


def run(args: argparse.Namespace) -> int:
    """``pyvidfast info``: read the inputs, add the info columns, write ``<base>_info.<fmt>``."""
    from pyvidfast.parallel.outputs import outputs_ready
    from pyvidfast.parallel.table import output_path, read_tables, write_table

    apply_storage_argument(args)
    try:
        data, paths = read_tables(args.input)
    except FileNotFoundError as exc:
        print(f"info: {exc}", file=sys.stderr)
        return 2
    out = output_path(paths, ["_info"], args.format, args.output)
    if not outputs_ready("info", [out], paths):
        return 2
    try:
        data, rows = add_info_from_args(data, args)
    except KeyError as exc:
        print(f"info: {exc.args[0]}", file=sys.stderr)
        return 2
    write_table(data, out)
    print(summarize(rows), file=sys.stderr)
    print(f"Saved {len(data)} samples to {out}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyvidfast.opensora.info", description=DESCRIPTION
    )
    return run(_configure(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

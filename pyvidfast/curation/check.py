"""``pyvidfast check``: which videos would ``ffmpeg -v error -i P -f null -`` complain about?

The same verdict as Open-Sora's ``ffmpeg_check_parallel.sh`` (integrity.py says how), computed
in-process on a local process pool or a Ray cluster, journaled as it goes so a killed job resumes
where it stopped, with a per-file timeout and an optional ``P.err`` per file for users who keep
the old ``ffmpeg_filter_without_errors`` step.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence

import pandas as pd

from pyvidfast.curation import engines
from pyvidfast.curation.journal import Journal, file_keys
from pyvidfast.curation.tasks import Task
from pyvidfast.io.storage import add_storage_argument, apply_storage_argument, is_remote
from pyvidfast.opensora.ffmpeg_filter_without_errors import err_file
from pyvidfast.parallel.interrupt import run_command
from pyvidfast.parallel.options import DEFAULT_TIMEOUT, EngineOptions, add_engine_arguments
from pyvidfast.parallel.outputs import (
    OutputError,
    check_writable,
    outputs_ready,
    write_atomically,
    write_text,
)
from pyvidfast.parallel.table import read_table

CHECK_COLUMNS = ["ok", "error_kind", "error", "decoded_frames", "header_frames"]
ERROR_LINES = 3  # lines of the log kept in the ``error`` column

__all__ = ["CHECK_COLUMNS", "DEFAULT_TIMEOUT", "check_files", "err_text", "run_files"]


def err_text(lines: Sequence[str]) -> str:
    """What ``ffmpeg -v error`` writes to ``P.err`` for these log lines (empty: the file is ok).

    Consecutive identical lines are folded the way FFmpeg's log callback folds them.
    """
    out: list[str] = []
    previous, repeats = None, 0
    for line in lines:
        if line == previous:
            repeats += 1
            continue
        if repeats:
            out.append(f"    Last message repeated {repeats} times")
        out.append(line)
        previous, repeats = line, 0
    if repeats:
        out.append(f"    Last message repeated {repeats} times")
    return "".join(f"{line}\n" for line in out)


def write_err_file(path: str, lines: Sequence[str], err_dir: str | None = None) -> None:
    """Write the ``.err`` of ``path`` (``err_file``: ``P.err``, or under ``err_dir``)
    atomically; raises ``OutputError`` when it cannot."""
    write_text(err_file(path, err_dir), err_text(lines))


def check_err_folders(paths: Sequence[str], err_dir: str | None = None) -> None:
    """Raise ``OutputError`` before any work if the ``.err`` files cannot be written: an
    existing video folder that is read-only or, with ``err_dir``, that folder."""
    if err_dir is not None:
        if paths:
            check_writable(err_file(paths[0], err_dir))
        return
    remote = next((p for p in paths if is_remote(p)), None)
    if remote is not None:
        raise OutputError(f"cannot write .err files beside remote videos ({remote}): use --err-dir")
    folders = {os.path.dirname(os.path.abspath(p)): p for p in paths}
    for folder, path in folders.items():
        if os.path.isdir(folder):
            check_writable(err_file(path))


def err_failure_message(failures: dict[str, str]) -> str:
    """One line naming the folders whose ``.err`` files could not be written, and why."""
    folders = Counter((os.path.dirname(os.path.abspath(p)), why) for p, why in failures.items())
    named = ", ".join(f"{f} ({why}, {n} files)" for (f, why), n in folders.most_common(3))
    more = f" and {len(folders) - 3} more folders" if len(folders) > 3 else ""
    return (
        f"could not write {len(failures)} .err files in {named}{more}; "
        "ffmpeg_filter_without_errors drops rows without one; fix and rerun to resume"
    )


def run_files(
    paths: Sequence[str],
    with_info: bool = False,
    *,
    options: EngineOptions | None = None,
    journal: str | None = None,
    progress: bool = True,
    on_result: Callable[[str, dict], None] | None = None,
    desc: str = "check",
    check_paths: set[str] | None = None,
    device: str = "cpu",
) -> dict[str, dict]:
    """Results for every distinct path, from the journal when the file is unchanged since.

    ``with_info`` adds Open-Sora's info row (``result["info"]``); the integrity decode runs for
    the paths in ``check_paths`` (default: all), where ``options`` (default ``EngineOptions()``)
    says. ``on_result(path, result)`` is called once per path (journaled ones first), e.g. to
    write ``.err`` files. Every path gets a result: failures are results, never exceptions.
    """
    unique = list(dict.fromkeys(str(p) for p in paths))

    def wants_check(path: str) -> bool:
        return check_paths is None or path in check_paths

    with Journal(journal) as book:
        results = _journaled(book, unique, with_info, wants_check)
        if on_result is not None:
            for path, result in results.items():
                on_result(path, result)
        todo = [p for p in unique if p not in results]
        keys = file_keys(todo)
        # Largest files first: the slowest decodes start early and the pool ends together.
        todo.sort(key=lambda p: -keys[p][0])
        bar = _progress_bar(len(unique), len(results), desc) if progress else None

        def finished(path: str, result: dict) -> None:
            if on_result is not None:
                on_result(path, result)
            if not transient(result):  # a rerun must read the file again
                book.add(path, result, keys[path])
            results[path] = result
            if bar is not None:
                bar.update(1)

        try:
            o = options or EngineOptions()
            tasks = [Task(p, with_info, o.threads, wants_check(p)) for p in todo]
            engines.run(tasks, finished, o.engine, o.workers, o.timeout, o.address, device=device)
        finally:
            if bar is not None:
                bar.close()
    return results


def transient(result: dict) -> bool:
    """True for a result that says only that a remote read failed (``io``): not journaled."""
    info_error = (result.get("info") or {}).get("info_error") or ""
    return result.get("error_kind") == "io" or info_error.startswith("I/O error")


def _journaled(book: Journal, paths: list[str], with_info: bool, wants_check) -> dict:
    """The journal's results for ``paths`` that hold everything this run asks of them."""
    results = {}
    for path in paths:
        done = book.done(path)
        if (
            done is not None
            and (not with_info or "info" in done)
            and (not wants_check(path) or "ok" in done)
        ):
            results[path] = done
    return results


def _progress_bar(total: int, initial: int, desc: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="file",
        desc=desc,
        file=sys.stderr,
        smoothing=0.05,
        dynamic_ncols=True,
    )


def result_row(result: dict) -> dict:
    """The output columns for one result."""
    lines = result.get("error_lines") or []
    return {
        "ok": bool(result["ok"]),
        "error_kind": result.get("error_kind") or "",
        "error": " | ".join(lines[:ERROR_LINES])[:1000],
        "decoded_frames": int(result.get("decoded_frames") or 0),
        "header_frames": int(result.get("header_frames") or 0),
    }


def check_files(
    paths: Sequence[str | os.PathLike],
    *,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    threads: int = 1,
    journal: str | None = None,
    write_err: bool = False,
    progress: bool = False,
    device: str = "cpu",
    err_dir: str | None = None,
) -> pd.DataFrame:
    """Check every file as ``ffmpeg -v error -i P -f null -`` would, in parallel.

    Returns one row per input path (in order, duplicates included) with ``path``, ``ok`` (True
    exactly when that ffmpeg command prints nothing), ``error_kind`` (missing, unreadable, empty,
    open, no_stream, decoder, demux, decode, no_frames, timestamps, timeout, crash; ``timestamps``
    only when every complaint is the null muxer's dts check), ``error`` (first log lines),
    ``decoded_frames`` and ``header_frames`` (best video stream).

    ``engine``: "local" (process pool of ``workers``, default one per CPU) or "ray" (cluster at
    ``address``). ``timeout``: seconds per file before its decode is killed (None: no limit).
    ``threads``: decoder threads per file. ``journal``: JSONL file that makes the job resumable.
    ``write_err``: also write ``P.err`` beside each file, as the shell script does; raises
    ``OutputError`` before any work when a video folder is read-only, and after the run when any
    ``.err`` could not be written (the verdicts are journaled: a rerun writes the rest).
    ``err_dir``: write the ``.err`` files under that folder instead (``err_file``; implies
    ``write_err``), for read-only video folders or to keep them clean.
    ``device``: "cpu" (FFmpeg decodes everything) or "cuda" (video decoded on NVDEC, see
    ``pyvidfast.curation.gpu``; audio and codecs NVDEC cannot decode stay on the CPU).
    """
    paths = [os.fspath(p) for p in paths]
    err_failures: dict[str, str] = {}
    write_err = write_err or err_dir is not None
    if write_err:
        check_err_folders(paths, err_dir)

    def on_result(path: str, result: dict) -> None:
        if write_err:
            try:
                write_err_file(path, result.get("error_lines") or [], err_dir)
            except OutputError as exc:
                err_failures[path] = getattr(exc.__cause__, "strerror", None) or str(exc)

    results = run_files(
        paths,
        options=EngineOptions(engine, address, workers, timeout, threads),
        journal=journal,
        progress=progress,
        on_result=on_result,
        device=device,
    )
    if err_failures:
        raise OutputError(err_failure_message(err_failures))
    rows = [{"path": p, **result_row(results[p])} for p in paths]
    return pd.DataFrame(rows, columns=["path", *CHECK_COLUMNS])


def summary_lines(table: pd.DataFrame) -> list[str]:
    """``84 files: 66 ok, 18 failed`` and one line per error kind."""
    failed = table[~table["ok"].astype(bool)]
    lines = [f"{len(table)} files: {len(table) - len(failed)} ok, {len(failed)} failed"]
    for kind, n in Counter(failed["error_kind"]).most_common():
        lines.append(f"  {kind:<11} {n}")
    return lines


# ------------------------------------------------------------------------- the command


def read_input(path: str) -> pd.DataFrame:
    """A CSV/Parquet table with a ``path`` column, or a list file with one path per line."""
    if path.lower().endswith((".csv", ".parquet")):
        table = read_table(path)
        if "path" not in table.columns:
            raise ValueError(f"{path}: no 'path' column (columns: {list(table.columns)})")
        return table
    with open(path, encoding="utf-8") as f:
        paths = [line.rstrip("\r\n") for line in f if line.strip()]
    return pd.DataFrame({"path": paths})


def default_output(path: str) -> str:
    root, ext = os.path.splitext(path)
    if ext.lower() not in (".csv", ".parquet"):
        root = path
    return f"{root}_checked.csv"


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``check`` subcommand to the ``pyvidfast`` command."""
    parser = subparsers.add_parser(
        "check",
        help="find videos FFmpeg cannot decode cleanly",
        description="Decode every file the way `ffmpeg -v error -i P -f null -` does (best video "
        "and best audio stream, null-muxer timestamp checks) in-process, and write "
        "the input table plus ok, error_kind, error, decoded_frames, header_frames. A file is "
        "ok exactly when that ffmpeg command would print nothing. Resumable: killed and "
        "rerun, it redoes nothing that finished.",
    )
    parser.add_argument(
        "input",
        help="CSV/Parquet with a 'path' column, or a text file with one path per line "
        "(like the split lists ffmpeg_check_parallel.sh reads)",
    )
    parser.add_argument(
        "-o", "--output", default=None, help="output CSV (default <input>_checked.csv)"
    )
    parser.add_argument(
        "--write-err",
        action="store_true",
        help="also write P.err beside every file with what ffmpeg -v error would print "
        "(empty = ok), for `ffmpeg_filter_without_errors`, as Open-Sora's "
        "ffmpeg_check_parallel.sh does (see --err-dir to keep the video folders clean)",
    )
    parser.add_argument(
        "--err-dir",
        default=None,
        metavar="DIR",
        help="write the .err files under DIR instead of beside the videos "
        "(DIR/<absolute video path>.err; implies --write-err); read them with "
        "`ffmpeg_filter_without_errors --err-dir DIR`",
    )
    add_engine_arguments(parser)
    add_storage_argument(parser)
    parser.add_argument(
        "--device",
        choices=engines.DEVICES,
        default="cpu",
        help="decode video on the CPU (default) or on the GPU's NVDEC engines ('cuda', needs "
        "pyvidfast[gpu]); audio and codecs NVDEC cannot decode are always checked on the CPU",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``pyvidfast check``."""
    apply_storage_argument(args)
    try:
        table = read_input(args.input)
    except (OSError, ValueError) as exc:
        print(f"check: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    output = args.output or default_output(args.input)
    journal = args.journal or output + ".journal.jsonl"
    if not outputs_ready("check", [output, journal], [args.input]):
        return 2
    device = getattr(args, "device", "cpu")
    if device == "cuda":
        from pyvidfast.io.nvdec import NvdecUnavailableError, require_nvdec

        try:
            require_nvdec()  # the check open_video(device="cuda") makes: the same one line
        except NvdecUnavailableError as exc:
            print(f"check: --device cuda: {exc}", file=sys.stderr)
            return 2
    try:
        checked = check_files(
            [str(p) for p in table["path"]],
            **EngineOptions.from_args(args).as_kwargs(),
            journal=journal,
            write_err=args.write_err,
            err_dir=args.err_dir,
            progress=not args.no_progress,
            device=device,
        )
    except OutputError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return 1
    out = table.copy()
    for column in CHECK_COLUMNS:
        out[column] = checked[column].to_numpy()
    write_atomically(output, lambda temp: out.to_csv(temp, index=False))
    for line in summary_lines(checked):
        print(line, file=sys.stderr)
    print(f"Saved {len(out)} rows to {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyvidfast.curation.check")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", *(sys.argv[1:] if argv is None else argv)])
    return run_command("check", args.func, args, resumable=True)


if __name__ == "__main__":
    sys.exit(main())

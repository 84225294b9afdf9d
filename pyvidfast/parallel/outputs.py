"""Outputs are checked before any work and written atomically: all or nothing, never the input.

Every command calls ``check_outputs(outputs, inputs)`` before it reads a video, so a read-only
folder or an output that is one of its inputs costs one line and no work, and writes through
``write_atomically`` (a temporary file in the same folder, then ``os.replace``), so a killed run
never leaves half a table under the final name. ``create_temp`` is the one function that creates
output files: the folder check and every write go through it.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterable

__all__ = [
    "OutputError",
    "check_outputs",
    "check_writable",
    "create_temp",
    "outputs_ready",
    "write_atomically",
    "write_text",
]


class OutputError(OSError):
    """An output cannot be written (read-only folder, full disk, or it is also an input)."""


def _folder(path: str) -> str:
    return os.path.dirname(os.path.abspath(path))


def create_temp(path: str) -> str:
    """Create an empty temporary file in ``path``'s folder and return its name.

    Created with mode 0o666 minus the umask, as ``open(path, "w")`` would, so the final file gets
    the permissions a plain write gives it.
    """
    name = f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    temp = os.path.join(_folder(path), name)
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return temp


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _file_in_the_way(folder: str) -> str | None:
    """The nearest existing ancestor of ``folder`` (itself included) that is not a folder."""
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return None if os.path.isdir(folder) else folder


def check_writable(path: str) -> None:
    """Raise ``OutputError`` unless a file can be created beside ``path`` (folder made if needed)
    and ``path`` is not itself a folder."""
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: Is a directory (give a file name for the output)")
    folder = _folder(path)
    try:
        os.makedirs(folder, exist_ok=True)
        os.unlink(create_temp(path))
    except OSError as exc:
        # makedirs reports a file where a folder should be as "File exists" (EEXIST).
        blocker = _file_in_the_way(folder)
        reason = "Not a directory" if blocker is not None else _reason(exc)
        if blocker is not None and blocker != folder:
            reason += f" ({blocker} is a file)"
        raise OutputError(f"cannot write to {folder}: {reason}") from exc


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Iterable[str], inputs: Iterable[str] = ()) -> None:
    """Raise ``OutputError`` if an output is one of ``inputs`` or its folder is not writable."""
    inputs = [str(p) for p in inputs]
    for output in outputs:
        output = str(output)
        for source in inputs:
            if _same_file(output, source):
                raise OutputError(f"output {output} is also an input; choose another output")
        check_writable(output)


def outputs_ready(prog: str, outputs: Iterable[str], inputs: Iterable[str] = ()) -> bool:
    """``check_outputs`` for a command: False after printing one line on stderr."""
    try:
        check_outputs(outputs, inputs)
    except OutputError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return False
    return True


def write_atomically(path: str, write: Callable[[str], object]) -> str:
    """``write(temp)`` then rename ``temp`` to ``path``; returns ``path``.

    The folder is created if needed. Raises ``OutputError`` when the file cannot be written; then
    ``path`` is untouched and no temporary file is left behind.
    """
    try:
        os.makedirs(_folder(path), exist_ok=True)
        temp = create_temp(path)
    except OSError as exc:
        raise OutputError(f"cannot write to {_folder(path)}: {_reason(exc)}") from exc
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass  # already gone: nothing to clean up
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
        raise
    return path


def write_text(path: str, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically."""

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)

    return write_atomically(path, write)

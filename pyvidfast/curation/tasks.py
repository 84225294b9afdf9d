"""The unit of per-file work that every engine runs: ``Task``, ``run_task`` and ``failure``.

Kept apart from the engines so the CPU and the NVDEC engines share it without importing each
other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from pyvidfast.curation.integrity import CheckResult, check_file

OnResult = Callable[[str, dict], None]


class Task(NamedTuple):
    """One file's work: the integrity decode (``with_check``) and/or Open-Sora's info row
    (``with_info``), in one worker so the file is read once; ``threads`` decoder threads."""

    path: str
    with_info: bool = False
    threads: int = 1
    with_check: bool = True


def failure(kind: str, line: str, with_info: bool) -> dict:
    """A failed result for a file the worker could not finish (timeout, crash, ...)."""
    result = CheckResult.failure(kind, line).as_dict()
    if with_info:
        from pyvidfast.opensora.info import ERROR_COLUMN, INFO_COLUMNS

        result["info"] = dict(zip(INFO_COLUMNS, (0, 0, 0, math.nan, math.nan, math.nan)))
        result["info"][ERROR_COLUMN] = line
    return result


def timed_out(task: Task, timeout: float) -> dict:
    """The failed result of a task killed after ``timeout`` seconds."""
    line = f"{task.path}: no verdict within {timeout:g}s, killed"
    return failure("timeout", line, task.with_info)


def run_task(task: Task) -> dict:
    """One file: the integrity verdict and/or ``info`` (Open-Sora's row), as asked."""
    result: dict[str, Any] = check_file(task.path, threads=task.threads) if task.with_check else {}
    if task.with_info:
        from pyvidfast.opensora.info import video_info

        result["info"] = video_info(task.path)
    return result


def as_result(value: Any, task: Task) -> dict:
    """A worker's return value as a result: an exception it raised becomes a ``crash`` row."""
    if isinstance(value, dict):
        return value
    line = f"{task.path}: checker error: {type(value).__name__}: {value}"[:300]
    return failure("crash", line, task.with_info)

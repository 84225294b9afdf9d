"""Object storage and HTTP through fsspec: ``s3://``, ``gs://``, ``http(s)://`` and every other
protocol fsspec knows, wherever a path goes.

``is_remote(path)`` decides; this module holds what needs no open file (sizes, listings, small
objects, retries, the storage options); ``pyvidfast/io/remote.py`` opens a video as a seekable
file that fetches byte ranges, so the MP4 moov reader, the probe and PyAV read only what they
touch. Credentials and endpoints come the usual way (the
protocol's environment variables, e.g. ``AWS_ENDPOINT_URL`` and ``AWS_ACCESS_KEY_ID``, or a
profile), plus ``--storage-options JSON`` on the commands, passed to fsspec as keyword arguments.
The options travel in the ``PYVIDFAST_STORAGE_OPTIONS`` environment variable so that worker
processes get them too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from pyvidfast.io.errors import RemoteIOError, RemoteNotFoundError

__all__ = [
    "add_storage_argument",
    "apply_storage_argument",
    "exists",
    "find_files",
    "is_remote",
    "read_bytes",
    "remembered_sizes",
    "remote_key",
    "remote_size",
    "resolve",
    "retrying",
    "sizes",
    "storage_options",
    "walk_remote_nals",
]

ENV_OPTIONS = "PYVIDFAST_STORAGE_OPTIONS"
# Tries per range and the first wait between them (doubled each time, at most _MAX_WAIT):
# about 12 s of waiting before a read is given up as an I/O error.
ENV_RETRIES, ENV_BACKOFF = "PYVIDFAST_REMOTE_RETRIES", "PYVIDFAST_REMOTE_BACKOFF"
ENV_TIMEOUT = "PYVIDFAST_REMOTE_TIMEOUT"
ENV_NAL_WALK = "PYVIDFAST_REMOTE_NAL_WALK"  # Note [remote NAL walk] in io/probe.py
_MAX_WAIT = 4.0
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

T = TypeVar("T")


def is_remote(path: object) -> bool:
    """True for ``scheme://...`` strings other than ``file://``."""
    return isinstance(path, str) and bool(_URL.match(path)) and not path.startswith("file://")


def storage_options() -> dict[str, Any]:
    """The fsspec keyword arguments set by ``--storage-options`` (``{}`` when none)."""
    text = os.environ.get(ENV_OPTIONS, "")
    return json.loads(text) if text else {}


def _http_defaults(options: dict[str, Any]) -> dict[str, Any]:
    # aiohttp's default is a 5-minute total timeout: a stalled body would hold a worker that
    # long. A read that stalls for ENV_TIMEOUT seconds is a transient error instead, retried.
    if "client_kwargs" in options:
        return options
    import aiohttp

    timeout = float(os.environ.get(ENV_TIMEOUT, "30"))
    return {**options, "client_kwargs": {"timeout": aiohttp.ClientTimeout(sock_read=timeout)}}


# (pid, protocol, storage options, S3 endpoint) -> fsspec filesystem (fsspec has no types)
_resolved: dict[tuple[int, str, str, str | None], Any] = {}


def resolve(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path within it)`` for ``url``: one filesystem per protocol, process
    (event loops and sessions do not survive fork), storage options and S3 endpoint (botocore
    reads ``AWS_ENDPOINT_URL`` once, when the client is made)."""
    import fsspec

    protocol = url.split("://", 1)[0]
    text = os.environ.get(ENV_OPTIONS, "")
    key = (os.getpid(), protocol, text, os.environ.get("AWS_ENDPOINT_URL"))
    fs = _resolved.get(key)
    if fs is None:
        options = storage_options()
        if protocol in ("http", "https"):
            options = _http_defaults(options)
        fs = fsspec.filesystem(protocol, skip_instance_cache=True, **options)
        _resolved[key] = fs
    return fs, fs._strip_protocol(url) if protocol not in ("http", "https") else url


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> str:
    """``gone`` (404, NoSuchKey), ``fatal`` (retrying cannot help: 403, a bad request) or
    ``transient`` (5xx, 408, 429, resets, timeouts, short bodies, client-side network errors)."""
    if isinstance(exc, FileNotFoundError) or _status(exc) == 404:
        return "gone"
    if isinstance(exc, PermissionError):
        return "fatal"
    status = _status(exc)
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return "fatal"
    network = type(exc).__module__.split(".")[0] in ("aiohttp", "botocore", "aiobotocore")
    if isinstance(exc, (OSError, TimeoutError)) or network:
        return "transient"
    return "fatal"


def describe(exc: BaseException) -> str:
    text = str(exc).split("\n")[0].strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def retrying(url: str, call: Callable[[], T], what: str = "read") -> T:
    """``call()`` retried with exponential backoff while it fails transiently.

    Raises ``RemoteNotFoundError`` at once for a missing object and ``RemoteIOError`` for an
    error retrying cannot fix or once every try failed.
    """
    tries = max(1, int(os.environ.get(ENV_RETRIES, "6")))
    wait = float(os.environ.get(ENV_BACKOFF, "0.2"))
    for attempt in range(tries):
        try:
            return call()
        except (RemoteNotFoundError, RemoteIOError):
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind == "gone":
                raise RemoteNotFoundError(url, "no such object (404 / NoSuchKey)") from exc
            if kind == "fatal" or attempt == tries - 1:
                after = f" after {tries} tries" if kind == "transient" else ""
                raise RemoteIOError(url, f"{what} failed{after}: {describe(exc)}") from exc
        time.sleep(min(_MAX_WAIT, wait * 2**attempt))
    raise AssertionError("unreachable")


def _call(url: str, method: str, **kwargs: Any) -> Any:
    # resolve() inside the retried call: an unknown protocol or a missing s3fs becomes the
    # row's typed error (fatal: not retried), like any other failure to reach the object.
    fs, path = resolve(url)
    return getattr(fs, method)(path, **kwargs)


# Sizes already asked for inside ``remembered_sizes()``: prepare's caption, size and decode
# steps (and the workers it forks) ask for each file's size again; one round trip answers all.
_sizes_seen: dict[str, int] | None = None


@contextmanager
def remembered_sizes() -> Iterator[None]:
    """Within the block (and in processes forked within it) a URL's size is fetched once."""
    global _sizes_seen
    outer = _sizes_seen
    _sizes_seen = {} if outer is None else outer
    try:
        yield
    finally:
        _sizes_seen = outer


def remote_size(url: str) -> int:
    """The object's size in bytes (one HEAD / HeadObject)."""
    if _sizes_seen is not None and url in _sizes_seen:
        return _sizes_seen[url]
    size = retrying(url, lambda: _call(url, "size"), "size")
    if size is None:
        raise RemoteIOError(url, "the server does not say the object's size")
    if _sizes_seen is not None:
        _sizes_seen[url] = int(size)
    return int(size)


def remote_key(url: str) -> tuple[int, int]:
    """``(size, a number that changes when the object is rewritten)`` for the check journal."""
    info = retrying(url, lambda: _call(url, "info"), "info")
    stamp = info.get("ETag") or info.get("etag") or info.get("LastModified") or ""
    return int(info.get("size") or 0), hash(str(stamp)) & 0x7FFFFFFFFFFF


def exists(path: str) -> bool:
    """``os.path.exists`` for local paths and URLs; an unreachable URL raises RemoteIOError."""
    if not is_remote(path):
        return os.path.exists(path)
    return bool(retrying(path, lambda: _call(path, "exists"), "exists"))


def sizes(paths: Iterable[str], threads: int = 16) -> list[float]:
    """File sizes in bytes, NaN for a missing file (local or remote; remote ones in threads, a
    round trip each). An unreachable URL raises RemoteIOError: it is not a missing file."""

    def one(path: str) -> float:
        try:
            return float(remote_size(path) if is_remote(path) else os.path.getsize(path))
        except (OSError, RemoteNotFoundError):
            return float("nan")

    paths = list(paths)
    if not any(is_remote(p) for p in paths):
        return [one(p) for p in paths]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, paths))


def find_files(root: str) -> list[tuple[str, int]]:
    """``(url, size)`` of every object under the ``root`` URL, sorted (one listing)."""
    found = retrying(root, lambda: _call(root, "find", detail=True), "list")
    protocol = root.split("://", 1)[0]
    return [(f"{protocol}://{name}", int(info.get("size") or 0)) for name, info in found.items()]


def read_bytes(url: str) -> bytes:
    """A small object's whole content (captions, meta files), with retries."""
    data: bytes = retrying(url, lambda: _call(url, "cat_file"), "read")
    return data


def walk_remote_nals() -> bool:
    """Whether the probe walks the NAL lengths of remote MP4s (``--remote-nal-walk``)."""
    return os.environ.get(ENV_NAL_WALK, "") == "1"


def add_storage_argument(parser: argparse.ArgumentParser, nal_walk: bool = False) -> None:
    """``--storage-options JSON`` (and, for the commands that probe, ``--remote-nal-walk``)."""
    if nal_walk:
        parser.add_argument(
            "--remote-nal-walk",
            action="store_true",
            help="for s3://, http(s):// MP4s, also walk every sample's NAL lengths as for local "
            "files (reads the whole file; without it a corrupt NAL size inside a remote MP4 is "
            "not seen and the header's frame count is used)",
        )
    parser.add_argument(
        "--storage-options",
        default=None,
        metavar="JSON",
        help="fsspec options for s3://, gs://, http(s):// paths, as a JSON object, e.g. "
        '\'{"endpoint_url": "http://127.0.0.1:9000", "anon": false}\' (credentials and '
        "endpoints also come from the usual environment variables and profiles)",
    )


def apply_storage_argument(args: argparse.Namespace) -> None:
    """Make ``--storage-options`` (and ``--remote-nal-walk``) this process's and its workers'."""
    if getattr(args, "remote_nal_walk", False):
        os.environ[ENV_NAL_WALK] = "1"
    text = getattr(args, "storage_options", None)
    if not text:
        return
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--storage-options is not JSON: {exc}") from None
    if not isinstance(options, dict):
        raise SystemExit("--storage-options must be a JSON object")
    os.environ[ENV_OPTIONS] = json.dumps(options)

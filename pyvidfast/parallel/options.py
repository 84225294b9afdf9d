"""Where and how wide a command fans out: ``EngineOptions`` and the flags that fill it.

``check``, ``prepare`` and the library functions behind them take the same five settings; they
are named, validated and turned into command-line flags here, once.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

ENGINES = ("local", "ray")
DEFAULT_TIMEOUT = 600.0  # seconds per file


@dataclass(frozen=True)
class EngineOptions:
    """``engine``: "local" process pool or "ray" cluster at ``address``; ``workers``: parallel
    items (None: one per CPU); ``timeout``: seconds per item (None: no limit); ``threads``:
    decoder threads per item."""

    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    threads: int = 1

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EngineOptions:
        """The options ``add_engine_arguments`` parsed (``--timeout 0`` means no limit)."""
        return cls(args.engine, args.address, args.workers, args.timeout or None, args.threads)

    def as_kwargs(self) -> dict:
        """``engine=..., address=..., workers=..., timeout=..., threads=...``."""
        return asdict(self)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine --address``: where the work runs (``info`` takes these two alone)."""
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where files are read: 'local' process pool (default) or a 'ray' cluster",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="with --engine ray: the cluster address (a head's HOST:6379, ray://head:10001 or "
        "'auto'); default starts a local Ray instance",
    )


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine --address --workers --threads --timeout --journal --no-progress``."""
    add_cluster_arguments(parser)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel decodes (default: one per CPU locally, the cluster's CPUs on Ray)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="decoder threads per file (default 1, best with one worker per core; raise it "
        "for a few very long videos)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per file before its decode is killed and the row fails with "
        f"error_kind=timeout (default {DEFAULT_TIMEOUT:g}; 0 = no limit)",
    )
    parser.add_argument(
        "--journal",
        default=None,
        help="JSONL journal of finished files (default <output>.journal.jsonl); rerunning "
        "the same command skips every file it lists that has not changed since",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

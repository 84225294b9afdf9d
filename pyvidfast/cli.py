"""The ``pyvidfast`` command.

Each subcommand lives beside the code it drives and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed namespace, returning an exit code). Modules
are imported only when their subcommand is used, so ``pyvidfast --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help). Order is the order shown in --help.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("pyvidfast.curation.demo", "build a small sample dataset and run `prepare` on it"),
    "prepare": ("pyvidfast.curation.prepare", "info + empty-caption + size + integrity, one pass"),
    "info": ("pyvidfast.opensora.info", "add num_frames/height/width/fps columns to a CSV"),
    "check": ("pyvidfast.curation.check", "find videos FFmpeg cannot decode cleanly"),
    "shard": ("pyvidfast.cogvideox.shard", "write WebDataset shards for VideoDataset"),
    "bench": ("pyvidfast.bench.command", "throughput of every loader and checker on your videos"),
    "report": ("pyvidfast.report.command", "one HTML page: what a dataset table holds and dropped"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyvidfast",
        description="Fast video data preparation and loading for text-to-video training.",
    )
    from pyvidfast import __version__

    parser.add_argument("--version", action="version", version=f"pyvidfast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name == wanted:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    from pyvidfast.parallel.interrupt import run_command

    prog = f"pyvidfast {args.command}"
    return run_command(prog, args.func, args, resumable=hasattr(args, "journal"))


if __name__ == "__main__":
    sys.exit(main())

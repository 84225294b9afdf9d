"""``pyvidfast demo``: build a small sample dataset, run ``prepare`` on it, show what happened.

The sample (sample_data.py) has good clips in several codecs and sizes, clips broken the ways
real downloads break, and rows with empty captions. The demo runs the same one-pass ``prepare``
users run on OpenVid-1M or MiraData, prints each row's fate and the step summary, and says
whether every row ended where it was built to end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd

from pyvidfast.curation.prepare import format_steps, output_names, prepare
from pyvidfast.curation.sample_data import make_sample_dataset
from pyvidfast.parallel.interrupt import run_command
from pyvidfast.parallel.outputs import outputs_ready
from pyvidfast.parallel.table import write_table

BIG_MIB = 1.2  # the size limit the demo uses, so one generated clip is "too large"
DEFAULT_FOLDER = "pyvidfast-demo"


def _fate(rows: pd.DataFrame, kept: pd.DataFrame, rejected: pd.DataFrame) -> list[dict]:
    kept_idx = set(kept.index)
    out = []
    for i, row in rows.iterrows():
        if i in kept_idx:
            got, why = "kept", ""
        else:
            r = rejected.loc[i]
            got, why = r["step"], r["reason"]
        out.append(
            {
                "file": os.path.basename(str(row["path"])),
                "what": row["what"],
                "result": "kept" if got == "kept" else f"dropped at {got}",
                "reason": why if len(why) <= 90 else why[:87] + "...",
                "as_built": got == row["expect"],
            }
        )
    return out


def load_batch(kept: pd.DataFrame, sft_dir: str, size: int = 2) -> str:
    """Load a training batch from the kept rows with pyvidfast's CogVideoX ``SFTDataset``.

    The kept clips are linked into the SAT layout (``videos/*.mp4``, ``labels/*.txt``); FFmpeg
    reads each by its content, so a .webm linked as .mp4 loads too. Returns a one-line report.
    """
    try:
        import torch

        from pyvidfast.cogvideox import SFTDataset
    except ImportError as exc:
        return f"\n(CogVideoX batch skipped: {exc})"
    for sub in ("videos", "labels"):
        os.makedirs(os.path.join(sft_dir, sub), exist_ok=True)
    for i, (path, text) in enumerate(zip(kept["path"], kept["text"])):
        stem = f"{i:02d}_{os.path.splitext(os.path.basename(str(path)))[0]}"
        link = os.path.join(sft_dir, "videos", stem + ".mp4")
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(str(path)), link)
        with open(os.path.join(sft_dir, "labels", stem + ".txt"), "w", encoding="utf-8") as f:
            f.write(f"{text}\n")
    dataset = SFTDataset(sft_dir, video_size=[48, 64], fps=8, max_num_frames=5, skip_frms_num=0)
    items, failures = [], []
    for index in range(len(dataset)):
        if len(items) == size:
            break
        try:
            items.append(dataset[index])
        except Exception as exc:  # a clip too short for this sampling, say
            failures.append(f"{os.path.basename(dataset.video_paths[index])}: {exc}")
    if not items:
        return f"\n(CogVideoX batch: no item loaded; {'; '.join(failures[:3])})"
    batch = torch.stack([item["mp4"] for item in items])
    captions = [item["txt"] for item in items]
    return (
        f"\nCogVideoX SFTDataset batch from the kept rows: mp4 {tuple(batch.shape)} "
        f"{batch.dtype} in [{batch.min().item():.2f}, {batch.max().item():.2f}], "
        f"captions {captions}"
    )


def run_demo(folder: str, workers: int | None = None) -> int:
    """Generate the sample into ``folder``, prepare it, print the outcome; 0 if all as built."""
    csv = os.path.join(folder, "dataset.csv")
    kept_path, rejected_path = output_names([csv], f"{BIG_MIB:g}")
    if not outputs_ready("demo", [csv, kept_path, rejected_path]):
        return 2
    t0 = time.perf_counter()
    table = make_sample_dataset(folder, big_mib=BIG_MIB)
    t1 = time.perf_counter()
    print(f"Sample dataset: {len(table)} rows in {csv} (generated in {t1 - t0:.1f}s)")
    data = pd.read_csv(csv)
    result = prepare(
        data, BIG_MIB, workers=workers, journal=kept_path + ".journal.jsonl", progress=False
    )
    write_table(result.kept, kept_path)
    write_table(result.rejected, rejected_path)
    t2 = time.perf_counter()

    fates = _fate(table, result.kept, result.rejected)
    print(f"\n`pyvidfast prepare {csv} --max-size-mb {BIG_MIB:g}` ({t2 - t1:.1f}s):\n")
    width = max(len(f["file"]) for f in fates)
    for f in fates:
        mark = "" if f["as_built"] else "   <-- not what this row was built for"
        print(f"  {f['file']:<{width}}  {f['result']:<24} {f['what']}{mark}")
        if f["reason"]:
            print(f"  {'':<{width}}    {f['reason']}")
    print()
    print(format_steps(result.steps))
    print(f"\nKept {len(result.kept)} of {len(data)} rows -> {kept_path}")
    print(f"Rejected {len(result.rejected)} rows, with step and reason -> {rejected_path}")
    print(load_batch(result.kept, os.path.join(folder, "sft")))
    wrong = [f["file"] for f in fates if not f["as_built"]]
    if wrong:
        print(f"\n{len(wrong)} row(s) did not end where expected: {', '.join(wrong)}")
        return 1
    print("\nEvery row ended where it was built to end.")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``demo`` subcommand to the ``pyvidfast`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="build a small sample dataset and run `prepare` on it",
        description="Generate ~18 short clips (H.264, HEVC, VP9, MPEG-4, AV1; some broken: "
        "truncated, no moov, bit rot, 0 bytes, not a video, missing, bad timestamps; some "
        "captions empty), run the one-pass `prepare` on them and print what was kept and "
        "what was rejected, and why.",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_FOLDER,
        help=f"folder for the sample and the outputs, kept afterwards so the paths printed "
        f"can be opened (default ./{DEFAULT_FOLDER})",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel decodes (default: CPUs)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``pyvidfast demo``."""
    return run_demo(args.out, args.workers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyvidfast.curation.demo")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo", *(sys.argv[1:] if argv is None else argv)])
    return run_command("demo", args.func, args)


if __name__ == "__main__":
    sys.exit(main())

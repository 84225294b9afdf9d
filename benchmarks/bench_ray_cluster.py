"""Do `info`, `check` and `prepare --engine ray` on a real three-node cluster that loses a node
mid-run end with every row once and the local engine's verdicts, and what does the loss cost?

Per command and round (``--repeats``), a fresh cluster: a head and two worker nodes started with
`ray start` on this host (``ray_cluster.LocalCluster``, ``--cpus`` CPUs each). Baseline: the
same command with ``--engine local --workers 2`` (``--num-workers 2`` for info). On the cluster
the command runs twice: intact, then with worker node 2 killed once ``--kill-after`` rows are
journaled (info keeps no journal: at once) and one of its workers is running a task with a file
of the table open, a read in progress (plain info, whose header reads take milliseconds and may
never reach worker 2: once another node reads a file; ``info-exact`` is ``info --exact-frames``,
which decodes) (``NodeKiller``: the raylet and that worker first, then the
node's other processes, all SIGKILL). Rows: every real clip under ``REAL_DIR``, ``--copies``
times as symlinks (one caption in 30 empty, so prepare rejects some before decoding), each path
once. Compared: the output
tables row by row (keyed by path) against the baseline's, the row count and order, and (check,
prepare) that the journal holds each path once. Retried tasks: the driver's own count, from the
line `map_on_ray` logs on stderr (Note [lost nodes] in pyvidfast/parallel/ray_loop.py).

    python benchmarks/bench_ray_cluster.py [--cpus 1] [--kill-after 24] [--copies 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from common import REAL_DIR, print_table, write_results
from ray_cluster import LocalCluster, NodeKiller, file_ids, open_files

# info-exact: `info --exact-frames`, which decodes every video (no RGB) where info reads headers.
COMMANDS = ("info", "info-exact", "check", "prepare")
RESUBMITTED = re.compile(r"ray: (\d+) task\(s\) resubmitted after (\d+) node\(s\)")


def make_dataset(folder: Path, copies: int) -> Path:
    """``dataset.csv``: every real clip ``copies`` times, each copy a symlink of its own (a row,
    a path and a decode of its own), with a caption (one in 30 left empty)."""
    sources = sorted(p for p in REAL_DIR.glob("*/*") if p.suffix not in (".csv", ".md"))
    paths = []
    for k in range(copies):
        (folder / f"copy{k}").mkdir()
        for source in sources:
            link = folder / f"copy{k}" / f"{source.parent.name}__{source.name}"
            link.symlink_to(source)
            paths.append(str(link))
    text = [f"clip {i}" if i % 30 != 7 else "" for i in range(len(paths))]
    table = folder / "dataset.csv"
    pd.DataFrame({"path": paths, "text": text}).to_csv(table, index=False)
    return table


def command_line(command: str, table: Path, out: Path, engine: list[str]) -> list[str]:
    """The CLI call for ``command`` writing under ``out``, and the tables it writes."""
    name = command.split("-")[0]
    base = [sys.executable, "-m", "pyvidfast", name, str(table), "--no-progress", *engine]
    if name == "info":
        exact = ["--exact-frames"] if command == "info-exact" else []
        return [*base, *exact, "--info-errors", "--output", str(out / "info.csv")]
    if command == "check":
        return [*base, "-o", str(out / "checked.csv")]
    return [*base, "--max-size-mb", "2", "--output-dir", str(out)]


def outputs(command: str, out: Path) -> dict[str, pd.DataFrame]:
    if command.startswith("info"):
        return {"info": pd.read_csv(out / "info.csv")}
    if command == "check":
        return {"checked": pd.read_csv(out / "checked.csv")}
    return {
        "kept": pd.read_csv(next(out.glob("*_withouterror.csv"))),
        "rejected": pd.read_csv(next(out.glob("*_rejected.csv"))),
    }


def journal_counts(out: Path) -> Counter:
    """Entries per path in the run's journal (empty for info, which keeps none)."""
    counts: Counter = Counter()
    for journal in out.glob("*.journal.jsonl"):
        for line in journal.read_text().splitlines():
            counts[json.loads(line)["path"]] += 1
    return counts


def journal_rows(out: Path) -> int:
    total = 0
    for journal in out.glob("*.journal.jsonl"):
        with open(journal, "rb") as f:
            total += f.read().count(b"\n")
    return total


def run(command: str, table: Path, out: Path, engine: list[str], killer=None) -> dict:
    """One CLI run: wall time, its outputs, stderr, and what the node killer did."""
    out.mkdir(parents=True)
    t0 = time.monotonic()
    proc = subprocess.run(command_line(command, table, out, engine), capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if killer is not None:
        killer.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{command} {engine} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    found = RESUBMITTED.search(proc.stderr)
    return {
        "seconds": round(seconds, 2),
        "tables": outputs(command, out),
        "journal": journal_counts(out),
        "retried_tasks": int(found.group(1)) if found else 0,
        "lost_nodes": int(found.group(2)) if found else 0,
        "stderr_ray_lines": [line for line in proc.stderr.splitlines() if "ray:" in line],
        "stderr_tail": proc.stderr[-3000:],
        "kill": None
        if killer is None
        else {
            "after_seconds": round(killer.at - t0, 2) if killer.at else None,
            "rows_journaled_before": killer.rows_seen,
            "busy_workers": {str(k): v for k, v in killer.busy.items()},
            "killed_pids": {str(k): v for k, v in killer.killed.items()},
        },
    }


def differences(got: pd.DataFrame, expected: pd.DataFrame) -> list[dict]:
    """Rows (keyed by path, each path once in these tables) that differ or are only in one table:
    ``{"path", "column", "local", "ray"}`` for each differing cell."""
    found = []
    got_rows = {r["path"]: r for r in got.to_dict("records")}
    want_rows = {r["path"]: r for r in expected.to_dict("records")}
    for path in dict.fromkeys([*want_rows, *got_rows]):
        a, b = want_rows.get(path), got_rows.get(path)
        if a is None or b is None:
            found.append(
                {"path": path, "column": None, "local": a is not None, "ray": b is not None}
            )
            continue
        for column in dict.fromkeys([*a, *b]):
            x, y = a.get(column), b.get(column)
            if not (x == y or (pd.isna(x) and pd.isna(y))):
                found.append({"path": path, "column": column, "local": x, "ray": y})
    return found


def compare(candidate: dict, baseline: dict, table: pd.DataFrame) -> dict:
    """Differing rows against the baseline; every row once, in order."""
    diffs = []
    for name, expected in baseline["tables"].items():
        diffs += [{"table": name, **d} for d in differences(candidate["tables"][name], expected)]
    first = next(iter(candidate["tables"].values()))
    journal = candidate["journal"]
    return {
        "differing_rows": len({(d["table"], d["path"]) for d in diffs}),
        "differences": diffs[:20],
        "rows_out": sum(len(t) for t in candidate["tables"].values()),
        "rows_in": len(table),
        "paths_in_order": command_is_ordered(first, table),
        "journal_paths": len(journal),
        "journal_duplicates": sum(n - 1 for n in journal.values()),
    }


def command_is_ordered(first: pd.DataFrame, table: pd.DataFrame) -> bool | None:
    """Whether the first output keeps the input's paths in order (prepare's kept table is a
    subset, checked for order only)."""
    got = list(first["path"])
    want = [p for p in table["path"] if p in set(got)]
    return got == want


def one_round(command: str, table: Path, work: Path, args) -> dict:
    """Local baseline, then a fresh cluster: the command intact, then with worker 2 killed."""
    data = pd.read_csv(table)
    info = command.startswith("info")
    workers = ["--num-workers", "2"] if info else ["--workers", "2"]
    local = run(command, table, work / "local", ["--engine", "local", *workers])
    cluster = LocalCluster(workers=2, cpus=args.cpus)
    t0 = time.monotonic()
    with cluster:
        start_s = time.monotonic() - t0
        nodes = node_report(cluster.address)
        engine = ["--engine", "ray", "--address", cluster.address]
        intact = run(command, table, work / "ray", engine)
        out = work / "ray-kill"
        after = None if info else args.kill_after
        reading = [os.path.realpath(p) for p in data["path"]]  # what a worker's fd links show
        killer = start_killer(cluster, out, after, reading, command == "info")
        killed = run(command, table, out, engine, killer)
    result = {"cluster_start_s": round(start_s, 2), "nodes": nodes, "local_s": local["seconds"]}
    for name, candidate in (("ray_intact", intact), ("ray_node_killed", killed)):
        tables = candidate.pop("tables")
        result[name] = {**candidate, "journal": None}
        result[name]["vs_local"] = compare({**candidate, "tables": tables}, local, data)
        if not result[name]["vs_local"]["differing_rows"]:
            del result[name]["stderr_tail"]  # kept only where it may explain a difference
        else:
            result["local_stderr_tail"] = local["stderr_tail"]
    return result


def one_command(command: str, table: Path, work: Path, args) -> dict:
    rounds = [one_round(command, table, work / f"{command}-{r}", args) for r in range(args.repeats)]

    def median(key: str, sub: str | None = None) -> float:
        return statistics.median(r[key][sub] if sub else r[key] for r in rounds)

    killed = [r["ray_node_killed"] for r in rounds]
    return {
        "command": command,
        "median_local_s": median("local_s"),
        "median_ray_intact_s": median("ray_intact", "seconds"),
        "median_ray_node_killed_s": median("ray_node_killed", "seconds"),
        "rounds_with_a_kill": sum(1 for k in killed if k["kill"]["killed_pids"]),
        "retried_tasks": [k["retried_tasks"] for k in killed],
        "differing_rows_intact": sum(r["ray_intact"]["vs_local"]["differing_rows"] for r in rounds),
        "differing_rows_killed": sum(k["vs_local"]["differing_rows"] for k in killed),
        "rows_out_killed": [k["vs_local"]["rows_out"] for k in killed],
        "journal_duplicates_killed": sum(k["vs_local"]["journal_duplicates"] for k in killed),
        "rounds": rounds,
    }


def start_killer(
    cluster: LocalCluster, out: Path, after: int | None, paths: list[str], headers: bool
):
    """A started ``NodeKiller`` for worker node 2, ready once ``after`` rows are journaled under
    ``out`` (None: at once), firing while a worker there has one of ``paths`` open;
    ``killer.rows_seen`` is the count read just before the kill. ``headers`` (plain info, whose
    tasks take milliseconds and may never reach worker 2): fire once the head or worker 1 reads
    one of ``paths``, worker 2 busy or not."""
    others = [cluster.node("head"), cluster.node("worker1")]
    ids = file_ids(paths)

    def reading_elsewhere() -> bool:
        busy = [pid for node in others for pid in node.busy_workers()]
        return any(ids & open_files(pid) for pid in busy)

    def ready() -> bool:
        if headers:
            return reading_elsewhere()
        if after is None:
            return True
        killer.rows_seen = journal_rows(out)
        return killer.rows_seen >= after

    killer = NodeKiller(cluster, "worker2", ready, reading=paths, require_task=not headers)
    killer.rows_seen = None
    killer.start()
    return killer


def node_report(address: str) -> list[dict]:
    """Each node's id, CPUs and the pyvidfast its task workers import (a task pinned to it)."""
    code = (
        "import json, ray\n"
        "from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as A\n"
        f"ray.init(address={address!r}, log_to_driver=False)\n"
        "import time\n"
        "while sum(n['Alive'] for n in ray.nodes()) < 3: time.sleep(0.2)\n"
        "@ray.remote(num_cpus=0)\n"
        "def where():\n"
        "    import os, pyvidfast\n"
        "    return pyvidfast.__file__, os.getpid()\n"
        "nodes = [n for n in ray.nodes() if n['Alive']]\n"
        "refs = [where.options(scheduling_strategy=A(n['NodeID'], soft=False)).remote() "
        "for n in nodes]\n"
        "print(json.dumps([{'node_id': n['NodeID'], 'node_manager_port': n['NodeManagerPort'], "
        "'cpus': n['Resources'].get('CPU', 0), 'pyvidfast': f, 'worker_pid': p} "
        "for n, (f, p) in zip(nodes, ray.get(refs))]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"cluster check failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=1, help="CPUs each node offers Ray")
    parser.add_argument("--kill-after", type=int, default=24, help="journaled rows before the kill")
    parser.add_argument("--copies", type=int, default=3, help="rows per real clip (symlinks)")
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--repeats", type=int, default=3, help="rounds per command")
    parser.add_argument("--out", default="bench_ray_cluster")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="pvf-raybench") as tmp:
        work = Path(tmp)
        table = make_dataset(work, args.copies)
        n_rows = len(pd.read_csv(table))
        for command in args.commands.split(","):
            results.append(one_command(command, table, work, args))
            print(f"{command}: done", file=sys.stderr, flush=True)
    path = write_results(
        args.out,
        {
            "question": __doc__.splitlines()[0],
            "rows": n_rows,
            "nodes": "head + 2 workers, `ray start` on 127.0.0.1",
            "cpus_per_node": args.cpus,
            "kill_after_rows": args.kill_after,
            "copies": args.copies,
            "recovered_by": "the driver resubmitting the tasks of the lost node (map_on_ray, Note "
            "[lost nodes]); Ray's own task retries are off (max_retries=0) and the journal is not "
            "needed, the driver lives on the head",
            "repeats": args.repeats,
            "results": results,
        },
    )
    print(f"wrote {path}")
    table_rows = []
    for r in results:
        table_rows.append(
            {
                "command": r["command"],
                "local_s": r["median_local_s"],
                "ray_s": r["median_ray_intact_s"],
                "ray_killed_s": r["median_ray_node_killed_s"],
                "killed/intact": f"{r['median_ray_node_killed_s'] / r['median_ray_intact_s']:.2f}",
                "killed": f"{r['rounds_with_a_kill']}/{len(r['rounds'])}",
                "retried": "/".join(str(n) for n in r["retried_tasks"]),
                "rows": "/".join(str(n) for n in r["rows_out_killed"]) + f" of {n_rows}",
                "diff_rows": f"{r['differing_rows_intact']}/{r['differing_rows_killed']}",
                "journal_dups": r["journal_duplicates_killed"],
            }
        )
    print_table(table_rows, list(table_rows[0]))


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    main()

"""A real Ray cluster on this machine: a head and worker nodes started with ``ray start``.

Several nodes share one host when each has its own ports (GCS on the head; node manager, object
manager, metrics, dashboard agent, runtime-env agent and a worker port range on every node) and
the head's ``--temp-dir`` (the workers find it through the GCS). Each ``ray start`` runs in a
session of its own (``setsid``), so a node's daemons (raylet, agents, log monitor) can be found
and killed by their session id; Ray's task workers put themselves in their own process groups,
so they are found as the raylet's descendants instead. ``kill_node`` SIGKILLs both: the node
vanishes the way a lost machine does. ``stop`` does the same for every node and never calls
``ray stop``, which would also end other users' Ray processes on a shared host.

Used by ``bench_ray_cluster.py`` and ``tests/test_ray_cluster.py``.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# Ray 2.5x turns token authentication on for a head when ~/.ray/auth_token exists, which any
# local ray.init() on the host creates, but a worker node's `ray start` does not send it. The
# mode is set explicitly for every node; the cluster is for this host's tests and benchmarks.
NODE_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
IDLE_TITLES = ("ray::IDLE", "ray::DashboardAgent", "ray::RuntimeEnvAgent")
PORTS_PER_NODE = 100  # 10 service ports, then 50 worker ports
START_TIMEOUT = 120.0  # seconds for one `ray start` on a loaded 2-core machine


def _proc_stat(pid: int) -> tuple[int, int, str] | None:
    """``(ppid, session id, state)`` of ``pid`` from /proc, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[3]), fields[0]


def _all_pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_base(nodes: int) -> int:
    """A base port whose ``nodes`` blocks of ``PORTS_PER_NODE`` have their service ports free
    (random, so parallel runs rarely meet)."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - nodes * PORTS_PER_NODE, 100)
        starts = range(base, base + nodes * PORTS_PER_NODE, PORTS_PER_NODE)
        if all(_free(p) for start in starts for p in range(start, start + 10)):
            return base
    raise RuntimeError("no free port range found for the Ray cluster")


@dataclass
class Node:
    """One ``ray start``: its session id (the ``setsid`` process) and node-manager port."""

    name: str
    sid: int
    node_manager_port: int
    _raylet: int | None = None

    def raylet_pid(self) -> int | None:
        if self._raylet is not None and _proc_stat(self._raylet) is not None:
            return self._raylet
        flag = f"--node_manager_port={self.node_manager_port}".encode()
        for pid in _all_pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if flag in args and args[0].endswith(b"raylet"):
                self._raylet = pid
                return pid
        return None

    def busy_workers(self) -> dict[int, str]:
        """The raylet's children running a task now (pid -> title): Ray titles a task worker
        ``ray::<function>`` while it runs one and ``ray::IDLE`` between tasks."""
        raylet = self.raylet_pid()
        if raylet is None:
            return {}
        busy = {}
        for children in glob.glob(f"/proc/{raylet}/task/*/children"):
            try:
                pids = [int(p) for p in open(children).read().split()]
            except OSError:
                continue
            for pid in pids:
                title = _comm(pid)
                if title.startswith("ray::") and title not in IDLE_TITLES:
                    busy[pid] = title
        return busy

    def pids(self) -> dict[int, str]:
        """Every live process of this node (pid -> command name): its session's daemons and the
        raylet's descendants (task workers, agents)."""
        stats = {pid: _proc_stat(pid) for pid in _all_pids()}
        stats = {pid: s for pid, s in stats.items() if s is not None and s[2] not in "ZX"}
        found = {pid for pid, s in stats.items() if s[1] == self.sid}
        raylet = self.raylet_pid()
        if raylet is not None:
            found.add(raylet)
            grew = True
            while grew:
                kids = {pid for pid, s in stats.items() if s[0] in found} - found
                found |= kids
                grew = bool(kids)
        return {pid: _comm(pid) for pid in sorted(found)}


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return "?"
    first = args[0].decode(errors="replace")
    if first.startswith("ray::"):
        return first
    script = next((a.decode() for a in args[1:3] if a.endswith(b".py")), "")
    return os.path.basename(script or first)


@dataclass
class LocalCluster:
    """``LocalCluster(workers=2)``: head + 2 worker nodes of ``cpus`` CPUs each (head included).

    The nodes inherit this process's environment (``PYTHONPATH`` included), so their task
    workers import the pyvidfast the driver imports.
    """

    workers: int = 2
    cpus: int = 1
    object_store_bytes: int = 100_000_000
    nodes: list[Node] = field(default_factory=list)
    temp_dir: str = ""
    port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ports(self, base: int) -> list[str]:
        names = [
            "--node-manager-port",
            "--object-manager-port",
            "--metrics-export-port",
            "--dashboard-agent-listen-port",
            "--dashboard-agent-grpc-port",
            "--runtime-env-agent-port",
        ]
        flags = [f"{n}={base + 1 + i}" for i, n in enumerate(names)]
        return [*flags, f"--min-worker-port={base + 10}", f"--max-worker-port={base + 59}"]

    def _start(self, name: str, base: int, extra: list[str], cpus: int) -> None:
        ray = os.path.join(os.path.dirname(sys.executable), "ray")
        command = [ray if os.path.exists(ray) else "ray", "start", "--node-ip-address=127.0.0.1"]
        command += [f"--num-cpus={cpus}", f"--object-store-memory={self.object_store_bytes}"]
        command += ["--disable-usage-stats", *self._ports(base), *extra]
        env = {**os.environ, **NODE_ENV}
        with open(os.path.join(self.temp_dir, f"{name}.log"), "w") as log:
            proc = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.nodes.append(Node(name, proc.pid, base + 1))
            code = proc.wait(START_TIMEOUT)
        if code != 0:
            text = open(log.name).read()[-2000:]
            raise RuntimeError(f"`ray start` for {name} failed ({code}):\n{text}")

    def start(self, attempts: int = 2) -> LocalCluster:
        """Start the head, then each worker node; on failure everything started is killed and,
        ``attempts`` times in all, started again on other ports (a head on a loaded 2-core host
        can miss its GCS deadline)."""
        for attempt in range(attempts):
            try:
                return self._start_all()
            except BaseException:
                self.stop()
                self.nodes = []
                if attempt == attempts - 1:
                    raise
        return self

    def _start_all(self) -> LocalCluster:
        # Short: the raylet's socket paths live under it and must stay under 108 bytes.
        self.temp_dir = tempfile.mkdtemp(prefix="pvfray", dir="/tmp")
        base = _free_base(self.workers + 1)
        self.port = base
        head = ["--head", f"--port={base}", "--include-dashboard=false"]
        head += [f"--dashboard-port={base + 7}", f"--temp-dir={self.temp_dir}"]
        self._start("head", base, head, self.cpus)
        for k in range(self.workers):
            node_base = base + PORTS_PER_NODE * (k + 1)
            self._start(f"worker{k + 1}", node_base, [f"--address={self.address}"], self.cpus)
        return self

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def kill_node(self, name: str, first: dict[int, str] | None = None) -> dict[int, str]:
        """SIGKILL every process of node ``name`` (``first``, e.g. its busy workers, before the
        search for the rest); returns what was killed (pid -> name)."""
        victims = dict(first or {})
        _kill(victims)
        rest = self.node(name).pids()
        _kill(rest)
        return {**rest, **victims}

    def stop(self) -> None:
        """Kill every node (workers first, head last) and remove the temp dir."""
        for node in reversed(self.nodes):
            for _ in range(3):  # a dying raylet may still spawn a worker: look again
                if not self.kill_node(node.name):
                    break
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def file_ids(paths: Iterable[str]) -> set[tuple[int, int]]:
    """(device, inode) of each path that exists: what ``open_files`` compares against."""
    found = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.add((st.st_dev, st.st_ino))
    return found


def open_files(pid: int) -> set[tuple[int, int]]:
    """(device, inode) of the files process ``pid`` has open (its /proc fd links, followed). By
    identity, not by path: a checkout reached through a symlink or a bind mount shows a fd link
    path other than the one the worker was given."""
    found = set()
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            st = os.stat(fd)
        except OSError:
            continue  # closed while we looked
        found.add((st.st_dev, st.st_ino))
    return found


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # exited on its own meanwhile


class NodeKiller(threading.Thread):
    """Kills a node in the middle of a run, at a state rather than after a guessed sleep: once
    ``ready()`` (e.g. N rows journaled) and one of the node's workers is running a task (with one
    of the files ``reading`` open, if given: a decode in progress; ``require_task=False``: at
    ``ready()`` alone). The raylet and that worker
    are killed first, then every other process of the node."""

    def __init__(
        self,
        cluster: LocalCluster,
        name: str,
        ready: Callable[[], bool],
        reading: Sequence[str] = (),
        require_task: bool = True,
    ) -> None:
        super().__init__(name=f"kill-{name}", daemon=True)
        self.cluster, self.node_name, self.ready = cluster, name, ready
        self.reading, self.require_task = file_ids(reading), require_task
        self.done = threading.Event()
        self.busy: dict[int, str] = {}  # the workers that were running a task
        self.killed: dict[int, str] = {}
        self.at = 0.0  # time.monotonic() of the kill

    def run(self) -> None:
        node = self.cluster.node(self.node_name)
        while not self.done.is_set():
            if self.ready():
                busy = node.busy_workers()
                if self.reading:  # only a worker with one of these files open counts
                    busy = {p: t for p, t in busy.items() if self.reading & open_files(p)}
                if busy or not self.require_task:
                    raylet = node.raylet_pid()
                    # The raylet first: a lost machine's raylet is gone when the driver asks
                    # it why the worker died (a live raylet reports a WorkerCrashedError).
                    first = {raylet: "raylet", **busy} if raylet else busy
                    self.at = time.monotonic()
                    self.killed = self.cluster.kill_node(self.node_name, first)
                    self.busy = busy
                    return
            time.sleep(0.002)

    def stop(self) -> None:
        self.done.set()
        self.join()

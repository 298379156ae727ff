"""A multi-node Ray cluster on one machine, loopback only: for tests, benchmarks and trying a cluster out.

Each node is a separate ``ray start --block`` process in its own session, with its own temp
dir and CPU count; ``HOME`` points into the cluster's root dir, token auth is off and every process keeps to
127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``). Stopping ends exactly the processes each node started
(its session), never other Ray processes on the machine, which ``ray stop`` would.

One wrinkle of Ray 2.60: its CLI refuses to add a node when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` ("multi-node
clusters are not supported on Windows and OSX"), and without that variable it rewrites ``127.0.0.1`` to the
machine's external IP (ray-project/ray#59110), so the node would listen on all interfaces. The nodes therefore run
Ray's own CLI through ``NODE_CLI``, which lifts only that refusal for the CLI itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from agents.experience.ray_session import LOCAL_ENV

NODE_CLI = (
    "import sys, types\n"
    "import ray._private.ray_constants as constants\n"
    "import ray.scripts.scripts as cli\n"
    "view = types.ModuleType('ray_constants')\n"
    "view.__dict__.update(vars(constants))\n"
    "view.ENABLE_RAY_CLUSTER = True  # the CLI's own check only; address resolution keeps 127.0.0.1\n"
    "cli.ray_constants = view\n"
    "sys.argv[0] = 'ray'\n"
    "sys.exit(cli.main())\n"
)
"""``python -c NODE_CLI start ...`` = ``ray start ...`` that may add a node to a loopback-only cluster."""

STARTED = "Ray runtime started."
"""What ``ray start`` prints once its node's processes are up."""


class ClusterError(RuntimeError):
    """A node did not come up; the message quotes the end of its log."""


@dataclass
class LocalRayNode:
    """One ``ray start --block`` process (and, in its session, everything it started)."""

    name: str
    process: subprocess.Popen
    log: Path
    temp_dir: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole node at once, as a machine failure would (its raylet, workers, everything)."""
        _kill_session(self.process.pid)
        self.process.wait()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask ``ray start`` to stop its node (SIGTERM), then SIGKILL whatever of its session is left."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            # Wait for the exit without reaping it: until it is reaped its PID (the session's id) cannot be reused.
            while not _exited(self.process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        _kill_session(self.process.pid)
        self.process.wait()


@dataclass
class LocalRayCluster:
    """A head node and worker nodes, each a separate process tree, on 127.0.0.1 only.

    Args:
        root: directory for the nodes' console logs and ``HOME`` (created; nothing goes to the real home). Each
            node's Ray temp dir (session files, Ray's logs) is a short ``/tmp/tfpg-ray-*`` dir, removed on stop.
        head_cpus: CPUs the head node offers to tasks and actors.
        node_cpus: one entry per extra node: the CPUs it offers.
        object_store_mb: each node's object store (rollouts and weights pass through it); Ray's minimum is 75.
        extra_env: more environment for every node (e.g. shorter health checks, so a lost node is noticed fast).
    """

    root: Path
    head_cpus: int = 1
    node_cpus: tuple[int, ...] = (1,)
    object_store_mb: int = 100
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[LocalRayNode] = field(default_factory=list)
    port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment a process needs to join this cluster (the nodes run with it too)."""
        return {**os.environ, "HOME": str(self.root / "home"), **LOCAL_ENV, **self.extra_env}

    def start(self, timeout_s: float = 180.0) -> str:
        """Start the head, then each node in turn; returns the address to pass as ``--ray-address``."""
        self.root = Path(self.root)
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        try:
            head = ["--head", "--port", str(self.port), "--include-dashboard", "false"]
            self._start_node("head", [*head, "--num-cpus", str(self.head_cpus)], timeout_s)
            for i, cpus in enumerate(self.node_cpus, start=1):
                self._start_node(f"node{i}", ["--address", self.address, "--num-cpus", str(cpus)], timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.address

    def _start_node(self, name: str, args: list[str], timeout_s: float) -> LocalRayNode:
        # Ray's socket paths live under the temp dir and may not exceed 107 bytes: keep it short, in /tmp.
        temp_dir, log = Path(tempfile.mkdtemp(prefix=f"tfpg-ray-{name}-")), self.root / f"{name}.log"
        command = [sys.executable, "-c", NODE_CLI, "start", "--block", *args, "--temp-dir", str(temp_dir),
                   "--object-store-memory", str(self.object_store_mb * 2**20), "--disable-usage-stats"]  # fmt: skip
        with open(log, "w") as out:  # the child keeps its own handle
            process = subprocess.Popen(command, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        node = LocalRayNode(name, process, log, temp_dir)
        self.nodes.append(node)
        deadline = time.monotonic() + timeout_s
        while STARTED not in log.read_text():
            if not node.alive() or time.monotonic() > deadline:
                tail = "\n".join(log.read_text().splitlines()[-15:])
                raise ClusterError(f"Ray node {name} did not start ({' '.join(args)}); its log ends:\n{tail}")
            time.sleep(0.2)
        return node

    def kill_node(self, name: str) -> None:
        """SIGKILL one node's whole process tree (the head too, if asked)."""
        next(node for node in self.nodes if node.name == name).kill()

    def stop(self) -> None:
        """Stop every node, workers first, head last; afterwards none of their processes is left."""
        for node in reversed(self.nodes):
            node.stop()
            shutil.rmtree(node.temp_dir, ignore_errors=True)  # session files and Ray's own logs

    def __enter__(self) -> LocalRayCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def session_processes(sid: int) -> list[int]:
    """PIDs in session ``sid`` (read from /proc, so no process is signalled to find them).

    A node's processes share the session its ``ray start`` opened, but not one process group: Ray puts each
    worker process in a group of its own.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session ...
            if int(fields[3]) == sid:
                pids.append(int(entry.name))
    return pids


def _exited(pid: int) -> bool:
    """Has child ``pid`` exited? (Without reaping it.)"""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` (again, until none is left: a dying raylet may still fork)."""
    for _ in range(50):
        pids = session_processes(sid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # gone already
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

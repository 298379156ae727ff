"""Many training runs at once across a Ray cluster: each ``train_agent.py`` run is one Ray task.

Studies (``benchmarks/benchmark.py --backend ray``; a tuning script can pass its trials the same way) hand
``run_on_ray`` a list of ``RunRequest`` (a run name and its ``train_agent.py`` arguments). Each task runs on
whichever node Ray picks (``cpus_per_run`` CPUs reserved, runs spread over the nodes), in a node-local temp
dir, and returns the finished run directory and its console log as one tar archive; the driver unpacks it into
``logdir/NAME`` and ``logdir/NAME.log``. So a node needs the same tfpg installed (``pip install -e .`` of the
same commit) but no shared filesystem, and nothing depends on the driver's paths: the task finds
``train_agent.py`` beside the ``agents`` package it imports on its own node.

Failures: a task whose node or worker process dies is run again from scratch by Ray (``max_retries``); a run
that exits non-zero or times out comes back with its exit code, its log and an ``error``, never an exception.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.experience.ray_session import ray_connection


@dataclass(frozen=True)
class RunRequest:
    """One training run to do somewhere on the cluster.

    Attributes:
        name: the run directory's name under ``logdir`` (unique within one call).
        args: ``train_agent.py`` arguments, without ``--logdir``/``--run-name``/``--no-progress`` (added here).
        env: extra environment variables for the run (e.g. thread counts).
        timeout_s: seconds before the run is killed and reported as timed out (None: no limit).
    """

    name: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None


@dataclass
class RunResult:
    """What came back for one request. ``error`` is None exactly when the run finished with exit code 0."""

    name: str
    run_dir: Path | None
    returncode: int | None = None
    node: str | None = None
    error: str | None = None


def run_remote(request: RunRequest) -> dict:
    """Body of the Ray task, on the node that runs it: train into a temp dir, return it as a tar archive."""
    import agents

    root = Path(agents.__file__).resolve().parents[1]  # this node's tfpg checkout
    with tempfile.TemporaryDirectory(prefix="tfpg-run-") as tmp:
        log = Path(tmp) / f"{request.name}.log"
        command = [sys.executable, str(root / "scripts" / "train_agent.py"), *request.args,
                   "--logdir", tmp, "--run-name", request.name, "--no-progress"]  # fmt: skip
        returncode: int | None
        with open(log, "w") as out:
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=root,
                                      env={**os.environ, **request.env}, timeout=request.timeout_s)  # fmt: skip
                returncode = done.returncode
            except subprocess.TimeoutExpired:
                returncode = None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in (Path(tmp) / request.name, log):
                if path.exists():
                    archive.add(path, arcname=path.name)
    return {"returncode": returncode, "archive": buffer.getvalue(), "node": _node_id()}


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside Ray (a direct call in tests)
        return None


def unpack(name: str, archive: bytes, logdir: Path) -> Path | None:
    """Write a task's archive into ``logdir``: the run dir ``logdir/NAME`` (replacing nothing) and NAME.log."""
    run_dir = logdir / name
    if run_dir.exists() and not any(run_dir.iterdir()):
        run_dir.rmdir()  # an empty leftover is not a run
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = tar.getmembers()
        if any(m.name.split("/", 1)[0] not in (name, f"{name}.log") for m in members):
            raise ValueError(f"archive of run {name} holds unexpected paths")
        if run_dir.exists() and any(m.name.split("/", 1)[0] == name for m in members):
            raise FileExistsError(
                f"{run_dir} already exists; not overwriting it with the run from the cluster"
            )
        tar.extractall(logdir, filter="data")  # "data": no absolute paths, links out or device files
    return run_dir if run_dir.exists() else None


def run_on_ray(
    requests: Sequence[RunRequest],
    logdir: Path,
    address: str | None = None,
    cpus_per_run: float = 1,
    max_retries: int = 2,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every request as a Ray task (joining ``address``, or a local Ray); results in request order.

    Args:
        requests: the runs; their names must be unique.
        logdir: where each finished run directory (and its ``NAME.log``) is written, on this machine.
        address: Ray cluster to join (None: ``RAY_ADDRESS``, else a local loopback-only Ray).
        cpus_per_run: CPUs Ray reserves per run (so at most CPUs / cpus_per_run runs at once per node).
        max_retries: times Ray reruns a task whose node or worker died (a run's own failure is not retried).
        on_result: called with each result as it arrives (progress printing).
    """
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must be unique, got {names}")
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, RunResult] = {}
    with ray_connection(address):
        import ray

        task = ray.remote(num_cpus=cpus_per_run, max_retries=max_retries, scheduling_strategy="SPREAD")(
            run_remote
        )
        pending = {task.remote(request): request for request in requests}
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            request = pending.pop(ref)
            result = _receive(ray, ref, request, logdir, max_retries)
            results[request.name] = result
            if on_result:
                on_result(result)
    return [results[name] for name in names]


def _receive(ray, ref, request: RunRequest, logdir: Path, max_retries: int) -> RunResult:
    try:
        out = ray.get(ref)
    except ray.exceptions.RayError as err:  # node or worker lost more than max_retries times, or a Ray error
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        return RunResult(request.name, None, error=f"lost on the cluster after {max_retries} retries: "
                         f"{type(err).__name__}: {reason}")  # fmt: skip
    try:
        run_dir = unpack(request.name, out["archive"], logdir)
    except (OSError, ValueError, tarfile.TarError) as err:
        return RunResult(
            request.name, None, out["returncode"], out["node"], f"could not unpack the run: {err}"
        )
    code, log = out["returncode"], logdir / f"{request.name}.log"
    if code == 0:
        return RunResult(request.name, run_dir, code, out["node"])
    if code is None:
        return RunResult(request.name, run_dir, None, out["node"], f"timed out after {request.timeout_s:.0f} s "
                         f"(log: {log})")  # fmt: skip
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()] if log.exists() else []
    last = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
    return RunResult(
        request.name, run_dir, code, out["node"], f"exit {code}: {last.strip()[:200]} (log: {log})"
    )

"""Ray backend end to end: two workers learn CartPole within the in-process budget, surviving a killed worker.

Marked slow (not in the default run, ``pytest -m slow``): what it combines is covered piecewise in the suite, by
test_ray.py (a Ray rollout equals the in-process one; a killed worker is replaced) and test_learning.py.

Kept apart from test_ray.py so that no module-scoped Ray cluster is alive here: train() starts and stops its own.
"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agents.config import resolve_config
from agents.run.logging import read_scalars
from agents.run.trainer import train


def _args(pid: int) -> str:
    """The command line of ``pid``, or "" once it has exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _descendants(root: int) -> set[int]:
    """Pids of every process below ``root`` (Ray's raylet is a child of the driver, its workers children of it):
    the workers of this run only, not those of another Ray cluster on the same machine."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.learning
@pytest.mark.slow  # 150 s: the suite's Ray kill tests (test_ray.py, test_ray_multinode.py) and the rollout equality
def test_two_workers_solve_cartpole_despite_a_killed_worker(tmp_path, capfd):
    """Same budget as the in-process learning test; one worker is SIGKILLed mid-run."""
    config = resolve_config("ppo", "CartPole-v1", {"seed": 0, "backend": "ray", "num_workers": 2})
    killed: list[int] = []
    ours: dict[
        int, str
    ] = {}  # pid -> command line of every process this run started (Ray's), seen while it ran
    done = threading.Event()

    def kill_one_worker_mid_run():
        deadline = time.monotonic() + 120
        while not done.is_set():
            ours.update({pid: _args(pid) for pid in _descendants(os.getpid()) if pid not in ours})
            if killed or time.monotonic() > deadline:
                time.sleep(0.5)
                continue
            workers = [
                line
                for line in subprocess.run(
                    ["ps", "-eo", "pid,etimes,args"], capture_output=True, text=True
                ).stdout.splitlines()
                if "ray::RolloutWorker" in line
            ]
            # once this run's workers have run ~8 s (tens of updates in), kill one of them
            old = [f for f in (line.split() for line in workers) if int(f[1]) >= 8 and int(f[0]) in ours]
            if old:
                os.kill(int(old[0][0]), signal.SIGKILL)
                killed.append(int(old[0][0]))
            time.sleep(0.5)

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    summary = train(config, tmp_path / "run", progress=False)
    done.set()
    killer.join(timeout=5)
    assert killed, "no worker was killed: the test did not exercise recovery"
    assert summary["total_steps"] <= 100_000
    assert summary["eval_mean_return"] >= 475, summary
    assert "failed" in capfd.readouterr().err
    failures = read_scalars(str(tmp_path / "run"), "time/worker_failures")[1]
    assert failures[-1] >= 1
    # tfpg started Ray itself and shut it down: nothing of it is left running (other Ray clusters on the
    # machine are not this test's business).
    assert any("raylet" in args for args in ours.values())  # the test did see this run's Ray processes

    def alive() -> list[str]:
        return [
            args for pid in ours if (args := _args(pid)) and ("raylet" in args or args.startswith("ray::"))
        ]

    for _ in range(20):
        if not alive():
            break
        time.sleep(0.5)
    assert not alive(), alive()

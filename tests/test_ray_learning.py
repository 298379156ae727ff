"""Ray backend end to end: two workers learn CartPole within the in-process budget, surviving a killed worker.

Kept apart from test_ray.py so that no module-scoped Ray cluster is alive here: train() starts and stops its own.
"""

import os
import signal
import subprocess
import threading
import time

import pytest

from agents.config import resolve_config
from agents.run.logging import read_scalars
from agents.run.trainer import train


def _ray_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in out if line.startswith(("ray::", "/")) and ("raylet" in line or "ray::" in line)]


@pytest.mark.learning
def test_two_workers_solve_cartpole_despite_a_killed_worker(tmp_path, capfd):
    """Same budget as the in-process learning test; one worker is SIGKILLed mid-run."""
    config = resolve_config("ppo", "CartPole-v1", {"seed": 0, "backend": "ray", "num_workers": 2})
    killed: list[int] = []

    def kill_one_worker_mid_run():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            workers = [
                line
                for line in subprocess.run(
                    ["ps", "-eo", "pid,etimes,args"], capture_output=True, text=True
                ).stdout.splitlines()
                if "ray::RolloutWorker" in line
            ]
            # once workers have run ~8 s (tens of updates in), kill one of them
            old = [line.split() for line in workers if int(line.split()[1]) >= 8]
            if old:
                os.kill(int(old[0][0]), signal.SIGKILL)
                killed.append(int(old[0][0]))
            time.sleep(0.5)

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    summary = train(config, tmp_path / "run", progress=False)
    killer.join(timeout=1)
    assert killed, "no worker was killed: the test did not exercise recovery"
    assert summary["total_steps"] <= 100_000
    assert summary["eval_mean_return"] >= 475, summary
    assert "failed" in capfd.readouterr().err
    failures = read_scalars(str(tmp_path / "run"), "time/worker_failures")[1]
    assert failures[-1] >= 1
    # tfpg started Ray itself and shut it down: nothing of it is left running.
    for _ in range(20):
        if not _ray_processes():
            break
        time.sleep(0.5)
    assert not _ray_processes(), _ray_processes()

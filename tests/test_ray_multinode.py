"""A real two-node Ray cluster on this machine (separate `ray start` processes, loopback only, auth off, HOME in
a tmp dir): train_agent.py runs workers on both nodes, survives losing one node mid-run, and leaves nothing
running. Also: a wrong --ray-address fails fast with exit 2 and no run directory.
"""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agents.experience.ray_cluster import LocalRayCluster, session_processes
from agents.experience.ray_session import RayAddressError, init_ray
from agents.run.logging import read_scalars
from envs.testing import COIN_ID, LATENCY_ID

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [sys.executable, str(ROOT / "scripts" / "train_agent.py")]
# 2 workers x 2 envs x 64 steps = 256 steps per rollout; each rollout takes >= 64 x 2 x 4 ms = 0.5 s. Evaluated
# at the end only: each periodic evaluation slept through 2 x 200 steps x 4 ms on the driver (~30 s of the test),
# and the final one still writes summary.json's evaluation and best/.
LATENCY_RUN = ["--env", LATENCY_ID, "--set", "env_kwargs={latency_s: 0.004}", "--set", "num_steps=64",
               "--num-envs", "4", "--eval-episodes", "2", "--eval-every", "0", "--no-progress"]  # fmt: skip


def _worker_pids(sid: int) -> list[int]:
    """Rollout workers (Ray actor processes) in one node's session."""
    return _processes_named(sid, b"ray::RolloutWorker")


@pytest.fixture
def cluster(tmp_path):
    # Short health checks: the head declares a killed node dead in ~2 s instead of ~15 s.
    fast = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3"}
    cluster = LocalRayCluster(tmp_path / "ray", head_cpus=2, node_cpus=(1,), extra_env=fast)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        left = [pid for node in cluster.nodes for pid in session_processes(node.process.pid)]
        assert not left, f"Ray processes left running: {left}"
        assert not (Path.home() / ".ray" / "auth_token").exists() or "auth token predates the test"


def test_run_survives_losing_a_node_and_its_workers_move_to_the_head(cluster, tmp_path):
    run_dir = tmp_path / "runs" / "multinode"
    command = [*TRAIN, *LATENCY_RUN, "--total-steps", "4096", "--backend", "ray", "--num-workers", "2",
               "--ray-address", cluster.address, "--logdir", str(run_dir.parent),
               "--run-name", run_dir.name]  # fmt: skip
    process = subprocess.Popen(
        command, env=cluster.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    head, node = cluster.nodes
    seen: dict[str, list[int]] = {}
    stderr_lines: list[str] = []

    def watch_and_kill():
        for line in process.stderr:
            stderr_lines.append(line)
            if line.startswith("tfpg: Ray rollout workers started"):
                seen["head"], seen["node"] = _worker_pids(head.process.pid), _worker_pids(node.process.pid)
                time.sleep(2.0)  # a few rollouts in
                cluster.kill_node(node.name)

    watcher = threading.Thread(target=watch_and_kill, daemon=True)
    watcher.start()
    process.wait(timeout=600)
    watcher.join(timeout=10)
    err = "".join(stderr_lines)
    assert process.returncode == 0, err[-3000:]
    # Where the workers ran: one on each node (SPREAD), then both on the head once the node was gone.
    assert len(seen["head"]) == 1 and len(seen["node"]) == 1, (seen, err[-2000:])
    assert "started on 2 node(s)" in err
    assert "at the end (after replacements) on 1 node(s)" in err, err[-2000:]
    assert "rollout worker 1 failed" in err or "rollout worker 0 failed" in err
    # A complete run directory.
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] == 4096 and not summary["interrupted"] and summary["eval_episodes"] == 2
    assert (run_dir / "config.json").exists() and summary["checkpoint"] and summary["best_checkpoint"]
    assert read_scalars(str(run_dir), "time/worker_failures")[1][-1] >= 1
    assert not node.alive()


def test_unreachable_address_fails_fast_with_exit_2_and_no_run_dir(tmp_path):
    start = time.monotonic()
    with pytest.raises(RayAddressError, match=r"No Ray cluster at 127\.0\.0\.1:1"):
        init_ray("127.0.0.1:1")
    assert time.monotonic() - start < 10
    result = subprocess.run(
        [*TRAIN, "--backend", "ray", "--ray-address", "127.0.0.1:1", "--logdir", str(tmp_path), "--run-name",
         "nothing", "--no-progress"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "No Ray cluster at 127.0.0.1:1" in result.stderr and "ray start --head" in result.stderr
    assert not (tmp_path / "nothing").exists()


BENCH_SPEC = """
seeds: [0]
runs:
  - {algo: ppo, env: CartPole-v1, steps: 1024, set: {eval_episodes: 2}}
  - {algo: a2c, env: CartPole-v1, steps: 1040, set: {eval_episodes: 2}}
  - {algo: ppo, env: Acrobot-v1, steps: 1024, set: {num_envs: 4, env_kwargs: {foo: 1}}}
"""


def _processes_matching(sid: int, matches) -> list[int]:
    """Processes in one node's session whose command line (for a Ray worker: its title) ``matches``."""
    found = []
    for pid in session_processes(sid):
        try:
            if matches(Path(f"/proc/{pid}/cmdline").read_bytes()):
                found.append(pid)
        except OSError:
            pass
    return found


def _processes_named(sid: int, title: bytes) -> list[int]:
    return _processes_matching(sid, lambda cmdline: cmdline.startswith(title))


def _train_processes(sid: int) -> list[int]:
    return _processes_matching(sid, lambda cmdline: b"train_agent.py" in cmdline)


def test_benchmark_runs_as_ray_tasks_and_a_lost_node_s_run_is_rerun(cluster, tmp_path):
    """benchmark.py --backend ray: a run placed on the second node is lost with it and rerun on the head; run
    directories and logs come back into --logdir; a run that fails on its own is an error row, not a retry."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(BENCH_SPEC)
    logdir, out = tmp_path / "runs", tmp_path / "BENCH.md"
    command = [sys.executable, str(ROOT / "benchmarks" / "benchmark.py"), "--spec", str(spec), "--out", str(out),
               "--logdir", str(logdir), "--plots", str(tmp_path / "plots"), "--backend", "ray",
               "--ray-address", cluster.address]  # fmt: skip
    console = tmp_path / "benchmark.out"
    with open(console, "w") as sink:  # a file, not a pipe: nobody reads it until the end
        process = subprocess.Popen(command, env=cluster.env(), stdout=sink, stderr=subprocess.STDOUT)
    node = cluster.nodes[1]
    on_node: list[int] = []
    deadline = time.monotonic() + 300
    while not on_node and process.poll() is None and time.monotonic() < deadline:
        on_node = _train_processes(node.process.pid)
        time.sleep(0.2)
    time.sleep(3.0)  # mid-run: TensorFlow imported, training under way
    cluster.kill_node(node.name)
    process.wait(timeout=600)
    output = console.read_text()
    assert on_node, "no run was placed on the second node:\n" + output[-3000:]
    assert process.returncode == 1, output[-3000:]  # the Acrobot row fails on purpose
    rows = [ln for ln in out.read_text().splitlines() if ln.startswith(("| ppo", "| a2c"))]
    assert len(rows) == 3 and "**error**" in rows[2] and "cannot be made with env_kwargs" in rows[2], rows
    assert "**error**" not in rows[0] + rows[1], rows
    for name in ("CartPole-v1__ppo__1024__s0", "CartPole-v1__a2c__1040__s0"):
        summary = json.loads((logdir / name / "summary.json").read_text())
        assert not summary["interrupted"] and summary["eval_episodes"] == 2
        assert (logdir / f"{name}.log").exists() and (logdir / name / "checkpoint").is_dir()
    assert "Ray cluster, one task of 1 CPU(s) per run" in out.read_text()


TUNE_SPACE = (
    "default: {learning_rate: {float: [1.0e-4, 1.0e-2], log: true}, num_envs: 2, num_steps: 16,"
    " minibatch_size: 32, update_epochs: 1, video: false, eval_episodes: 2, eval_envs: 2, histogram_every: 0}\n"
)


def test_tuning_trials_run_as_ray_tasks_on_both_nodes(cluster, tmp_path):
    """tune.py --backend ray on the two-node cluster: the two trial loops run as Ray tasks, one on each node
    (SPREAD), and both trials finish as complete run directories of the study. (One filesystem here; on a real
    cluster the study directory must be shared, README "Tuning".)"""
    optuna = pytest.importorskip("optuna")
    (tmp_path / "space.yaml").write_text(TUNE_SPACE)
    command = [sys.executable, str(ROOT / "scripts" / "tune.py"), "--env", COIN_ID, "--trials", "2", "--jobs", "2",
               "--total-steps", "320", "--space", str(tmp_path / "space.yaml"), "--logdir", str(tmp_path),
               "--study-name", "coin", "--backend", "ray", "--ray-address", cluster.address]  # fmt: skip
    console = tmp_path / "tune.out"
    with open(console, "w") as sink:
        process = subprocess.Popen(command, env=cluster.env(), stdout=sink, stderr=subprocess.STDOUT)
    head, node = cluster.nodes
    seen = {"head": set(), "node": set()}
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        seen["head"].update(_processes_named(head.process.pid, b"ray::_ray_task"))
        seen["node"].update(_processes_named(node.process.pid, b"ray::_ray_task"))
        time.sleep(0.1)
    process.wait(timeout=60)
    output = console.read_text()
    assert process.returncode == 0, output[-3000:]
    assert seen["head"] and seen["node"], (seen, output[-2000:])  # a trial loop ran on each node
    study = optuna.load_study(study_name="coin", storage=f"sqlite:///{tmp_path / 'coin' / 'study.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    for trial in study.trials:
        summary = json.loads((Path(trial.user_attrs["run_dir"]) / "summary.json").read_text())
        assert summary["total_steps"] == 320 and summary["eval_mean_return"] == trial.value

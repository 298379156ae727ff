"""train_agent.py as a user runs it: run directory layout, summary.json, TensorBoard tags, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_agent.py"
SUMMARY_KEYS = {
    "env",
    "algo",
    "seed",
    "total_steps",
    "wall_time_s",
    "sps",
    "eval_mean_return",
    "eval_std_return",
    "eval_episodes",
}
REQUIRED_TAGS = {
    "rollout/episode_return",
    "rollout/episode_length",
    "train/policy_loss",
    "train/value_loss",
    "train/entropy",
    "train/approx_kl",
    "train/clip_fraction",
    "train/explained_variance",
    "train/learning_rate",
    "time/sps",
    "eval/mean_return",
}


def train_cli(*args, cwd=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def snapshot(path: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    proc = train_cli(
        "--env",
        "CartPole-v1",
        "--seed",
        "3",
        "--total-steps",
        "4096",
        "--eval-episodes",
        "4",
        "--logdir",
        str(logdir),
        "--run-name",
        "short",
        "--set",
        "update_epochs=2",
    )
    assert proc.returncode == 0, proc.stderr
    return logdir / "short", proc


def test_run_directory_layout_and_summary(short_run):
    run_dir, proc = short_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["env"] == "CartPole-v1" and summary["algo"] == "ppo" and summary["seed"] == 3
    assert summary["total_steps"] == 4096  # 16 rollouts of 8 envs x 32 steps
    assert summary["eval_episodes"] == 4 and summary["eval_mean_return"] > 0
    assert summary["sps"] > 0 and summary["wall_time_s"] > 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run"]["total_steps"] == 4096 and config["agent"]["update_epochs"] == 2
    assert config["preset"] == "CartPole-v1"
    assert (run_dir / (summary["checkpoint"] + ".index")).exists() and summary[
        "checkpoint"
    ] == "checkpoint/ckpt-4096"
    assert str(run_dir) in proc.stdout and "tensorboard --logdir" in proc.stdout


def test_tensorboard_scalars_use_env_steps(short_run):
    run_dir, _ = short_run
    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert tags >= REQUIRED_TAGS, REQUIRED_TAGS - tags
    steps = [event.step for event in acc.Tensors("train/policy_loss")]
    assert steps == list(range(256, 4097, 256))
    # The default schedule: every ceil(16 rollouts / 10) = 2 rollouts, the last one at the end: 8 points.
    assert [event.step for event in acc.Tensors("eval/mean_return")] == list(range(512, 4097, 512))


def test_existing_run_dir_is_refused_and_untouched(short_run):
    run_dir, _ = short_run
    before = snapshot(run_dir)
    proc = train_cli("--logdir", str(run_dir.parent), "--run-name", "short", "--total-steps", "512")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr
    assert snapshot(run_dir) == before


def test_unknown_config_field_exits_2_and_writes_nothing(tmp_path):
    proc = train_cli("--logdir", str(tmp_path), "--run-name", "x", "--set", "learnin_rate=1")
    assert proc.returncode == 2
    assert "Did you mean: learning_rate" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_env_exits_2_and_writes_nothing(tmp_path):
    proc = train_cli("--env", "CartPol-v1", "--logdir", str(tmp_path), "--run-name", "x")
    assert proc.returncode == 2
    assert "CartPole-v1" in proc.stderr  # suggested close match
    assert not any(tmp_path.iterdir())


def test_ray_backend_without_ray_says_how_to_install(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(SCRIPT.parent))
    import train_agent

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    code = train_agent.main(
        ["--backend", "ray", "--logdir", str(tmp_path), "--run-name", "x", "--no-progress"]
    )
    assert code == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_vectorization_flag_runs_async_envs(tmp_path):
    """--vectorization async: the envs step in subprocesses, the run completes and config.json records it."""
    proc = train_cli(
        "--vectorization", "async", "--num-envs", "2", "--total-steps", "128", "--eval-episodes", "1",
        "--logdir", str(tmp_path), "--run-name", "async", "--set", "update_epochs=1", "--set", "minibatch_size=64",
        "--set", "video=false",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = json.loads((tmp_path / "async" / "config.json").read_text())
    assert config["run"]["vectorization"] == "async"
    assert json.loads((tmp_path / "async" / "summary.json").read_text())["total_steps"] == 128

"""Runs that must stop, and runs that must not merge or dead-end (issue 19, items 4 and 5).

Non-finite numbers stop training with an error naming the step, the quantity and the last good checkpoint,
and never reach a checkpoint. Two trainings into one directory: one is refused. A run that stopped before its
first checkpoint can be resumed (it starts again from step 0); a signal during warm-up still ends in a
resumable run.
"""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.run import checkpoint as ckpt
from agents.run.guards import NonFiniteError
from agents.run.trainer import train

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train_agent.py"
NAN_ENV = "tfpg-local/NaNRewardCartPole-v0"


class NaNRewardAfter(gym.Wrapper):
    """CartPole whose reward turns NaN after ``after`` steps of the sub-env (a broken simulator)."""

    def __init__(self, env, after: int):
        super().__init__(env)
        self.after, self.count = after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.count += 1
        return obs, (np.nan if self.count > self.after else reward), terminated, truncated, info


gym.register(NAN_ENV, entry_point=lambda after=200: NaNRewardAfter(gym.make("CartPole-v1"), after))

SMALL = {"num_envs": 2, "num_steps": 64, "minibatch_size": 64, "update_epochs": 2, "eval_episodes": 2}


def latest_weights_are_finite(run_dir: Path) -> bool:
    """Every float tensor of the network and the optimizer in the latest checkpoint is finite."""
    prefix = ckpt.latest_in(run_dir / ckpt.CHECKPOINT_DIR)
    reader = tf.train.load_checkpoint(prefix)
    keys = [
        key
        for key, dtype in reader.get_variable_to_dtype_map().items()
        if dtype.is_floating and key.startswith(("model/", "optimizer/"))
    ]
    return len(keys) > 4 and all(np.isfinite(reader.get_tensor(key)).all() for key in keys)


def test_nan_rewards_stop_training_at_the_last_good_checkpoint(tmp_path):
    config = resolve_config("ppo", NAN_ENV, {**SMALL, "total_steps": 1024, "checkpoint_every": 256})
    with pytest.raises(NonFiniteError) as caught:
        train(config, tmp_path / "run", progress=False)
    message = str(caught.value)
    # The sub-envs turn NaN at their 201st step: vector step 200, in the rollout that ends at env step 512.
    assert "Non-finite rewards" in message and "env step 384" in message and "ckpt-256" in message, message
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["interrupted"] and summary["error"] == message and summary["total_steps"] == 256
    assert ckpt.latest_in(tmp_path / "run" / ckpt.CHECKPOINT_DIR).endswith("ckpt-256")
    assert latest_weights_are_finite(tmp_path / "run")


def test_weights_that_became_nan_are_never_saved(tmp_path):
    # A NaN step size: the first update's loss is computed before its step (finite), the weights after it
    # are not; the checkpoint due after that update is refused.
    config = resolve_config("a2c", "CartPole-v1", {"num_envs": 2, "total_steps": 100, "checkpoint_every": 10})
    config.agent.learning_rate = float("nan")  # past the config's own validation: the runtime guard's turn
    with pytest.raises(NonFiniteError, match=r"network's weights|update's metrics"):
        train(config, tmp_path / "run", progress=False)
    assert ckpt.latest_in(tmp_path / "run" / ckpt.CHECKPOINT_DIR) is None
    assert not (tmp_path / "run" / ckpt.BEST_DIR).exists()


def run_cli(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TRAIN), "--no-progress", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_two_trainings_into_one_directory_one_is_refused(tmp_path):
    args = ["--total-steps", "2048", "--eval-episodes", "1", "--logdir", str(tmp_path), "--run-name", "same"]
    args += ["--set", "video=false"]
    first, second = run_cli(*args), run_cli(*args)
    results = [(p.wait(timeout=600), p.communicate()[1]) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "another" in refused or "already exists" in refused, refused
    summary = json.loads((tmp_path / "same" / "summary.json").read_text())
    assert summary["total_steps"] == 2048 and not summary["interrupted"]


def test_a_run_without_a_checkpoint_starts_again_on_resume(tmp_path):
    args = ["--total-steps", "1024", "--eval-episodes", "1", "--logdir", str(tmp_path), "--run-name", "r"]
    done = run_cli(*args, "--set", "video=false")
    assert done.wait(timeout=600) == 0, done.communicate()[1]
    run_dir = tmp_path / "r"
    for path in (run_dir / ckpt.CHECKPOINT_DIR, run_dir / ckpt.BEST_DIR):
        shutil.rmtree(path)  # as if it had stopped before its first save
    (run_dir / "summary.json").unlink()
    resumed = run_cli("--resume", str(run_dir))
    assert resumed.wait(timeout=600) == 0, resumed.communicate()[1]
    assert "starting it again from step 0" in resumed.communicate()[1]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] == 1024 and summary["resumed_from_step"] is None


def test_sigterm_during_warm_up_leaves_a_resumable_run(tmp_path):
    args = ["--total-steps", "2048", "--eval-episodes", "1", "--logdir", str(tmp_path), "--run-name", "t"]
    process = run_cli(*args, "--set", "video=false")
    run_dir = tmp_path / "t"
    deadline = time.monotonic() + 300
    while not (run_dir / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)  # config.json is written: the run is warming up (or just started)
    code = process.wait(timeout=600)
    err = process.communicate()[1]
    assert code == 128 + signal.SIGTERM, err
    assert "checkpoint saved" in err and "--resume" in err, err
    resumed = run_cli("--resume", str(run_dir))
    assert resumed.wait(timeout=600) == 0, resumed.communicate()[1]
    assert json.loads((run_dir / "summary.json").read_text())["total_steps"] == 2048


@pytest.mark.parametrize("name", ["../escape", "/tmp/absolute"])
def test_run_names_stay_inside_the_logdir(tmp_path, name):
    out = subprocess.run(
        [sys.executable, str(TRAIN), "--logdir", str(tmp_path / "logs"), "--run-name", name],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "plain name inside --logdir" in out.stderr, out.stderr
    assert not (tmp_path / "logs").exists() and not (tmp_path / "escape").exists()

"""Custom metrics reach TensorBoard: is_success → rollout/success_rate, info keys, callbacks, policy std."""

import numpy as np
import pytest

from agents.config import resolve_config
from agents.run.logging import read_scalars
from agents.run.trainer import train
from envs.testing import COIN_ID, CONTINUOUS_COIN_ID

ENV_ID = COIN_ID


@pytest.fixture(scope="module")
def coin_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "coin"
    seen = []

    def callback(steps, rollout, episodes, metrics):
        seen.append(steps)
        return {"custom/valid_fraction": float(rollout.valid.mean()), "custom/steps_seen": float(steps)}

    values = {"num_envs": 2, "num_steps": 16, "minibatch_size": 32, "total_steps": 128, "update_epochs": 1,
              "eval_episodes": 2, "eval_envs": 1, "info_keys": ["bonus"], "video": False}  # fmt: skip
    train(resolve_config("ppo", ENV_ID, values), run_dir, progress=False, callbacks=[callback])
    return run_dir, seen


def test_success_rate_is_fraction_of_successful_episodes(coin_run):
    run_dir, _ = coin_run
    steps, rates = read_scalars(str(run_dir), "rollout/success_rate")
    assert steps == [32, 64, 96, 128]
    assert all(0.0 <= r <= 1.0 for r in rates)


def test_info_key_mean_is_logged(coin_run):
    run_dir, _ = coin_run
    _, bonus = read_scalars(str(run_dir), "rollout/info/bonus")
    assert bonus == [2.0, 2.0, 2.0, 2.0]


def test_callback_scalars_land_at_env_steps(coin_run):
    run_dir, seen = coin_run
    assert seen == [32, 64, 96, 128]
    steps, values = read_scalars(str(run_dir), "custom/steps_seen")
    assert steps == seen and values == [float(s) for s in seen]
    _, valid = read_scalars(str(run_dir), "custom/valid_fraction")
    # 4-step episodes: every 5th row is an autoreset row (first rollout row 0 is valid) → 13/16 valid per env
    assert valid[0] == pytest.approx(13 / 16)


def test_continuous_policy_std_is_logged(tmp_path):
    values = {"num_envs": 2, "num_steps": 16, "minibatch_size": 32, "total_steps": 64, "update_epochs": 1,
              "eval_episodes": 1, "eval_envs": 1, "log_std_init": np.log(0.5).item(), "video": False}  # fmt: skip
    train(resolve_config("ppo", CONTINUOUS_COIN_ID, values), tmp_path / "c", progress=False)
    _, std = read_scalars(str(tmp_path / "c"), "train/policy_std")
    assert std[0] == pytest.approx(0.5, rel=0.05)


def test_log_every_writes_every_kth_update_and_pools_episodes(tmp_path):
    values = {"num_envs": 2, "num_steps": 16, "minibatch_size": 32, "total_steps": 160, "update_epochs": 1,
              "eval_episodes": 1, "eval_envs": 1, "video": False, "log_every": 2}  # fmt: skip
    seen = []
    callback = lambda steps, rollout, episodes, metrics: seen.append(steps)  # noqa: E731
    train(resolve_config("ppo", ENV_ID, values), tmp_path / "r", progress=False, callbacks=[callback])
    steps, _ = read_scalars(str(tmp_path / "r"), "train/policy_loss")
    assert steps == [64, 128, 160]  # every 2nd update of 32 steps, and the last one
    assert seen == steps
    # 4-step episodes over 2 envs: the pooled episode count per write covers both rollouts (6-7 per 32 steps).
    _, lengths = read_scalars(str(tmp_path / "r"), "rollout/episode_length")
    assert lengths == [4.0, 4.0, 4.0]

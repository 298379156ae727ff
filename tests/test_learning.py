"""PPO actually learns: CartPole-v1 with the default preset solves within its 100k-step budget."""

import pytest

from agents.config import resolve_config
from agents.trainer import train


@pytest.mark.learning
def test_ppo_solves_cartpole_within_budget(tmp_path):
    config = resolve_config("ppo", "CartPole-v1", {"seed": 0})
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["total_steps"] <= 100_000
    assert summary["eval_episodes"] == 20
    assert summary["eval_mean_return"] >= 475, summary

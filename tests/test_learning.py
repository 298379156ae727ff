"""Agents actually learn: fixed seed, fixed budget, a clear threshold (each well under a minute on 2 cores)."""

import pytest

from agents.config import resolve_config
from agents.experience.evaluation import evaluate
from agents.run.building import EVAL_SEED_OFFSET, build_run
from agents.run.trainer import train


@pytest.mark.learning
def test_ppo_solves_cartpole_within_budget(tmp_path):
    config = resolve_config("ppo", "CartPole-v1", {"seed": 0})
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["total_steps"] <= 100_000
    assert summary["eval_episodes"] == 20
    assert summary["eval_mean_return"] >= 475, summary


@pytest.mark.learning
def test_a2c_learns_cartpole(tmp_path):
    # RL Zoo's A2C CartPole preset (RMSprop 7e-4, n_steps 5, 8 envs, constant learning rate). At 100k steps
    # seeds 0-2 gave 500.0 / 500.0 / 255.1; at 500k all three evaluate at 500.0 (BENCHMARKS.md, 2026-11-25).
    # Without annealing, A2C can drop out of the solved regime and back: on the 2-core AMD EPYC sandbox
    # (2026-11-27) seed 0's episodes were at 500 from ~100k to 188k steps and at 43 by 200k, so the test pins
    # the best of the periodic evaluations (the checkpoint kept in best/), not the last one. 125k steps: the
    # learning rate is constant, so the run is the 200k run's first 125k (evaluations at 25k ... 125k).
    config = resolve_config("a2c", "CartPole-v1", {"seed": 0, "total_steps": 125_000, "eval_every": 25_000})
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["best_eval_return"] >= 475, summary  # a random policy scores about 20


@pytest.mark.learning
def test_reinforce_learns_cartpole(tmp_path):
    # The preset (lr 3e-3 annealed to 0 over the budget); measured 441.7 at this seed and budget.
    config = resolve_config("reinforce", "CartPole-v1", {"seed": 0, "total_steps": 150_000})
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["eval_mean_return"] >= 350, summary  # a random policy scores about 20


@pytest.mark.learning
def test_ppo_improves_on_pendulum(tmp_path):
    config = resolve_config("ppo", "Pendulum-v1", {"seed": 0, "total_steps": 40_960})
    untrained = build_run(config)  # the same seed gives train() the same initial network
    try:
        before = evaluate(
            untrained.policy.predictor(untrained.eval_env.num_envs),
            untrained.eval_env,
            20,
            seed=config.run.seed + EVAL_SEED_OFFSET,
        )["mean_return"]
    finally:
        untrained.close()
    summary = train(config, tmp_path / "run", progress=False)
    # Measured: -1063.4 untrained; -571.0 after 40,960 steps (about 10 s; preset without normalization).
    assert summary["eval_mean_return"] >= before + 300, (before, summary)
    assert summary["eval_mean_return"] >= -750, (before, summary)

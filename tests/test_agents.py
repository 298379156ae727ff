"""A2C and REINFORCE as the trainer drives them: every action kind, squashed Box actions, one trace, and
one update moving the policy toward positive-advantage actions."""

import numpy as np
import pytest
import tensorflow as tf

from agents.algorithms.optimizers import make_optimizer
from agents.algorithms.registry import ALGORITHMS
from agents.config import ConfigError, resolve_config
from agents.experience.collection import InProcessCollection
from agents.run.building import build_run
from envs.testing import ACTION_KINDS, test_env_id

SMALL = {"num_envs": 4, "num_steps": 16, "hidden_sizes": [32], "eval_envs": 2}


def small_run(algo: str, env_id: str, **extra):
    return build_run(resolve_config(algo, env_id, {**SMALL, **extra}))


def test_registry_holds_all_three_algorithms():
    assert {"ppo", "a2c", "reinforce"} <= set(ALGORITHMS)


@pytest.mark.parametrize("algo", ["a2c", "reinforce"])
@pytest.mark.parametrize("action_kind", ACTION_KINDS)
def test_updates_are_finite_and_trace_once(algo, action_kind):
    extra = {"squash_actions": True, "state_dependent_std": True} if action_kind == "box" else {}
    run = small_run(algo, test_env_id("vector", action_kind), **extra)
    try:
        collector = InProcessCollection(run.env, run.policy, 16, seed=0)
        before = [w.copy() for w in run.policy.model.get_weights()]
        snapshot = None
        for update in range(4):
            rollout, _, _ = collector.collect(snapshot)
            metrics, snapshot = run.agent.learn(rollout, progress=update / 4)
            assert all(np.isfinite(v) for v in metrics.values()), metrics
        if action_kind == "box":
            space = run.env.single_action_space
            assert ((rollout.actions >= space.low) & (rollout.actions <= space.high)).all()
        after = run.policy.model.get_weights()
        assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
        assert run.agent.core.trace_count() == 1
    finally:
        run.close()


@pytest.mark.parametrize(
    ("algo", "extra"),
    [
        ("a2c", {"optimizer": "adam", "normalize_advantage": False}),
        ("a2c", {"separate_optimizers": True, "value_learning_rate": 1e-3}),
        ("reinforce", {"baseline": False, "bootstrap": False, "normalize_advantage": False}),
    ],
)
def test_one_update_raises_log_prob_of_positive_advantage_actions(algo, extra):
    """Hand-made rollout: action 0 always gets reward 1, action 1 reward 0 (terminal one-step episodes)."""
    run = small_run(algo, "CartPole-v1", ent_coef=0.0, learning_rate=1e-2, **extra)
    try:
        T, N = run.config.agent.num_steps, run.env.num_envs
        obs = np.random.default_rng(0).normal(size=(T, N, 4)).astype(np.float32) * 0.1
        actions = np.tile(np.array([0, 1], np.int32), (T, N // 2))
        collector = InProcessCollection(run.env, run.policy, T, seed=0)
        rollout, _, _ = collector.collect(None)
        rollout.observations, rollout.actions = obs, actions
        rollout.rewards = (actions == 0).astype(np.float32)
        rollout.terminated = np.ones((T, N), bool)
        rollout.truncated = np.zeros((T, N), bool)
        rollout.valid = np.ones((T, N), np.float32)
        rollout.values = np.full((T, N), 0.5, np.float32)
        flat = obs.reshape(-1, 4)

        def log_p0():
            logits = run.policy.model(flat)["policy"]
            return float(tf.reduce_mean(tf.nn.log_softmax(logits)[:, 0]))

        start = log_p0()
        run.agent.learn(rollout, progress=0.0)
        assert log_p0() > start + 1e-3
    finally:
        run.close()


def test_separate_optimizers_with_shared_trunk_is_refused():
    config = resolve_config("a2c", "CartPole-v1", {**SMALL, "separate_optimizers": True, "share_trunk": True})
    with pytest.raises(ValueError, match="separate trunks"):
        build_run(config)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ConfigError, match="'optimizer' must be one of adam, rmsprop; got 'sgd'"):
        resolve_config("reinforce", "CartPole-v1", {**SMALL, "optimizer": "sgd"})  # before anything is built
    with pytest.raises(ValueError, match="Unknown optimizer"):
        make_optimizer("sgd", 1e-3, 1e-5)  # the builder's own check, for code that bypasses the config
    with pytest.raises(ConfigError):
        resolve_config("a2c", "CartPole-v1", {"clip_range": 0.2})  # a PPO field

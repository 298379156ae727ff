"""Smoke runs: every encoder × every head trains a few thousand steps with finite losses and valid actions."""

import gymnasium as gym
import numpy as np
import pytest

from agents.config import resolve_config
from agents.run.building import build_run
from envs.testing import ACTION_KINDS, OBS_KINDS, test_env_id

SMALL = {
    "num_envs": 4,
    "num_steps": 64,
    "minibatch_size": 128,
    "update_epochs": 2,
    "hidden_sizes": [32],
    "eval_envs": 2,
}


def small_run(env_id: str, **extra):
    config = resolve_config("ppo", env_id, {**SMALL, **extra})
    return build_run(config)


@pytest.mark.parametrize("obs_kind", OBS_KINDS)
@pytest.mark.parametrize("action_kind", ACTION_KINDS)
def test_every_space_trains(obs_kind, action_kind):
    from agents.experience.collection import InProcessCollection

    run = small_run(test_env_id(obs_kind, action_kind))
    try:
        collector = InProcessCollection(run.env, run.policy, 64, seed=0)
        space = run.env.single_action_space
        snapshot = None
        for update in range(8):  # 8 * 64 * 4 = 2048 env steps
            rollout, _, _ = collector.collect(snapshot)
            metrics, snapshot = run.agent.learn(rollout, progress=update / 8)
            assert all(np.isfinite(v) for v in metrics.values()), metrics
            assert rollout.actions.shape == (64, 4, *space.shape)
            if isinstance(space, gym.spaces.Box):
                assert np.isfinite(rollout.actions).all()
            else:
                # sampled actions must lie in the space (MultiBinary/MultiDiscrete/Discrete)
                assert all(space.contains(a.astype(space.dtype)) for a in rollout.actions[0])
        deterministic = run.policy.predict(run.env.observation_space.sample())
        assert deterministic.shape == (4, *space.shape)
        if isinstance(space, gym.spaces.Box):
            assert np.isfinite(deterministic).all()
    finally:
        run.close()


@pytest.mark.parametrize("numpy_acting", [True, False])
def test_compiled_functions_trace_once(numpy_acting):
    run = small_run(test_env_id("dict", "multidiscrete"))
    run.policy.use_mirror = numpy_acting  # False: rollouts go through the TF reference path
    try:
        from agents.experience.collection import InProcessCollection

        collector = InProcessCollection(run.env, run.policy, 64, seed=0)
        snapshot = None
        for update in range(3):
            rollout, _, _ = collector.collect(snapshot)
            _, snapshot = run.agent.learn(rollout, progress=update / 3)
            run.policy.predict(run.eval_env.observation_space.sample())
        used = {"sample": 0, "snapshot": 1} if numpy_acting else {"sample": 1, "snapshot": 0}
        assert run.policy.trace_counts() == {"mode": 1, "value": 1, **used}
        assert run.agent.core.trace_count() == 1
    finally:
        run.close()

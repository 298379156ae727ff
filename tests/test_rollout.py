"""The rollout collector on a predictable env: NEXT_STEP autoreset rows, truncation bootstrap, episode stats."""

import numpy as np
import pytest

from agents.algorithms.advantages import compute_gae
from agents.experience.rollout import RolloutCollector
from envs import make_vector_env
from envs.testing import COUNTER_ID


def value_of(obs):
    # A "value function" that reveals which observation it saw: V(s) = 10 * steps_taken.
    return 10.0 * np.asarray(obs)[:, 0]


def policy(obs):
    n = len(obs)
    return np.zeros(n, np.int32), np.zeros(n, np.float32), value_of(obs)


def collect(terminate_at, max_steps, num_steps=8, num_envs=1):
    env = make_vector_env(
        COUNTER_ID,
        num_envs,
        seed=0,
        env_kwargs={"terminate_at": terminate_at, "max_episode_steps": max_steps},
    )
    collector = RolloutCollector(env, num_steps, seed=0, action_dtype=np.int32)
    rollout, stats = collector.collect(policy, value_of)
    env.close()
    return rollout, stats


def test_autoreset_row_is_stored_but_invalid():
    rollout, stats = collect(terminate_at=None, max_steps=3)
    # rows: obs 0,1,2 (truncated at 3rd step), then the autoreset row holding the final obs 3, then again.
    np.testing.assert_array_equal(rollout.observations[:, 0, 0], [0, 1, 2, 3, 0, 1, 2, 3])
    np.testing.assert_array_equal(rollout.valid[:, 0], [1, 1, 1, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(rollout.rewards[:, 0], [1, 1, 1, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(rollout.truncated[:, 0], [0, 0, 1, 0, 0, 0, 1, 0])
    assert not rollout.terminated.any()
    assert stats.returns == [3.0, 3.0] and stats.lengths == [3, 3]


def test_truncation_bootstraps_from_final_obs_value_termination_does_not():
    trunc, _ = collect(terminate_at=None, max_steps=3)
    term, _ = collect(terminate_at=3, max_steps=100)
    np.testing.assert_array_equal(term.terminated[:, 0], [0, 0, 1, 0, 0, 0, 1, 0])
    adv_trunc, _ = compute_gae(
        trunc.rewards, trunc.values, trunc.terminated, trunc.truncated, trunc.last_values, 1.0, 1.0
    )
    adv_term, _ = compute_gae(
        term.rewards, term.values, term.terminated, term.truncated, term.last_values, 1.0, 1.0
    )
    # third step: r=1, V(s=2)=20; truncated bootstraps V(final obs 3)=30, terminated bootstraps nothing.
    assert adv_trunc[2, 0] == pytest.approx(1 + 30 - 20)
    assert adv_term[2, 0] == pytest.approx(1 - 20)
    # first step of the episode: Monte-Carlo over the episode (gamma=lambda=1) plus the bootstrap.
    assert adv_trunc[0, 0] == pytest.approx(3 + 30 - 0)
    assert adv_term[0, 0] == pytest.approx(3 - 0)


def test_state_carries_across_rollouts():
    env = make_vector_env(COUNTER_ID, 2, seed=0, env_kwargs={"terminate_at": None, "max_episode_steps": 3})
    collector = RolloutCollector(env, 2, seed=0, action_dtype=np.int32)
    first, _ = collector.collect(policy, value_of)
    second, _ = collector.collect(policy, value_of)
    env.close()
    np.testing.assert_array_equal(first.observations[:, :, 0], [[0, 0], [1, 1]])
    np.testing.assert_array_equal(second.observations[:, :, 0], [[2, 2], [3, 3]])
    np.testing.assert_array_equal(second.valid, [[1, 1], [0, 0]])
    # last_values is V of the observation after the rollout's last row.
    np.testing.assert_array_equal(first.last_values, [20, 20])


def test_tuple_observations_are_stored_and_concatenate_along_the_env_axis():
    """Nested Tuple(Box, Dict(flag)) observations: one 2-env collector equals two 1-env ones joined (Ray)."""
    from agents.experience.ray_backend import concat_rollouts
    from envs.testing import test_env_id

    env_id = test_env_id("tuple", "discrete")

    def constant(obs):
        n = len(obs[0])
        return np.zeros(n, np.int64), np.zeros(n, np.float32), np.zeros(n, np.float32)

    def zero_value(obs):
        return np.zeros(len(obs[0]), np.float32)

    def rollout(num_envs, seed):
        env = make_vector_env(env_id, num_envs, seed=seed)
        collector = RolloutCollector(env, 40, seed=seed, action_dtype=np.int64)
        result, _ = collector.collect(constant, zero_value)
        env.close()
        return result

    both = rollout(2, seed=0)
    joined = concat_rollouts([rollout(1, seed=0), rollout(1, seed=1)])
    features, nested = both.observations
    assert features.shape == (40, 2, 2) and features.dtype == np.float32
    assert nested["flag"].shape == (40, 2) and nested["flag"].dtype == np.int64
    assert np.unique(nested["flag"]).tolist() == [0, 1]  # written every step, not left at zero
    np.testing.assert_array_equal(joined.observations[0], features)
    np.testing.assert_array_equal(joined.observations[1]["flag"], nested["flag"])
    np.testing.assert_array_equal(joined.valid, both.valid)

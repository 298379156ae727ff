"""The rollout collector on a predictable env: NEXT_STEP autoreset rows, truncation bootstrap, episode stats."""

import numpy as np
import pytest

from agents.algorithms.advantages import compute_gae
from agents.experience.collector import RolloutCollector
from agents.experience.schema import ArraySpec, Field, rollout_schema
from envs.make import make_vector_env
from envs.testing import COUNTER_ID


def value_of(obs):
    # A "value function" that reveals which observation it saw: V(s) = 10 * steps_taken.
    return 10.0 * np.asarray(obs)[:, 0]


class RevealingActor:
    """Always action 0; its values reveal the observations it saw; it records the episode-start flags."""

    def __init__(self):
        self.starts = []

    def act(self, obs, info, episode_start):
        self.starts.append(episode_start.copy())
        n = len(obs)
        return {
            "actions": np.zeros(n, np.int32),
            "log_probs": np.zeros(n, np.float32),
            "values": value_of(obs),
        }

    def finish(self, obs, info, episode_start):
        return {"last_values": value_of(obs)}


def counter_env(terminate_at, max_steps, num_envs=1):
    env_kwargs = {"terminate_at": terminate_at, "max_episode_steps": max_steps}
    return make_vector_env(COUNTER_ID, num_envs, seed=0, env_kwargs=env_kwargs)


def schema_of(env, *extra):
    return rollout_schema(env.single_observation_space, ArraySpec((), np.int32)).extend(*extra)


def collect(terminate_at, max_steps, num_steps=8, num_envs=1):
    env = counter_env(terminate_at, max_steps, num_envs)
    rollout, stats = RolloutCollector(env, schema_of(env), num_steps, seed=0).collect(RevealingActor())
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
    env = counter_env(None, 3, num_envs=2)
    collector = RolloutCollector(env, schema_of(env), 2, seed=0)
    first, _ = collector.collect(RevealingActor())
    second, _ = collector.collect(RevealingActor())
    env.close()
    np.testing.assert_array_equal(first.observations[:, :, 0], [[0, 0], [1, 1]])
    np.testing.assert_array_equal(second.observations[:, :, 0], [[2, 2], [3, 3]])
    np.testing.assert_array_equal(second.valid, [[1, 1], [0, 0]])
    # last_values is V of the observation after the rollout's last row.
    np.testing.assert_array_equal(first.last_values, [20, 20])


def test_episode_starts_mark_first_observations_for_the_actor_and_the_schema():
    """True on the reset observation (row 0, and the row after each autoreset row), never on the autoreset row;
    carried across rollouts. A schema that declares ``episode_starts`` gets the same flags stored."""
    env = counter_env(None, 3)
    starts = Field("episode_starts", ArraySpec((), bool), source="env", learner=False)
    collector = RolloutCollector(env, schema_of(env, starts), 3, seed=0)
    actor = RevealingActor()
    first, _ = collector.collect(actor)
    second, _ = collector.collect(actor)
    env.close()
    # observations 0 1 2 | 3 (autoreset row) 0 1: starts on the two 0s
    np.testing.assert_array_equal(first.observations[:, 0, 0], [0, 1, 2])
    np.testing.assert_array_equal(second.observations[:, 0, 0], [3, 0, 1])
    np.testing.assert_array_equal(np.array(actor.starts)[:, 0], [1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(first.episode_starts[:, 0], [1, 0, 0])
    np.testing.assert_array_equal(second.episode_starts[:, 0], [0, 1, 0])


def test_a_field_the_actor_does_not_return_is_an_error():
    env = counter_env(None, 3)
    extra = Field("behaviour_info", ArraySpec((2,), np.float32))
    collector = RolloutCollector(env, schema_of(env, extra), 2, seed=0)
    with pytest.raises(KeyError, match="behaviour_info"):
        collector.collect(RevealingActor())
    env.close()

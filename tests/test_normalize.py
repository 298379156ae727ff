"""VecNormalizeReward (envs/normalize.py) against hand-computed returns: resets at termination and at
truncation, the NEXT_STEP autoreset row skipped, clipping, frozen statistics, state round trip."""

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import TimeLimit

from envs import testing as tenvs
from envs.make import make_vector_env
from envs.normalize import VecNormalizeReward
from envs.wrappers import freeze_normalization, get_normalization_state, set_normalization_state

GAMMA = 0.9
EPS = 1e-8


def _two_counters() -> SyncVectorEnv:
    """Sub-env 0 terminates on its 3rd step; sub-env 1 never terminates and is truncated on its 2nd step.
    Reward 1 per step, NEXT_STEP autoreset (reward 0 on the row after a done)."""
    return SyncVectorEnv(
        [
            lambda: tenvs.CounterEnv(terminate_at=3),
            lambda: TimeLimit(tenvs.CounterEnv(terminate_at=None), max_episode_steps=2),
        ],
        autoreset_mode=AutoresetMode.NEXT_STEP,
    )


# Discounted returns G <- 0.9 G + 1 of the rows that belong to an episode, per step ("-": autoreset row):
#   step          1    2     3      4    5     6     7
#   env 0 (te@3)  1    1.9   2.71te -    1     1.9   2.71te
#   env 1 (tr@2)  1    1.9tr -      1    1.9tr -     1
# Gymnasium's NormalizeReward would carry env 1's 1.9 on after the truncation (step 4: 0.9 * 1.9 + 1 = 2.71).
HAND_RETURNS = [[1.0, 1.0], [1.9, 1.9], [2.71], [1.0], [1.0, 1.9], [1.9], [2.71, 1.0]]
LIVE = [[1, 1], [1, 1], [1, 0], [0, 1], [1, 1], [1, 0], [1, 1]]


def _pooled_var(values: list[float]) -> float:
    """Variance of RunningMeanStd after seeing ``values``: its prior is count 1e-4 at mean 0, var 1."""
    prior_count = 1e-4
    x = np.asarray(values, np.float64)
    count = prior_count + len(x)
    mean = x.sum() / count
    m2 = prior_count * 1.0 + prior_count * mean**2 + np.sum((x - mean) ** 2)
    return m2 / count


def test_rewards_follow_hand_computed_returns_with_reset_at_truncation():
    env = VecNormalizeReward(_two_counters(), gamma=GAMMA)
    env.reset(seed=0)
    seen: list[float] = []
    for step, (returns, live) in enumerate(zip(HAND_RETURNS, LIVE, strict=True), start=1):
        _, rewards, *_ = env.step(np.zeros(2, np.int64))
        seen.extend(returns)
        # Statistics updated before scaling (SB3's order); the first steps' tiny variance hits the ±10 clip.
        expected_scale = min(1.0 / np.sqrt(_pooled_var(seen) + EPS), 10.0)
        expected = np.where(np.asarray(live, bool), expected_scale, 0.0)  # autoreset rows: 0, unscaled
        np.testing.assert_allclose(rewards, expected, rtol=1e-12, err_msg=f"step {step}")
        assert rewards.dtype == np.float64
    state = get_normalization_state(env)
    np.testing.assert_allclose(state["ret_count"], 1e-4 + len(seen), rtol=1e-12)
    np.testing.assert_allclose(state["ret_var"], _pooled_var(seen), rtol=1e-12)
    assert state["ret_var"].dtype == np.float64


def test_normalized_rewards_are_clipped_and_the_clip_is_configurable():
    state = {"ret_mean": np.array(0.0), "ret_var": np.array(1e-4), "ret_count": np.array(1e6)}
    for clip, expected in ((10.0, 10.0), (3.0, 3.0), (None, 100.0)):  # 1 / sqrt(1e-4) = 100
        env = VecNormalizeReward(_two_counters(), gamma=GAMMA, clip=clip)
        set_normalization_state(env, state)
        freeze_normalization(env)
        env.reset(seed=0)
        _, rewards, *_ = env.step(np.zeros(2, np.int64))
        np.testing.assert_allclose(rewards, [expected, expected], rtol=1e-4)


def test_frozen_statistics_stay_and_still_scale():
    env = VecNormalizeReward(_two_counters(), gamma=GAMMA)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.zeros(2, np.int64))
    freeze_normalization(env)
    frozen = get_normalization_state(env)
    for _ in range(5):
        _, rewards, *_ = env.step(np.zeros(2, np.int64))
    for key, value in get_normalization_state(env).items():
        np.testing.assert_array_equal(value, frozen[key], err_msg=key)
    scale = 1.0 / np.sqrt(frozen["ret_var"] + EPS)
    assert set(np.round(rewards / scale, 12)) <= {0.0, 1.0}


def test_make_vector_env_uses_it_and_passes_clip_reward():
    env = make_vector_env("CartPole-v1", 2, normalize_reward=True, gamma=0.5, clip_reward=2.5)
    wrapper = env
    while not isinstance(wrapper, VecNormalizeReward):
        wrapper = wrapper.env
    assert wrapper.gamma == 0.5 and wrapper.clip == 2.5
    with pytest.raises(ValueError, match="clip_reward must be positive"):
        make_vector_env("CartPole-v1", 2, normalize_reward=True, clip_reward=0.0)


def test_gymnasium_normalize_reward_state_still_round_trips():
    """Checkpoints written before VecNormalizeReward came from Gymnasium's NormalizeReward: same keys."""
    old = gymnasium.wrappers.vector.NormalizeReward(_two_counters(), gamma=GAMMA)
    old.reset(seed=0)
    for _ in range(4):
        old.step(np.zeros(2, np.int64))
    state = get_normalization_state(old)
    assert set(state) == {"ret_mean", "ret_var", "ret_count"}
    new = VecNormalizeReward(_two_counters(), gamma=GAMMA)
    set_normalization_state(new, state)
    for key, value in get_normalization_state(new).items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)

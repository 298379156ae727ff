"""The latency test env: sleeps as a slow simulator would, answers a trivial task, and trains through tfpg."""

import time

import numpy as np
import pytest

from envs.make import make_vector_env
from envs.testing import LATENCY_ID, LATENCY_MAX_EPISODE_STEPS, LatencyEnv


def test_each_step_sleeps_its_latency():
    env = LatencyEnv(latency_s=0.004)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(25):
        env.step(0)
    elapsed = time.perf_counter() - start
    assert elapsed >= 25 * 0.004, elapsed  # never faster than the simulated simulator
    assert elapsed < 25 * 0.004 + 0.5, elapsed  # and nothing but the sleep (generous bound: a noisy machine)


def test_reward_is_one_for_the_sign_of_the_first_feature_and_episodes_truncate():
    env = make_vector_env(LATENCY_ID, 2, seed=3, env_kwargs={"latency_s": 0.0})
    obs, _ = env.reset()
    good = bad = 0.0
    for step in range(1, LATENCY_MAX_EPISODE_STEPS + 1):
        right = (obs[:, 0] > 0).astype(np.int64)
        # env 0 always answers right, env 1 always wrong
        obs, reward, terminated, truncated, _ = env.step(np.array([right[0], 1 - right[1]]))
        good += reward[0]
        bad += reward[1]
        assert not terminated.any()
        assert truncated.all() == (step == LATENCY_MAX_EPISODE_STEPS)
    assert (good, bad) == (LATENCY_MAX_EPISODE_STEPS, 0.0)
    env.close()


def test_negative_latency_is_refused():
    with pytest.raises(ValueError, match="latency_s"):
        LatencyEnv(latency_s=-0.001)


def test_obs_shape_sizes_the_observation():
    image = LatencyEnv(latency_s=0.0, obs_shape=[84, 84, 4])
    obs, _ = image.reset(seed=1)
    assert obs.shape == (84, 84, 4) and obs.dtype == np.uint8 and image.observation_space.contains(obs)
    assert image.step(int(obs[0, 0, 0] > 127))[1] == 1.0
    vector = LatencyEnv(latency_s=0.0, obs_shape=[17])
    assert vector.reset(seed=1)[0].shape == (17,)
    with pytest.raises(ValueError, match="obs_shape"):
        LatencyEnv(obs_shape=[2, 2])

"""Partially observed envs: CartPoleNoVel hides exactly the velocities; the memory task needs memory."""

import gymnasium as gym
import numpy as np
import pytest

import envs.partially_observed  # noqa: F401  (registers the tfpg/ ids for gym.make)
from envs.make import make_vector_env
from envs.partially_observed import CARTPOLE_NOVEL_ID
from envs.testing_memory import MEMORY_DELAY, MEMORY_ID


def test_cartpole_novel_is_cartpole_without_velocities():
    full, novel = gym.make("CartPole-v1"), gym.make(CARTPOLE_NOVEL_ID)
    assert novel.observation_space.shape == (2,) and novel.spec.max_episode_steps == 500
    obs_full, _ = full.reset(seed=3)
    obs_novel, _ = novel.reset(seed=3)
    np.testing.assert_array_equal(obs_novel, obs_full[[0, 2]])
    rng = np.random.default_rng(0)
    for _ in range(100):
        action = int(rng.integers(2))
        step_full, step_novel = full.step(action), novel.step(action)
        np.testing.assert_array_equal(step_novel[0], step_full[0][[0, 2]])
        assert step_novel[1:4] == step_full[1:4]
        if step_full[2] or step_full[3]:
            obs_full, _ = full.reset(seed=4)
            obs_novel, _ = novel.reset(seed=4)


@pytest.mark.parametrize("vectorization", ["auto", "sync"])
def test_cartpole_novel_vector_env(vectorization):
    env = make_vector_env(CARTPOLE_NOVEL_ID, 3, seed=0, vectorization=vectorization)
    full = make_vector_env("CartPole-v1", 3, seed=0, vectorization=vectorization)
    assert env.single_observation_space.shape == (2,) and env.observation_space.shape == (3, 2)
    obs, _ = env.reset(seed=0)
    obs_full, _ = full.reset(seed=0)
    np.testing.assert_array_equal(obs, obs_full[:, [0, 2]])
    for _ in range(60):
        actions = np.ones(3, np.int64)
        obs, _, terminated, _, _ = env.step(actions)
        obs_full, _, terminated_full, _, _ = full.step(actions)
        np.testing.assert_array_equal(obs, obs_full[:, [0, 2]])
        np.testing.assert_array_equal(terminated, terminated_full)
    env.close()
    full.close()


def _run_memory(policy, episodes=200, seed=0):
    """Mean success of ``policy(obs, history) -> action`` on the memory task."""
    env = gym.make(MEMORY_ID)
    successes = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        history = [obs]
        for step in range(MEMORY_DELAY + 1):
            obs, reward, terminated, _, info = env.step(policy(obs, history))
            history.append(obs)
            assert reward == 0.0 or terminated
            if terminated:
                assert step == MEMORY_DELAY and reward == (1.0 if info["is_success"] else -1.0)
                successes.append(info["is_success"])
    return np.mean(successes)


def test_memory_task_rewards_remembering_the_cue_and_nothing_else():
    assert _run_memory(lambda obs, history: int(history[0][1] == 1.0)) == 1.0  # remembers the cue
    assert _run_memory(lambda obs, history: int(history[0][0] == 1.0)) == 0.0  # remembers it backwards
    # The question looks the same whatever the cue: any function of the current observation is at chance.
    rate = _run_memory(lambda obs, history: 1, episodes=400)
    assert 0.42 < rate < 0.58


def test_memory_question_does_not_depend_on_the_cue():
    env = gym.make(MEMORY_ID)
    questions, cues = set(), set()
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        cues.add(int(obs[1]))
        for _ in range(MEMORY_DELAY):
            obs, *_ = env.step(0)
        questions.add(tuple(obs))
    assert cues == {0, 1} and questions == {(0.0, 0.0, 1.0)}

"""envs/lean.py: the lean sync vector env and episode statistics return exactly what Gymnasium's classes return."""

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

from envs import testing as tenvs
from envs import testing_masks as tmasks
from envs.lean import LeanEpisodeStatistics, LeanNormalizeObservation, LeanSyncVectorEnv
from envs.make import make_vector_env

# Ids with per-env episode ends at random steps (termination and TimeLimit truncation), infos with arrays and
# floats on steps but not resets, and every array space as observation or action; dict and tuple observations
# take Gymnasium's own step (the fallback is compared too).
IDS = [
    tmasks.INVALID_ACTION_ID,  # Discrete obs/actions, info["action_mask"] bool [16] + info["invalid_action"]
    tmasks.INVALID_ACTION_MULTI_ID,  # MultiDiscrete obs/actions
    tmasks.INVALID_ACTION_DICT_ID,  # Dict obs: the fallback
    *(tenvs.test_env_id(obs, act) for obs in ("vector", "image", "discrete") for act in tenvs.ACTION_KINDS),
    tenvs.test_env_id("tuple", "discrete"),  # Tuple obs: the fallback
]


def _pair(env_id: str, num_envs: int = 3):
    def make():
        return gymnasium.make(env_id)

    reference = RecordEpisodeStatistics(SyncVectorEnv([make] * num_envs))
    lean = LeanEpisodeStatistics(LeanSyncVectorEnv([make] * num_envs))
    return reference, lean


def _assert_same(expected, got, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(expected), path
        for key in expected:
            if key != "t":  # episode wall-clock seconds: same format, not the same clock readings
                _assert_same(expected[key], got[key], f"{path}/{key}")
        return
    if isinstance(expected, tuple):
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
        return
    expected, got = np.asarray(expected), np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape, path
    np.testing.assert_array_equal(got, expected, err_msg=path)


@pytest.mark.parametrize("env_id", IDS)
def test_lean_steps_equal_gymnasiums(env_id):
    reference, lean = _pair(env_id)
    _assert_same(reference.reset(seed=7), lean.reset(seed=7), "reset")
    actions = reference.action_space
    actions.seed(0)
    ends = 0
    for t in range(150):
        action = actions.sample()
        expected, got = reference.step(action), lean.step(action)
        _assert_same(expected, got, f"step {t}")
        ends += int(np.sum(expected[2] | expected[3]))
    assert ends >= 5  # the comparison covered autoreset rows
    assert list(lean.return_queue) == list(reference.return_queue)
    assert list(lean.length_queue) == list(reference.length_queue)
    assert lean.episode_count == reference.episode_count


def test_lean_path_is_the_one_taken_for_array_spaces_only():
    assert LeanSyncVectorEnv([lambda: gymnasium.make(tmasks.INVALID_ACTION_ID)])._lean
    assert not LeanSyncVectorEnv([lambda: gymnasium.make(tmasks.INVALID_ACTION_DICT_ID)])._lean
    same_step = [lambda: gymnasium.make(tenvs.COUNTER_ID)]
    assert not LeanSyncVectorEnv(same_step, autoreset_mode=AutoresetMode.SAME_STEP)._lean


def test_returned_arrays_are_copies():
    env = LeanSyncVectorEnv([lambda: gymnasium.make(tenvs.COUNTER_ID)] * 2)
    first, _ = env.reset(seed=0)
    second, rewards, *_ = env.step(np.zeros(2, np.int64))
    third, *_ = env.step(np.zeros(2, np.int64))
    assert first.tolist() == [[0.0], [0.0]] and second.tolist() == [[1.0], [1.0]]  # not overwritten by step 2
    assert third.tolist() == [[2.0], [2.0]] and rewards.tolist() == [1.0, 1.0]


class _CountsCloses(gymnasium.Env):
    """CounterEnv that counts its close() calls."""

    observation_space = tenvs.CounterEnv().observation_space
    action_space = tenvs.CounterEnv().action_space

    def __init__(self) -> None:
        self.inner, self.closes = tenvs.CounterEnv(), 0

    def reset(self, *, seed=None, options=None):
        return self.inner.reset(seed=seed)

    def step(self, action):
        return self.inner.step(action)

    def close(self) -> None:
        self.closes += 1


def test_taking_over_leaves_the_old_env_nothing_to_close():
    old = SyncVectorEnv([_CountsCloses, _CountsCloses])
    lean = LeanSyncVectorEnv.taking_over(old)
    old.close()
    assert [sub.closes for sub in lean.envs] == [0, 0]
    lean.reset(seed=0)
    assert lean.step(np.zeros(2, np.int64))[0].tolist() == [[1.0], [1.0]]
    lean.close()
    assert [sub.closes for sub in lean.envs] == [1, 1]


def test_make_vector_env_uses_them_with_the_sub_envs_and_spec_of_make_vec():
    env = make_vector_env(tenvs.COUNTER_ID, 2, env_kwargs={"max_episode_steps": 4})
    assert isinstance(env, LeanEpisodeStatistics) and type(env.unwrapped) is LeanSyncVectorEnv
    assert env.unwrapped.spec.id == tenvs.COUNTER_ID and env.unwrapped.spec.kwargs["max_episode_steps"] == 4
    env.reset(seed=0)
    for _ in range(4):
        *_, truncated, info = env.step(np.zeros(2, np.int64))
    assert truncated.all() and info["episode"]["l"].tolist() == [4, 4]
    env.close()
    assert all(sub.unwrapped is not None for sub in env.unwrapped.envs)


@pytest.mark.parametrize("env_id", ["tfpg/CartPoleNoVel-v1", tenvs.test_env_id("image", "discrete")])
def test_lean_normalization_equals_gymnasiums_bit_for_bit(env_id):
    """The same normalized observations and running statistics, exactly; frozen too (evaluation)."""
    reference = NormalizeObservation(make_vector_env(env_id, 4, vectorization="sync"))
    lean = LeanNormalizeObservation(make_vector_env(env_id, 4, vectorization="sync"))
    _assert_same(reference.reset(seed=3)[0], lean.reset(seed=3)[0], "reset")
    reference.action_space.seed(0)
    for t in range(120):
        if t == 100:
            reference.update_running_mean = lean.update_running_mean = False
        action = reference.action_space.sample()
        _assert_same(reference.step(action)[0], lean.step(action)[0], f"step {t}")
        for stat in ("mean", "var"):
            _assert_same(getattr(reference.obs_rms, stat), getattr(lean.obs_rms, stat), f"{stat} at {t}")
        assert reference.obs_rms.count == lean.obs_rms.count
    assert lean.obs_rms.count > 400  # it did update, then froze

"""Tests for envs/: construction, seeding, NEXT_STEP autoreset, normalization state, the test envs."""

import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.vector import SyncVectorEnv

from envs import testing as tenvs
from envs.make import make_vector_env, reset_seeded
from envs.wrappers import freeze_normalization, get_normalization_state, set_normalization_state

ALL_KINDS = [(obs, act) for obs in tenvs.OBS_KINDS for act in tenvs.ACTION_KINDS]


def _rollout(env: gymnasium.vector.VectorEnv, seed: int, steps: int = 30) -> list[np.ndarray]:
    """Observations of a seeded reset and a fixed action sequence (independent of the env's seed)."""
    actions = np.random.default_rng(123).integers(0, 2, size=(steps, env.num_envs))
    obs, _ = env.reset(seed=seed)
    trajectory = [obs]
    for action in actions:
        obs, *_ = env.step(action)
        trajectory.append(obs)
    env.close()
    return trajectory


# --- construction -----------------------------------------------------------------------------------


def test_auto_uses_native_vector_env_and_sync_does_not():
    assert isinstance(make_vector_env("CartPole-v1", 2).unwrapped, CartPoleVectorEnv)
    assert isinstance(make_vector_env("CartPole-v1", 2, vectorization="sync").unwrapped, SyncVectorEnv)
    assert isinstance(make_vector_env(tenvs.COUNTER_ID, 2).unwrapped, SyncVectorEnv)


def test_bad_vectorization_lists_valid_modes():
    with pytest.raises(ValueError, match=r"'threads'.*'sync'.*'async'.*'vector_entry_point'"):
        make_vector_env("CartPole-v1", 2, vectorization="threads")


def test_unknown_id_names_it_and_suggests_close_matches():
    with pytest.raises(gymnasium.error.UnregisteredEnv, match=r"'CartPol-v1'.*Close matches: CartPole-v1"):
        make_vector_env("CartPol-v1", 2)


def test_non_next_step_autoreset_is_refused():
    with pytest.raises(ValueError, match="NEXT_STEP"):
        make_vector_env(tenvs.SAME_STEP_COUNTER_ID, 2)


def test_render_mode_is_passed_through():
    env = make_vector_env(tenvs.test_env_id("vector", "discrete"), 2, render_mode="rgb_array")
    env.reset(seed=0)
    frames = env.render()
    assert len(frames) == 2 and all(frame.shape == (8, 8, 3) for frame in frames)


def test_envs_does_not_import_tensorflow():
    modules = "envs, envs.testing, envs.testing_masks, envs.testing_memory"
    code = f"import sys, {modules}; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- seeding ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_id", "vectorization"),
    [
        ("CartPole-v1", "auto"),
        ("CartPole-v1", "sync"),
        (tenvs.test_env_id("vector", "discrete"), "sync"),
    ],
)
def test_seed_reaches_every_sub_env(env_id, vectorization):
    def run(seed):
        return _rollout(make_vector_env(env_id, 3, seed, vectorization=vectorization), seed)

    first, again, other = run(7), run(7), run(8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    # Sub-env i is seeded with seed + i, so no two sub-envs start alike.
    assert len({row.tobytes() for row in first[0]}) == 3


def test_seed_fixes_space_sampling():
    env_a, env_b = (make_vector_env("CartPole-v1", 4, seed=3) for _ in range(2))
    np.testing.assert_array_equal(env_a.action_space.sample(), env_b.action_space.sample())
    assert env_a.single_action_space.sample() == env_b.single_action_space.sample()
    np.testing.assert_array_equal(env_a.observation_space.sample(), env_b.observation_space.sample())


def test_reset_seeded_matches_manual_seeding():
    env_id = tenvs.test_env_id("vector", "box")
    manual = make_vector_env(env_id, 2, seed=5)
    obs_manual, _ = manual.reset(seed=5)
    helper = make_vector_env(env_id, 2)
    obs_helper, _ = reset_seeded(helper, 5)
    np.testing.assert_array_equal(obs_manual, obs_helper)
    np.testing.assert_array_equal(manual.action_space.sample(), helper.action_space.sample())


# --- NEXT_STEP autoreset on the counter env ---------------------------------------------------------


@pytest.mark.parametrize(
    ("terminate_at", "max_steps", "done_step", "terminated", "truncated"),
    [(3, 10, 3, True, False), (None, 4, 4, False, True), (4, 4, 4, True, True)],
    ids=["terminates", "truncates", "both"],
)
def test_counter_next_step_autoreset(terminate_at, max_steps, done_step, terminated, truncated):
    kwargs = {"terminate_at": terminate_at, "max_episode_steps": max_steps}
    env = make_vector_env(tenvs.COUNTER_ID, 2, env_kwargs=kwargs)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [[0.0], [0.0]])
    # Two episodes: done_step steps, then one autoreset step, twice.
    for _ in range(2):
        for t in range(1, done_step + 1):
            obs, reward, term, trunc, info = env.step(np.array([0, 1]))
            np.testing.assert_array_equal(obs, [[t], [t]])
            np.testing.assert_array_equal(reward, [1.0, 1.0])
            last = t == done_step
            np.testing.assert_array_equal(term, [terminated and last] * 2)
            np.testing.assert_array_equal(trunc, [truncated and last] * 2)
            assert ("episode" in info) == last
        np.testing.assert_array_equal(info["_episode"], [True, True])
        np.testing.assert_array_equal(info["episode"]["r"], [done_step, done_step])
        np.testing.assert_array_equal(info["episode"]["l"], [done_step, done_step])

        # The autoreset step ignores the action: reset observation, reward 0, not done.
        obs, reward, term, trunc, info = env.step(np.array([1, 0]))
        np.testing.assert_array_equal(obs, [[0.0], [0.0]])
        np.testing.assert_array_equal(reward, [0.0, 0.0])
        assert not term.any() and not trunc.any() and "episode" not in info


def test_episode_statistics_are_raw_under_reward_normalization():
    kwargs = {"terminate_at": 3, "max_episode_steps": 10}
    env = make_vector_env(tenvs.COUNTER_ID, 2, normalize_obs=True, normalize_reward=True, env_kwargs=kwargs)
    env.reset(seed=0)
    rewards = [env.step(np.zeros(2, dtype=np.int64))[1] for _ in range(2)]
    *_, info = env.step(np.zeros(2, dtype=np.int64))
    assert not np.allclose(rewards, 1.0)  # the agent sees scaled rewards...
    np.testing.assert_array_equal(info["episode"]["r"], [3.0, 3.0])  # ...the logs see raw ones


# --- normalization state ----------------------------------------------------------------------------


def _normalized_cartpole(seed=0, **kwargs):
    env = make_vector_env("CartPole-v1", 4, seed, normalize_obs=True, normalize_reward=True, **kwargs)
    env.reset(seed=seed)
    return env


def _step(env, steps):
    for _ in range(steps):
        outputs = env.step(env.action_space.sample())
    return outputs


def test_statistics_change_while_stepping_and_get_returns_copies():
    env = _normalized_cartpole()
    before = get_normalization_state(env)
    assert set(before) == {"obs_mean", "obs_var", "obs_count", "ret_mean", "ret_var", "ret_count"}
    before["obs_mean"][:] = 123.0  # a copy: the env must not see this
    _step(env, 20)
    after = get_normalization_state(env)
    assert not np.any(after["obs_mean"] == 123.0)
    assert after["obs_count"] > before["obs_count"] and after["ret_count"] > before["ret_count"]
    assert not np.array_equal(after["ret_var"], before["ret_var"])


def test_no_normalization_gives_empty_state():
    assert get_normalization_state(make_vector_env("CartPole-v1", 2)) == {}


def test_state_round_trip_reproduces_normalized_outputs_exactly():
    source = _normalized_cartpole()
    _step(source, 50)
    state = get_normalization_state(source)

    restored = make_vector_env("CartPole-v1", 4, 0, normalize_obs=True, normalize_reward=True)
    set_normalization_state(restored, state)
    for key, value in get_normalization_state(restored).items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)

    # Same raw inputs through the same statistics: identical normalized observations and rewards.
    obs_source, _ = source.reset(seed=9)
    obs_restored, _ = restored.reset(seed=9)
    np.testing.assert_array_equal(obs_source, obs_restored)
    actions = np.array([0, 1, 1, 0])
    out_source, out_restored = source.step(actions), restored.step(actions)
    for a, b in zip(out_source[:4], out_restored[:4], strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_state_rejects_missing_wrapper_and_bad_shapes():
    state = get_normalization_state(_normalized_cartpole())
    with pytest.raises(ValueError, match=r"obs_mean.*no NormalizeObservation"):
        set_normalization_state(make_vector_env("CartPole-v1", 2), state)

    image_env = make_vector_env(
        tenvs.test_env_id("image", "discrete"), 2, normalize_obs=True, normalize_reward=True
    )
    with pytest.raises(ValueError, match=r"obs_mean has shape \(4,\).*\(8, 8, 3\)"):
        set_normalization_state(image_env, state)

    # Valid obs_* keys but no ret_*: refused as a whole, so the obs statistics stay untouched too.
    target = make_vector_env("CartPole-v1", 4, normalize_obs=True, normalize_reward=True)
    untouched = get_normalization_state(target)
    obs_only = {key: value for key, value in state.items() if key.startswith("obs_")}
    with pytest.raises(ValueError, match=r"lacks.*ret_mean"):
        set_normalization_state(target, obs_only)
    np.testing.assert_array_equal(get_normalization_state(target)["obs_mean"], untouched["obs_mean"])


def test_frozen_env_keeps_statistics_and_unfrozen_resumes():
    env = _normalized_cartpole()
    _step(env, 10)
    freeze_normalization(env)
    frozen = get_normalization_state(env)
    _step(env, 20)
    env.reset()
    for key, value in get_normalization_state(env).items():
        np.testing.assert_array_equal(value, frozen[key], err_msg=key)

    freeze_normalization(env, frozen=False)
    _step(env, 5)
    assert get_normalization_state(env)["obs_count"] > frozen["obs_count"]


def test_clip_bounds_observations_and_space():
    env = _normalized_cartpole(clip_obs=0.5)
    assert np.all(env.single_observation_space.high == 0.5) and np.all(env.observation_space.low == -0.5)
    observations = [_step(env, 1)[0] for _ in range(50)]
    assert all(env.observation_space.contains(obs) for obs in observations)
    assert np.any(np.abs(observations) == 0.5)  # the clip was active, not merely never reached

    unclipped = make_vector_env("CartPole-v1", 2, normalize_obs=True, clip_obs=None)
    assert np.all(np.isinf(unclipped.single_observation_space.high))


@pytest.mark.parametrize("obs_kind", ["dict", "discrete", "tuple"])
def test_normalize_obs_on_non_box_space_raises(obs_kind):
    with pytest.raises(ValueError, match=r"needs a Box observation space.*FlattenObservation"):
        make_vector_env(tenvs.test_env_id(obs_kind, "discrete"), 2, normalize_obs=True)


# --- the tfpg-test envs -----------------------------------------------------------------------------


def _target_bits(obs, obs_kind: str) -> np.ndarray:
    """Reads the hidden 2-bit target off a batch of observations: [N, 2] ints."""
    if obs_kind == "vector":
        return (obs[:, :2] > 0).astype(np.int64)
    if obs_kind == "image":
        return (obs[:, 0, 0, :2] > 127).astype(np.int64)
    if obs_kind == "dict":
        return np.stack([obs["features"][:, 0] > 0, obs["flag"]], axis=1).astype(np.int64)
    if obs_kind == "tuple":
        return np.stack([obs[0][:, 0] > 0, obs[1]["flag"]], axis=1).astype(np.int64)
    return np.stack([obs // 2, obs % 2], axis=1)


def _best_action(bits: np.ndarray, action_kind: str) -> np.ndarray:
    if action_kind == "discrete":
        return 2 * bits[:, 0] + bits[:, 1]
    if action_kind == "box":
        return (bits - 0.5).astype(np.float32)
    return bits.astype(np.int8 if action_kind == "multibinary" else np.int64)


@pytest.mark.parametrize(("obs_kind", "action_kind"), ALL_KINDS)
def test_test_env_random_play_stays_in_spaces_and_hits_both_endings(obs_kind, action_kind):
    env = make_vector_env(tenvs.test_env_id(obs_kind, action_kind), 8, seed=0)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    seen_terminated = seen_truncated = False
    for _ in range(100):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert reward.shape == (8,) and np.all((reward >= -0.5) & (reward <= 1.0))
        seen_terminated |= terminated.any()
        seen_truncated |= truncated.any()
    assert seen_terminated and seen_truncated


@pytest.mark.parametrize(("obs_kind", "action_kind"), ALL_KINDS)
def test_test_env_target_is_readable_from_observation(obs_kind, action_kind):
    """Acting on the decoded target earns the maximal reward 1 on every step; random play earns less."""
    env = make_vector_env(tenvs.test_env_id(obs_kind, action_kind), 4, seed=1)
    obs, _ = env.reset(seed=1)
    after_done = np.zeros(4, dtype=bool)
    best_rewards, random_rewards = [], []
    for _ in range(60):
        action = _best_action(_target_bits(obs, obs_kind), action_kind)
        obs, reward, terminated, truncated, _ = env.step(action)
        best_rewards.append(reward[~after_done])  # autoreset steps pay 0 by design
        after_done = terminated | truncated
    np.testing.assert_allclose(np.concatenate(best_rewards), 1.0)

    env.reset(seed=1)
    for _ in range(60):
        random_rewards.append(env.step(env.action_space.sample())[1])
    assert np.mean(random_rewards) < 0.7


def test_test_env_id_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="obs_kind 'pixels'"):
        tenvs.test_env_id("pixels", "discrete")
    with pytest.raises(ValueError, match="action_kind 'tuple'"):
        tenvs.test_env_id("vector", "tuple")

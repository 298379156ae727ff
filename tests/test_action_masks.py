"""Action-mask sources (agents/experience/masks.py, envs.wrappers.ActionMaskToInfo) on real vector envs, and
the masking test envs."""

import gymnasium
import numpy as np
import pytest

from agents.config import ConfigError, resolve_config
from agents.experience.masks import (
    ActionMaskError,
    ActionMasks,
    MaskSource,
    action_mask_size,
    invalid_action_flags,
    resolve_mask_source,
    valid_action_counts,
)
from envs import testing as tenvs
from envs import testing_masks
from envs.make import make_vector_env
from envs.wrappers import get_normalization_state, strip_observation_space

N = 4


def _env(env_id: str, num_envs: int = N, key: str | None = "action_mask", **kwargs):
    """A vector env as tfpg makes it for action_mask=auto (key) or info:/none (key=None)."""
    return make_vector_env(env_id, num_envs, seed=0, vectorization="sync", action_mask_key=key, **kwargs)


def _masks_for(env_id: str, setting: str = "auto", num_envs: int = N):
    env = _env(env_id, num_envs)
    source = resolve_mask_source(setting, env, env_id, seed=0)
    obs, info = env.reset(seed=0)
    masks = None if source.kind == "none" else ActionMasks(source, env.single_action_space, env_id)
    return env, obs, info, source, masks


def _sample_valid(rng, mask, nvec):
    """One valid action per row of a flat mask [N, sum(nvec)] → [N] (Discrete) or [N, D]."""
    starts = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    actions = np.stack(
        [
            [rng.choice(np.flatnonzero(row[s : s + n])) for s, n in zip(starts, nvec, strict=True)]
            for row in mask
        ]
    )
    return actions[:, 0] if len(nvec) == 1 else actions


# --- the setting -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("auto", "auto", "action_mask"),
        ("none", "none", "action_mask"),
        ("obs", "obs", "action_mask"),
        ("obs:legal", "obs", "legal"),
        ("info:valid_moves", "info", "valid_moves"),
    ],
)
def test_parse_accepts_the_four_forms(text, kind, key):
    source = MaskSource.parse(text)
    assert (source.kind, source.key) == (kind, key)
    assert MaskSource.parse(str(source)) == source


@pytest.mark.parametrize("text", ["", "mask", "obs:", "auto:x", "none:action_mask", "infos:action_mask"])
def test_parse_refuses_anything_else(text):
    with pytest.raises(ValueError, match="auto, none, obs:KEY, info:KEY"):
        MaskSource.parse(text)


def test_config_field_is_validated_at_resolution():
    assert resolve_config("ppo", "CartPole-v1", {}).run.action_mask == "auto"
    assert resolve_config("ppo", "CartPole-v1", {"action_mask": "info:m"}).run.action_mask == "info:m"
    with pytest.raises(ConfigError, match="action_mask='obs:'"):
        resolve_config("ppo", "CartPole-v1", {"action_mask": "obs:"})


# --- resolving auto and explicit sources ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "resolved"),
    [
        (testing_masks.INVALID_ACTION_ID, "info:action_mask"),
        (testing_masks.INVALID_ACTION_DICT_ID, "obs:action_mask"),
        (testing_masks.INVALID_ACTION_MULTI_DICT_ID, "obs:action_mask"),
        ("CartPole-v1", "none"),
    ],
)
def test_auto_resolves_dict_key_then_reset_info_then_none(env_id, resolved):
    env, *_, source, _ = _masks_for(env_id)
    assert str(source) == resolved
    env.close()


def test_auto_is_none_for_actions_that_cannot_be_masked_without_resetting_the_env():
    env = _env(tenvs.test_env_id("vector", "box"), 2)
    env.unwrapped.reset = None  # resolving must not need it
    assert str(resolve_mask_source("auto", env, "box-env")) == "none"


def test_reading_the_reset_info_leaves_normalization_and_the_first_reset_as_they_were():
    seen = []
    for probe in (False, True):
        env = _env(tenvs.test_env_id("vector", "discrete"), 2, key=None, normalize_obs=True)
        if probe:
            assert str(resolve_mask_source("auto", env, "x", seed=0)) == "none"  # it did reset the base env
        obs, _ = env.reset(seed=3)
        seen.append((obs, get_normalization_state(env)))
        env.close()
    np.testing.assert_array_equal(seen[0][0], seen[1][0])
    for key, value in seen[0][1].items():
        np.testing.assert_array_equal(value, seen[1][1][key])


def test_explicit_sources_the_env_lacks_are_refused_naming_the_env():
    env = _env(testing_masks.INVALID_ACTION_ID, 2)
    with pytest.raises(ActionMaskError, match=r"InvalidAction-v0: action_mask=obs:action_mask needs a Dict"):
        resolve_mask_source("obs", env, testing_masks.INVALID_ACTION_ID)
    with pytest.raises(ActionMaskError, match=r"InvalidAction-v0: action_mask=info:legal.*no 'legal'"):
        resolve_mask_source("info:legal", env, testing_masks.INVALID_ACTION_ID)
    assert str(resolve_mask_source("none", env, "x")) == "none"
    # the key is not there: nothing moved
    dict_env = _env(testing_masks.INVALID_ACTION_DICT_ID, 2, key="legal")
    with pytest.raises(
        ActionMaskError, match=r"obs:legal needs a Dict.*keys \['action_mask', 'observation'\]"
    ):
        resolve_mask_source("obs:legal", dict_env, testing_masks.INVALID_ACTION_DICT_ID)


def test_box_and_multibinary_actions_refuse_masking():
    for space in (gymnasium.spaces.Box(-1, 1, (2,)), gymnasium.spaces.MultiBinary(3)):
        with pytest.raises(ActionMaskError, match=r"Discrete or 1-D MultiDiscrete.*action_mask=none"):
            action_mask_size(space)
    assert action_mask_size(gymnasium.spaces.MultiDiscrete([3, 4])) == 7
    with pytest.raises(ActionMaskError, match="Box"):
        ActionMasks(MaskSource("info"), gymnasium.spaces.Box(-1, 1, (2,)), "some-env")


# --- extraction on real vector envs --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "nvec", "obs_space"),
    [
        (testing_masks.INVALID_ACTION_ID, (16,), gymnasium.spaces.Discrete(16)),
        (testing_masks.INVALID_ACTION_DICT_ID, (16,), gymnasium.spaces.Discrete(16)),
        (testing_masks.INVALID_ACTION_MULTI_ID, (6, 6), gymnasium.spaces.MultiDiscrete([6, 6])),
        (testing_masks.INVALID_ACTION_MULTI_DICT_ID, (6, 6), gymnasium.spaces.MultiDiscrete([6, 6])),
    ],
)
def test_extracted_mask_is_each_sub_envs_own_and_obs_key_is_hidden(env_id, nvec, obs_space):
    env, obs, info, _, masks = _masks_for(env_id)
    assert env.single_observation_space == obs_space and masks.size == sum(nvec)
    rng = np.random.default_rng(0)
    done = np.zeros(N, bool)
    for step in range(60):
        mask = masks(info, N, f"step {step}")
        assert mask.dtype == bool and mask.shape == (N, sum(nvec))
        assert not isinstance(obs, dict) and obs_space.contains(obs[0])
        own = np.stack(env.unwrapped.call("action_masks"))  # each sub-env's mask, read independently
        np.testing.assert_array_equal(mask[~done], own[~done])
        obs, _, terminated, truncated, info = env.step(_sample_valid(rng, mask, nvec))
        assert not terminated.any(), "a valid action never ends these episodes early"
        done = terminated | truncated
    env.close()


def test_the_valid_set_changes_every_step_and_the_right_action_stays_valid():
    env = testing_masks.InvalidActionEnv(nvec=8, n_invalid_actions=5)
    obs, info = env.reset(seed=1)
    masks = [info["action_mask"]]
    for _ in range(10):
        assert info["action_mask"][obs] and info["action_mask"].sum() == 3
        obs, reward, *_, info = env.step(obs)
        assert reward == 1.0
        masks.append(info["action_mask"])
    assert len({m.tobytes() for m in masks}) > 5


def test_an_invalid_action_ends_the_episode_with_the_penalty():
    env = testing_masks.InvalidActionEnv(nvec=[4, 4], n_invalid_actions=4)
    obs, info = env.reset(seed=0)
    flat = info["action_mask"]
    bad_dim0 = int(np.flatnonzero(~flat[:4])[0]) if not flat[:4].all() else None
    action = (
        np.array([bad_dim0, obs[1]])
        if bad_dim0 is not None
        else np.array([obs[0], np.flatnonzero(~flat[4:])[0]])
    )
    _, reward, terminated, truncated, _ = env.step(action)
    assert (reward, terminated, truncated) == (-10.0, True, False)


def test_unmasked_random_play_takes_many_invalid_actions():
    env = make_vector_env(testing_masks.INVALID_ACTION_ID, N, seed=0, vectorization="sync")
    env.reset(seed=0)
    penalties = 0
    for _ in range(100):
        _, reward, *_ = env.step(env.action_space.sample())
        penalties += int((reward == -10.0).sum())
    assert penalties > 100  # 12 of 16 actions invalid: ~3/4 of the non-reset steps
    env.close()


# --- bad masks: clear errors -----------------------------------------------------------------------------
def _discrete_masks(size=3, env_id="my-env"):
    masks = ActionMasks(MaskSource("info"), gymnasium.spaces.Discrete(size), env_id)
    return lambda info, step: masks(info, 2, f"vector step {step}")


def _info(mask, present=None, done=None):
    """A vector info with the mask; ``done`` [2]: the step that produced it ended those envs' episodes."""
    mask = np.asarray(mask)
    info = {"action_mask": mask, "_action_mask": np.ones(len(mask), bool) if present is None else present}
    if done is not None:
        info["_episode"] = np.asarray(done)  # as RecordEpisodeStatistics flags it
    return info


def test_wrong_shape_names_env_step_and_shapes():
    with pytest.raises(
        ActionMaskError,
        match=r"my-env: info\['action_mask'\] at vector step 7 has shape "
        r"\(2, 4\), expected \(2, 3\) = \(num_envs, n=3",
    ):
        _discrete_masks()(_info(np.ones((2, 4), bool)), 7)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((2, 3), np.float32), "dtype float32; an action mask must be bool"),
        (np.full((2, 3), 2, np.int64), "dtype int64 with values other than 0/1"),
    ],
)
def test_wrong_dtype_is_refused(mask, message):
    with pytest.raises(ActionMaskError, match=message):
        _discrete_masks()(_info(mask), 0)


def test_integer_and_list_masks_are_accepted_as_bool():
    mask = _discrete_masks()(_info(np.array([[1, 0, 1], [0, 1, 0]], np.int8)), 0)
    np.testing.assert_array_equal(mask, [[True, False, True], [False, True, False]])
    lists = np.empty(2, dtype=object)
    lists[0], lists[1] = [True, False, False], [False, False, True]
    mask = _discrete_masks()({"action_mask": lists, "_action_mask": np.ones(2, bool)}, 0)
    np.testing.assert_array_equal(mask, [[True, False, False], [False, False, True]])
    lists[1] = [True]
    with pytest.raises(ActionMaskError, match="different lengths"):
        _discrete_masks()({"action_mask": lists, "_action_mask": np.ones(2, bool)}, 0)


def test_a_state_with_no_valid_action_is_an_error_unless_the_env_ignores_the_action():
    mask = np.array([[True, False, False], [False, False, False]])
    with pytest.raises(ActionMaskError, match=r"my-env: sub-env 1 has no valid action at vector step 3"):
        _discrete_masks()(_info(mask), 3)
    # The row after a done step (NEXT_STEP autoreset): the env ignores the action; a finished game may have
    # no valid move. Its mask becomes all True instead.
    filled = _discrete_masks()(_info(mask, done=[False, True]), 3)
    np.testing.assert_array_equal(filled, [[True, False, False], [True, True, True]])


def test_multidiscrete_needs_a_valid_entry_in_every_dimension():
    space = gymnasium.spaces.MultiDiscrete([2, 3])
    masks = ActionMasks(MaskSource("info"), space, "md-env")
    ok = np.array([[True, False, False, False, True]] * 2)
    assert masks(_info(ok), 2, "step 0").shape == (2, 5)
    bad = np.array([[True, False, False, False, True], [True, True, False, False, False]])
    with pytest.raises(ActionMaskError, match=r"sub-env 1 has no valid action.*each MultiDiscrete dimension"):
        masks(_info(bad), 2, "step 0")


def test_a_missing_mask_is_an_error_unless_the_env_ignores_the_action():
    mask, present = np.ones((2, 3), bool), np.array([True, False])
    with pytest.raises(
        ActionMaskError, match=r"sub-env\(s\) \[1\] reported no info\['action_mask'\] at vector"
    ):
        _discrete_masks()(_info(mask, present), 5)
    _discrete_masks()(_info(mask, present, done=[False, True]), 5)
    with pytest.raises(ActionMaskError, match=r"sub-env\(s\) \[0, 1\] reported no"):
        _discrete_masks()({}, 5)


def test_stripping_the_mask_keeps_a_multi_key_dict_and_refuses_a_mask_only_observation():
    box, legal = gymnasium.spaces.Box(0, 1, (2,)), gymnasium.spaces.MultiBinary(4)
    space = gymnasium.spaces.Dict({"a": box, "b": gymnasium.spaces.Discrete(3), "legal": legal})
    assert set(strip_observation_space(space, "legal").spaces) == {"a", "b"}
    assert strip_observation_space(gymnasium.spaces.Dict({"a": box, "legal": legal}), "legal") == box
    with pytest.raises(ValueError, match="nothing but the action mask 'legal'"):
        strip_observation_space(gymnasium.spaces.Dict({"legal": legal}), "legal")


class _OneHotState(gymnasium.ObservationWrapper):
    """InvalidActionDict's state one-hot as a Box: a Dict of a Box observation and a mask, to normalize."""

    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gymnasium.spaces.Dict(
            {
                "observation": gymnasium.spaces.Box(0, 1, (16,), np.float32),
                "action_mask": env.observation_space["action_mask"],
            }
        )

    def observation(self, obs):
        return {
            "observation": np.eye(16, dtype=np.float32)[obs["observation"]],
            "action_mask": obs["action_mask"],
        }


BOX_MASK_ID = "tfpg-local/BoxMaskDict-v0"
gymnasium.register(
    BOX_MASK_ID,
    entry_point=lambda: _OneHotState(testing_masks.InvalidActionEnv(16, 12, mask_in="obs")),
    max_episode_steps=20,
)


def test_an_observation_mask_moves_into_info_untouched_by_observation_normalization():
    # The Dict observation {"observation", "action_mask"} becomes the bare observation, so observation
    # normalization (Box only) applies to it; the mask reaches info as the env reported it.
    with pytest.raises(ValueError, match="needs a Box observation space"):  # the Dict could never normalize
        _env(BOX_MASK_ID, 2, key=None, normalize_obs=True)
    env = _env(BOX_MASK_ID, 2, normalize_obs=True)
    assert env.single_observation_space.shape == (16,)
    obs, info = env.reset(seed=0)
    for _ in range(5):
        assert obs.dtype == np.float32 and not np.isin(obs, (0.0, 1.0)).all()  # normalized
        assert info["action_mask"].dtype == np.int8 and info["_action_mask"].all()
        np.testing.assert_array_equal(info["action_mask"], np.stack(env.unwrapped.call("action_masks")))
        action = np.array([np.flatnonzero(row)[0] for row in info["action_mask"]])
        obs, _, _, _, info = env.step(action)
    env.close()


# --- the sb3-contrib look-alikes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "make_sb3"),
    [
        (
            testing_masks.SB3_INVALID_DISCRETE_ID,
            lambda e: e.InvalidActionEnvDiscrete(dim=80, n_invalid_actions=60),
        ),
        (
            testing_masks.SB3_INVALID_MULTI_DISCRETE_ID,
            lambda e: e.InvalidActionEnvMultiDiscrete(dims=[20, 20], n_invalid_actions=30),
        ),
    ],
)
def test_sb3_lookalikes_match_sb3_contribs_envs(env_id, make_sb3):
    sb3_envs = pytest.importorskip("sb3_contrib.common.envs")
    ours, theirs = gymnasium.make(env_id).unwrapped, make_sb3(sb3_envs)
    assert ours.observation_space == theirs.observation_space and ours.action_space == theirs.action_space
    nvec = np.atleast_1d(getattr(ours.action_space, "nvec", getattr(ours.action_space, "n", None)))
    offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    for env in (ours, theirs):
        obs, _ = env.reset(seed=0)
        total, length, valid = 0.0, 0, set()
        while True:
            mask = np.asarray(env.action_masks(), bool)
            valid.add(int(mask.sum()))
            assert mask[offsets + np.atleast_1d(obs)].all()  # the right action is valid
            obs_next, reward, terminated, truncated, _ = env.step(
                obs if length % 2 else env.action_space.sample()
            )
            total, length = total + reward, length + 1
            obs = obs_next
            if terminated or truncated:
                break
        assert length == 100 and not terminated and total >= 50  # every other step right: ≥ 50
        assert valid == {nvec.sum() - env.n_invalid_actions}


# --- the rollout metrics ---------------------------------------------------------------------------------
def test_valid_counts_and_invalid_flags_by_hand():
    mask = np.array([[[True, False, True], [False, False, True]]])  # [T=1, N=2, 3]
    np.testing.assert_array_equal(valid_action_counts(mask), [[2, 1]])
    discrete = gymnasium.spaces.Discrete(3)
    np.testing.assert_array_equal(invalid_action_flags(mask, np.array([[0, 2]]), discrete), [[False, False]])
    np.testing.assert_array_equal(invalid_action_flags(mask, np.array([[1, 0]]), discrete), [[True, True]])
    # MultiDiscrete([2, 3]): flat mask = dim 0's 2 entries, then dim 1's 3.
    multi = gymnasium.spaces.MultiDiscrete([2, 3])
    flat = np.array([[True, False, False, True, True], [True, True, True, False, False]])
    actions = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(invalid_action_flags(flat, actions, multi), [False, False])
    np.testing.assert_array_equal(invalid_action_flags(flat, np.array([[1, 1], [0, 1]]), multi), [True, True])
    np.testing.assert_array_equal(invalid_action_flags(flat, np.array([[0, 0], [0, 2]]), multi), [True, True])

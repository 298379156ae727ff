"""Space configs, TF specs and dummy observations."""

import json

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from networks import action_spec, dummy_observation, observation_spec, space_from_config, space_to_config

SPACES = {
    "box_inf": gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
    "box_mixed": gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, np.inf], np.float32)),
    "box_float64": gym.spaces.Box(-2.0, 3.0, (2, 2), np.float64),
    "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
    "discrete": gym.spaces.Discrete(5),
    "discrete_start": gym.spaces.Discrete(3, start=-1),
    "multi_discrete": gym.spaces.MultiDiscrete([2, 3, 4]),
    "multi_binary": gym.spaces.MultiBinary(4),
    "dict": gym.spaces.Dict(
        [
            ("zeta", gym.spaces.Box(-1.0, 1.0, (2,), np.float32)),
            (
                "alpha",
                gym.spaces.Dict(
                    [("pos", gym.spaces.Discrete(2)), ("img", gym.spaces.Box(0, 255, (4, 4, 1), np.uint8))]
                ),
            ),
        ]
    ),
    # Blackjack-v1's space, and a Tuple nesting a Dict nesting a Tuple.
    "tuple": gym.spaces.Tuple([gym.spaces.Discrete(32), gym.spaces.Discrete(11), gym.spaces.Discrete(2)]),
    "tuple_nested": gym.spaces.Tuple(
        [
            gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
            gym.spaces.Dict(
                [("b", gym.spaces.Tuple([gym.spaces.MultiBinary(3), gym.spaces.Discrete(4, start=1)]))]
            ),
        ]
    ),
}


@pytest.mark.parametrize("name", SPACES)
def test_config_round_trip_through_json(name):
    space = SPACES[name]
    config = json.loads(json.dumps(space_to_config(space), allow_nan=False))
    rebuilt = space_from_config(config)
    assert rebuilt == space
    assert rebuilt.dtype == space.dtype


def test_dict_keeps_key_order():
    rebuilt = space_from_config(json.loads(json.dumps(space_to_config(SPACES["dict"]))))
    assert list(rebuilt.spaces) == ["zeta", "alpha"]
    assert list(rebuilt["alpha"].spaces) == ["pos", "img"]


def test_uniform_box_bounds_stored_as_scalars():
    config = space_to_config(gym.spaces.Box(0, 255, (84, 84, 3), np.uint8))
    assert config["low"] == 0 and config["high"] == 255


def test_unsupported_space_raises_naming_it():
    with pytest.raises(ValueError, match=r"Text.*supported spaces are: Box, Discrete.*Tuple"):
        space_to_config(gym.spaces.Text(4))
    with pytest.raises(ValueError, match=r"Text.*supported spaces are"):
        observation_spec(gym.spaces.Tuple([gym.spaces.Discrete(2), gym.spaces.Text(4)]))
    with pytest.raises(ValueError, match="Graph"):
        space_from_config({"type": "Graph"})


def test_observation_spec_matches_vector_env_dtypes():
    assert observation_spec(SPACES["box_inf"]) == tf.TensorSpec([None, 3], tf.float32)
    assert observation_spec(SPACES["image"]) == tf.TensorSpec([None, 8, 8, 3], tf.uint8)
    assert observation_spec(SPACES["discrete"]) == tf.TensorSpec([None], tf.int64)
    assert observation_spec(SPACES["multi_discrete"]) == tf.TensorSpec([None, 3], tf.int64)
    assert observation_spec(SPACES["multi_binary"]) == tf.TensorSpec([None, 4], tf.int8)
    spec = observation_spec(SPACES["dict"])
    assert list(spec) == ["zeta", "alpha"]
    assert spec["alpha"]["pos"] == tf.TensorSpec([None], tf.int64)
    nested = observation_spec(SPACES["tuple_nested"])
    assert isinstance(nested, tuple) and isinstance(nested[1]["b"], tuple)
    assert nested[1]["b"][0] == tf.TensorSpec([None, 3], tf.int8)


def test_tuple_spec_matches_a_real_vector_env():
    envs = gym.make_vec("Blackjack-v1", 2, vectorization_mode="sync")
    obs, _ = envs.reset(seed=0)
    spec = observation_spec(envs.single_observation_space)
    assert isinstance(obs, tuple) and len(obs) == len(spec) == 3
    for part, part_spec in zip(obs, spec, strict=True):
        assert part_spec.is_compatible_with(tf.constant(part))
    envs.close()


def test_observation_spec_matches_a_real_vector_env():
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2)
    obs, _ = envs.reset(seed=0)
    assert observation_spec(envs.single_observation_space).is_compatible_with(tf.constant(obs))
    envs.close()


def test_action_spec():
    assert action_spec(gym.spaces.Discrete(3)) == tf.TensorSpec([None], tf.int32)
    assert action_spec(gym.spaces.MultiDiscrete([2, 3])) == tf.TensorSpec([None, 2], tf.int32)
    assert action_spec(gym.spaces.MultiBinary(5)) == tf.TensorSpec([None, 5], tf.int32)
    assert action_spec(gym.spaces.Box(-1, 1, (2,))) == tf.TensorSpec([None, 2], tf.float32)
    with pytest.raises(ValueError, match="one-dimensional"):
        action_spec(gym.spaces.Box(-1, 1, (2, 2)))


def _first(obs):
    if isinstance(obs, dict):
        return {k: _first(v) for k, v in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_first(v) for v in obs)
    return obs[0]


@pytest.mark.parametrize("name", SPACES)
def test_dummy_observation_fits_spec_and_space(name):
    space = SPACES[name]
    obs = dummy_observation(space, 3)
    for spec, x in zip(tf.nest.flatten(observation_spec(space)), tf.nest.flatten(obs), strict=True):
        assert spec.is_compatible_with(tf.constant(x)) and x.shape[0] == 3
    assert space.contains(_first(obs))


def test_dummy_observation_clips_into_box():
    obs = dummy_observation(gym.spaces.Box(1.0, 2.0, (2,), np.float32), 2)
    np.testing.assert_array_equal(obs, np.ones((2, 2), np.float32))
    assert dummy_observation(gym.spaces.Discrete(3, start=-1), 2).tolist() == [-1, -1]

"""Layers, encoders, heads and ActorCritic: configs, save/load, shapes, trunks, tracing."""

import gymnasium as gym
import keras
import numpy as np
import pytest
import tensorflow as tf

from networks import (
    MLP,
    ActorCritic,
    BernoulliHead,
    CategoricalHead,
    ConvEncoder,
    DictEncoder,
    FlattenCast,
    GaussianHead,
    Linear,
    MultiCategoricalHead,
    MultiOneHot,
    OneHot,
    SquashedDiagGaussian,
    TupleEncoder,
    ValueHead,
    action_spec,
    dummy_observation,
    make_encoder,
    make_policy_head,
    observation_spec,
)

IMAGE = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
OBSERVATION_SPACES = {
    "vector": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
    "image": IMAGE,
    "dict": gym.spaces.Dict([("img", IMAGE), ("pos", gym.spaces.Discrete(3))]),
    "discrete": gym.spaces.Discrete(5),
    # Nested both ways: a Tuple holding a Dict that holds a Tuple.
    "tuple": gym.spaces.Tuple(
        [
            gym.spaces.Discrete(3),
            gym.spaces.Dict(
                [
                    ("img", IMAGE),
                    ("pos", gym.spaces.Tuple([gym.spaces.Box(-1.0, 1.0, (2,)), gym.spaces.MultiBinary(2)])),
                ]
            ),
        ]
    ),
}
ACTION_SPACES = {
    "discrete": gym.spaces.Discrete(3),
    "box": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
    "multi_discrete": gym.spaces.MultiDiscrete([2, 3]),
    "multi_binary": gym.spaces.MultiBinary(4),
}


def random_observation(space, batch_size, seed=0):
    """A batch of valid observations with `observation_spec` dtypes (nested as the space is)."""
    space.seed(seed)
    samples = [space.sample() for _ in range(batch_size)]
    return _stack(space, samples)


def _stack(space, samples):
    if isinstance(space, gym.spaces.Dict):
        return {key: _stack(sub, [s[key] for s in samples]) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_stack(sub, [s[i] for s in samples]) for i, sub in enumerate(space.spaces))
    return np.stack(samples).astype(space.dtype)


def _rand(*shape):
    return np.random.default_rng(0).normal(size=shape).astype(np.float32)


# (layer factory, input batch); every custom layer appears at least once.
LAYER_CASES = {
    "linear": (lambda: Linear(3, activation="relu", seed=1), _rand(5, 4)),
    "mlp": (lambda: MLP((8, 4), "relu"), _rand(5, 4)),
    "mlp_empty": (lambda: MLP(()), _rand(5, 4)),
    "flatten_cast": (FlattenCast, np.arange(30, dtype=np.int8).reshape(5, 2, 3)),
    "one_hot": (lambda: OneHot(4, start=1), np.array([1, 2, 3, 4, 1], np.int64)),
    "multi_one_hot": (lambda: MultiOneHot([2, 3]), np.array([[0, 2], [1, 0]], np.int64)),
    "conv_small": (lambda: ConvEncoder("small"), random_observation(IMAGE, 5)),
    "conv_nature": (
        lambda: ConvEncoder("nature"),
        random_observation(gym.spaces.Box(0, 255, (36, 36, 1), np.uint8), 2),
    ),
    "dict": (
        lambda: DictEncoder(OBSERVATION_SPACES["dict"]),
        random_observation(OBSERVATION_SPACES["dict"], 5),
    ),
    "tuple": (
        lambda: TupleEncoder(OBSERVATION_SPACES["tuple"]),
        random_observation(OBSERVATION_SPACES["tuple"], 5),
    ),
    "categorical_head": (lambda: CategoricalHead(3), _rand(5, 4)),
    "gaussian_head": (lambda: GaussianHead(2, log_std_init=-0.5), _rand(5, 4)),
    "gaussian_head_state_std": (lambda: GaussianHead(2, -0.5, state_dependent_std=True), _rand(5, 4)),
    "multi_categorical_head": (lambda: MultiCategoricalHead([2, 3]), _rand(5, 4)),
    "bernoulli_head": (lambda: BernoulliHead(4), _rand(5, 4)),
    "value_head": (ValueHead, _rand(5, 4)),
}


def _shape_of(x):
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_shape_of(v) for v in x)
    return (None, *x.shape[1:])


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_config_round_trip_and_output_shape(case):
    factory, inputs = LAYER_CASES[case]
    layer = factory()
    outputs = layer(inputs)
    assert outputs.dtype == tf.float32
    expected = layer.compute_output_shape(_shape_of(inputs))
    assert tuple(expected) == (None, *outputs.shape[1:])

    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build(_shape_of(inputs))
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(inputs), outputs, rtol=1e-6)


def test_linear_is_orthogonal_scaled_by_gain_with_zero_bias():
    layer = Linear(4, kernel_gain=0.5)
    layer.build((None, 6))
    kernel = layer.kernel.numpy()  # [6, 4]: orthonormal columns times the gain
    np.testing.assert_allclose(kernel.T @ kernel, 0.25 * np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(4))


def test_one_hot_encodings():
    np.testing.assert_array_equal(OneHot(3, start=-1)(np.array([-1, 1])), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(MultiOneHot([2, 3])(np.array([[1, 0]])), [[0, 1, 1, 0, 0]])


def test_gaussian_head_broadcasts_state_independent_log_std():
    head = GaussianHead(2, log_std_init=-0.5)
    params = head(_rand(5, 4)).numpy()
    assert params.shape == (5, 4)
    np.testing.assert_allclose(params[:, 2:], -0.5)
    assert [w.name for w in head.trainable_weights].count("log_std") == 1


def test_gaussian_head_state_dependent_log_std_varies_with_state_and_is_bounded():
    head = GaussianHead(2, log_std_init=-0.5, state_dependent_std=True)
    params = head(_rand(5, 4)).numpy()
    assert params.shape == (5, 4)
    assert "log_std" not in [w.name for w in head.trainable_weights]  # a Linear, not a free vector
    assert np.ptp(params[:, 2], axis=0) > 0  # differs between states
    np.testing.assert_allclose(params[:, 2:], -0.5, atol=0.2)  # gain-0.01 init: close to log_std_init
    big = head(100_000 * _rand(3, 4)).numpy()[:, 2:]
    assert big.min() >= -20.0 and big.max() <= 2.0


def test_actor_critic_squashed_state_dependent_round_trip():
    box = ACTION_SPACES["box"]
    model = ActorCritic(
        OBSERVATION_SPACES["vector"], box, (8,), squash_actions=True, state_dependent_std=True
    )
    assert isinstance(model.distribution, SquashedDiagGaussian)
    clone = ActorCritic.from_config(model.get_config())
    assert clone.distribution == model.distribution and clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    obs = random_observation(OBSERVATION_SPACES["vector"], 4)
    np.testing.assert_allclose(clone(obs)["policy"], model(obs)["policy"], rtol=1e-6)
    actions = model.distribution.sample(model(obs)["policy"], tf.random.Generator.from_seed(0)).numpy()
    assert ((actions >= box.low) & (actions <= box.high)).all()


def test_make_encoder_choices_and_errors():
    assert make_encoder(gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)).architecture == "nature"
    assert make_encoder(IMAGE).architecture == "small"
    assert isinstance(make_encoder(gym.spaces.Box(0.0, 1.0, (8, 8, 3), np.float32)), FlattenCast)
    assert isinstance(make_encoder(gym.spaces.MultiBinary(3)), FlattenCast)
    assert isinstance(make_encoder(gym.spaces.MultiDiscrete([2, 2])), MultiOneHot)
    assert isinstance(make_encoder(gym.spaces.Tuple([gym.spaces.Discrete(2)])), TupleEncoder)
    with pytest.raises(ValueError, match=r"Text.*supported: Box"):
        make_encoder(gym.spaces.Text(4))
    with pytest.raises(ValueError, match="one-dimensional"):
        make_policy_head(gym.spaces.Box(-1, 1, (2, 2)))
    with pytest.raises(ValueError, match="Unsupported action space"):
        make_policy_head(gym.spaces.Tuple([gym.spaces.Discrete(2)]))


@pytest.mark.parametrize("obs_name", OBSERVATION_SPACES)
@pytest.mark.parametrize("act_name", ACTION_SPACES)
def test_output_shapes_and_dtypes(obs_name, act_name):
    obs_space, act_space = OBSERVATION_SPACES[obs_name], ACTION_SPACES[act_name]
    model = ActorCritic(obs_space, act_space, hidden_sizes=(16,))
    out = model(random_observation(obs_space, 3))
    dist = model.distribution
    assert out["policy"].shape == (3, dist.param_size) and out["policy"].dtype == tf.float32
    assert out["value"].shape == (3,) and out["value"].dtype == tf.float32
    actions = dist.sample(out["policy"], tf.random.Generator.from_seed(0))
    assert action_spec(act_space).is_compatible_with(actions)
    assert dist.log_prob(out["policy"], actions).shape == (3,)
    assert dist.entropy(out["policy"]).shape == (3,)


def _config_cases():
    return [
        ("vector", "box", False),
        ("dict", "multi_discrete", True),
        ("discrete", "multi_binary", False),
        ("image", "discrete", True),
        ("tuple", "box", False),
    ]


@pytest.mark.parametrize(("obs_name", "act_name", "share"), _config_cases())
def test_actor_critic_config_round_trip(obs_name, act_name, share):
    obs_space = OBSERVATION_SPACES[obs_name]
    model = ActorCritic(obs_space, ACTION_SPACES[act_name], (16, 8), "relu", share, log_std_init=-1.0)
    clone = ActorCritic.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.observation_space == obs_space and clone.distribution == model.distribution
    clone.set_weights(model.get_weights())
    obs = random_observation(obs_space, 4)
    for key, value in model(obs).items():
        np.testing.assert_allclose(clone(obs)[key], value, rtol=1e-6)


@pytest.mark.parametrize(("obs_name", "act_name", "share"), [*_config_cases()[:2], _config_cases()[-1]])
def test_keras_file_save_load(tmp_path, obs_name, act_name, share):
    obs_space = OBSERVATION_SPACES[obs_name]
    model = ActorCritic(obs_space, ACTION_SPACES[act_name], (16,), share_trunk=share)
    # Move the weights off their initial values, so equal outputs mean the weights were loaded.
    model.set_weights([w + 0.1 for w in model.get_weights()])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ActorCritic)
    obs = random_observation(obs_space, 4)
    for key, value in model(obs).items():
        np.testing.assert_allclose(loaded(obs)[key], value, rtol=1e-6)


def test_spaces_may_be_given_as_configs():
    model = ActorCritic(OBSERVATION_SPACES["vector"], ACTION_SPACES["box"])
    config = model.get_config()
    assert isinstance(config["observation_space"], dict)
    assert (
        ActorCritic(config["observation_space"], config["action_space"]).action_space == ACTION_SPACES["box"]
    )


def test_separate_trunks_have_more_weights_and_are_independent():
    obs_space, act_space = OBSERVATION_SPACES["vector"], ACTION_SPACES["discrete"]
    separate = ActorCritic(obs_space, act_space, (16, 16), share_trunk=False)
    shared = ActorCritic(obs_space, act_space, (16, 16), share_trunk=True)
    assert separate.count_params() > shared.count_params()
    assert len(separate.trainable_variables) == len(shared.trainable_variables) + 4  # one more 2-layer MLP
    obs = tf.constant(random_observation(obs_space, 4))

    def value_grads(model):
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(model(obs)["value"])
        return tape.gradient(value, model.policy_mlp.trainable_variables)

    assert all(g is None for g in value_grads(separate))
    grads = value_grads(shared)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_initial_policy_is_near_uniform():
    model = ActorCritic(OBSERVATION_SPACES["vector"], ACTION_SPACES["discrete"])
    logits = model(random_observation(OBSERVATION_SPACES["vector"], 8))["policy"].numpy()
    assert np.abs(logits).max() < 0.1  # policy output gain 0.01


@pytest.mark.parametrize("obs_name", ["vector", "dict", "tuple"])
def test_tf_function_traces_once(obs_name):
    obs_space = OBSERVATION_SPACES[obs_name]
    model = ActorCritic(obs_space, ACTION_SPACES["box"], (16,))

    @tf.function(input_signature=[observation_spec(obs_space)])
    def forward(obs):
        out = model(obs)
        return model.distribution.mode(out["policy"]), out["value"]

    for batch_size in (1, 3, 7):
        actions, value = forward(
            tf.nest.map_structure(tf.constant, random_observation(obs_space, batch_size))
        )
        assert actions.shape == (batch_size, 2) and value.shape == (batch_size,)
    assert forward.experimental_get_tracing_count() == 1


def test_model_is_built_on_construction():
    model = ActorCritic(OBSERVATION_SPACES["dict"], ACTION_SPACES["box"])
    assert model.built and len(model.trainable_variables) > 0
    out = model(dummy_observation(OBSERVATION_SPACES["dict"], 2))
    assert out["policy"].shape == (2, 4)

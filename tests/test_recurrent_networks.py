"""A recurrent ActorCritic: state in and out, sequence == steps, critic variants, config, spaces."""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from networks import ActorCritic

VECTOR = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
IMAGE = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
DICT = gym.spaces.Dict({"img": IMAGE, "pos": gym.spaces.Discrete(3)})
ACTIONS = gym.spaces.Discrete(2)
B, T = 3, 6


def _model(recurrent="lstm", critic_core="own", share_trunk=False, obs_space=VECTOR, action_space=ACTIONS):
    model = ActorCritic(
        obs_space,
        action_space,
        hidden_sizes=(8,),
        share_trunk=share_trunk,
        recurrent=recurrent,
        recurrent_size=4,
        critic_core=critic_core,
    )
    rng = np.random.default_rng(0)
    model.set_weights([w + 0.3 * rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _obs(space, steps, seed=0):
    space.seed(seed)
    samples = [[space.sample() for _ in range(steps)] for _ in range(B)]
    if isinstance(space, gym.spaces.Dict):
        return {k: np.array([[s[k] for s in row] for row in samples]) for k in space.spaces}
    return np.array(samples, dtype=space.dtype)  # [B, T, ...]


def _starts():
    starts = np.zeros((B, T), bool)
    starts[:, 0] = True
    starts[1, 2] = True
    return starts


def _at(obs, t):
    return {k: v[:, t] for k, v in obs.items()} if isinstance(obs, dict) else obs[:, t]


CASES = {
    "lstm_own": dict(recurrent="lstm"),
    "gru_own": dict(recurrent="gru"),
    "lstm_shared_core": dict(recurrent="lstm", critic_core="shared"),
    "gru_feedforward_critic": dict(recurrent="gru", critic_core="none"),
    "lstm_shared_trunk": dict(recurrent="lstm", share_trunk=True),
    "gru_dict_obs_box_actions": dict(
        recurrent="gru", obs_space=DICT, action_space=gym.spaces.Box(-1, 1, (2,), np.float32)
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_sequence_equals_steps_and_config_round_trips(case):
    kwargs = CASES[case]
    model = _model(**kwargs)
    obs, starts = _obs(kwargs.get("obs_space", VECTOR), T), _starts()
    state0 = np.random.default_rng(1).normal(size=(B, model.state_size)).astype(np.float32)
    seq = model.sequence(obs, state0, starts)
    assert seq["value"].shape == (B, T) and seq["state"].shape == (B, model.state_size)
    state = state0
    for t in range(T):
        out = model(_at(obs, t), state, starts[:, t])
        # Batched [B*T] vs [B] matmuls round differently in float32: a few 1e-6 relative.
        np.testing.assert_allclose(seq["policy"][:, t], out["policy"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(seq["value"][:, t], out["value"], rtol=1e-4, atol=1e-5)
        state = out["state"]
    np.testing.assert_allclose(seq["state"], state, atol=1e-5)

    clone = ActorCritic.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.sequence(obs, state0, starts)["policy"], seq["policy"], atol=1e-6)


def test_state_sizes_follow_the_critic_choice():
    assert _model("lstm").state_size == 16  # two LSTM cores, [h, c] each
    assert _model("gru").state_size == 8
    assert _model("lstm", critic_core="shared").state_size == 8
    assert _model("lstm", critic_core="none").state_size == 8
    assert _model("lstm", share_trunk=True).state_size == 8
    assert _model("none").state_size == 0 and not _model("none").is_recurrent
    np.testing.assert_array_equal(_model("gru").initial_state(2), np.zeros((2, 8)))


def test_state_carries_information_and_resets():
    model = _model("lstm")
    obs = _obs(VECTOR, 2)
    zeros = model.initial_state(B)
    first = model(obs[:, 0], zeros, np.ones(B, bool))
    carried = model(obs[:, 1], first["state"], np.zeros(B, bool))
    fresh = model(obs[:, 1], zeros, np.ones(B, bool))
    reset = model(obs[:, 1], first["state"], np.ones(B, bool))
    assert np.abs(carried["policy"] - fresh["policy"]).max() > 1e-4
    np.testing.assert_allclose(reset["policy"], fresh["policy"], atol=1e-6)
    np.testing.assert_allclose(reset["value"], fresh["value"], atol=1e-6)


def test_feedforward_critic_ignores_the_state_and_shared_core_gets_no_value_gradient():
    ff = _model("gru", critic_core="none")
    obs = _obs(VECTOR, 1)[:, 0]
    a = ff(obs, ff.initial_state(B), np.ones(B, bool))["value"]
    b = ff(obs, tf.ones([B, ff.state_size]), np.zeros(B, bool))["value"]
    np.testing.assert_allclose(a, b, atol=1e-6)

    shared = _model("lstm", critic_core="shared")
    with tf.GradientTape(persistent=True) as tape:
        out = shared(obs, shared.initial_state(B), np.ones(B, bool))
        value, policy = tf.reduce_sum(out["value"]), tf.reduce_sum(out["policy"])
    core = shared.policy_core.trainable_weights
    assert all(g is None for g in tape.gradient(value, core))
    assert all(g is not None for g in tape.gradient(policy, core))  # the tape does see the core


def test_recurrent_model_needs_a_state_or_starts_every_row_afresh():
    model = _model("lstm")
    obs = _obs(VECTOR, 1)[:, 0]
    fresh, explicit = model(obs), model(obs, model.initial_state(B), np.ones(B, bool))
    for key in ("policy", "value", "state"):
        np.testing.assert_array_equal(fresh[key], explicit[key])
    with pytest.raises(ValueError, match="initial_state"):
        model(obs, model.initial_state(B))  # a state but no episode starts
    with pytest.raises(ValueError, match="critic_core"):
        ActorCritic(VECTOR, ACTIONS, critic_core="both")


def test_feedforward_model_is_unchanged_by_the_new_arguments():
    plain = ActorCritic(VECTOR, ACTIONS, hidden_sizes=(8,))
    # The same variables in the same order as before cores existed (checkpoints and the mirror rely on it).
    assert [w.path.split("/", 1)[1] for w in plain.weights] == [
        "policy_mlp/linear_0/kernel",
        "policy_mlp/linear_0/bias",
        "value_mlp/linear_0/kernel",
        "value_mlp/linear_0/bias",
        "policy_head/logits/kernel",
        "policy_head/logits/bias",
        "value_head/value/kernel",
        "value_head/value/bias",
    ]
    with pytest.raises(ValueError, match="recurrent"):
        plain.sequence(_obs(VECTOR, T), np.zeros((B, 0), np.float32), _starts())

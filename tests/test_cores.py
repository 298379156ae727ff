"""Recurrent cores: math against hand numbers and Keras's own cells, resets, sequence vs step, config, NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from networks.cores import GRUCore, LSTMCore, make_core
from networks.numpy_layers import core_fn

B, T, F, H = 3, 7, 4, 5


def _rng(seed=0):
    return np.random.default_rng(seed)


def _inputs(seed=0, batch=B, steps=T):
    return _rng(seed).normal(size=(batch, steps, F)).astype(np.float32)


def _built(cls, seed=0, **kwargs):
    """A core with every weight perturbed away from its init (so biases and gates all matter)."""
    core = cls(H, **kwargs)
    core.build((None, F))
    rng = _rng(seed + 100)
    core.set_weights([w + 0.3 * rng.normal(size=w.shape).astype(np.float32) for w in core.get_weights()])
    return core


def _starts(batch=B, steps=T):
    starts = np.zeros((batch, steps), bool)
    starts[:, 0] = True
    starts[0, 3] = True  # a reset mid-sequence in row 0
    starts[2, 5] = True
    return starts


def test_lstm_one_unit_against_hand_numbers():
    core = LSTMCore(1)
    core.build((None, 1))
    # z = x W + h U + b with W = [1, 2, 3, 4] (gates i, f, g, o), U = 0.5 everywhere, b = 0.
    core.set_weights(
        [np.array([[1.0, 2.0, 3.0, 4.0]], np.float32), np.full((1, 4), 0.5, np.float32), np.zeros(4)]
    )
    x = np.array([[1.0]], np.float32)
    out, state = core(x, np.zeros((1, 2), np.float32), np.array([True]))
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    c1 = sig(1.0) * np.tanh(3.0)  # f * 0 + i * g
    h1 = sig(4.0) * np.tanh(c1)
    np.testing.assert_allclose(out.numpy(), [[h1]], rtol=1e-6)
    np.testing.assert_allclose(state.numpy(), [[h1, c1]], rtol=1e-6)
    out, state = core(x, state, np.array([False]))
    z = np.array([1.0, 2.0, 3.0, 4.0]) + 0.5 * h1
    c2 = sig(z[1]) * c1 + sig(z[0]) * np.tanh(z[2])
    np.testing.assert_allclose(state.numpy(), [[sig(z[3]) * np.tanh(c2), c2]], rtol=1e-6)


def test_lstm_forget_bias_starts_at_one():
    core = LSTMCore(H)
    core.build((None, F))
    np.testing.assert_array_equal(core.bias.numpy(), np.repeat([0.0, 1.0, 0.0, 0.0], H))


@pytest.mark.parametrize("cls", [LSTMCore, GRUCore])
def test_matches_keras_cells(cls):
    """Keras's LSTMCell / GRUCell (reset_after) with our weights are an independent reference."""
    core = _built(cls)
    weights = core.get_weights()
    if cls is LSTMCore:
        cell = keras.layers.LSTMCell(H, recurrent_activation="sigmoid")
        cell.build((None, F))
        cell.set_weights(weights)
    else:
        cell = keras.layers.GRUCell(H, recurrent_activation="sigmoid", reset_after=True)
        cell.build((None, F))
        cell.set_weights([weights[0], weights[1], np.stack([weights[2], weights[3]])])
    x = _inputs()
    state = np.zeros((B, core.state_size), np.float32)
    cell_state = [np.zeros((B, H), np.float32)] * (2 if cls is LSTMCore else 1)
    for t in range(T):
        out, state = core(x[:, t], state, np.zeros(B, bool))
        expected, cell_state = cell(x[:, t], cell_state)
        np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


@pytest.mark.parametrize("cls", [LSTMCore, GRUCore])
@pytest.mark.parametrize("max_unroll", [64, 2])  # unrolled in Python, and through tf.scan
def test_sequence_equals_repeated_steps_with_resets(cls, max_unroll):
    core = _built(cls, max_unroll=max_unroll)
    x, starts = _inputs(), _starts()
    state0 = _rng(1).normal(size=(B, core.state_size)).astype(np.float32)
    outputs, final = core(x, state0, starts)
    assert outputs.shape == (B, T, H) and final.shape == (B, core.state_size)
    state = state0
    for t in range(T):
        out, state = core(x[:, t], state, starts[:, t])
        np.testing.assert_allclose(outputs[:, t], out, atol=1e-6)
    np.testing.assert_allclose(final, state, atol=1e-6)


def test_scanned_gru_sequence_and_its_gradient_compile_with_xla():
    """T > max_unroll goes through the scan loop; XLA (jit_compile presets) needs that loop bounded."""
    core = _built(GRUCore, max_unroll=2)
    x, starts, state = tf.constant(_inputs()), tf.constant(_starts()), tf.zeros([B, core.state_size])

    def loss_and_grads(x, state, starts):
        with tf.GradientTape() as tape:
            outputs, final = core(x, state, starts)
            loss = tf.reduce_sum(outputs**2) + tf.reduce_sum(final)
        return loss, tape.gradient(loss, core.trainable_variables)

    loss, grads = tf.function(loss_and_grads, jit_compile=True)(x, state, starts)
    want, want_grads = loss_and_grads(x, state, starts)
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    for got, expected in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [LSTMCore, GRUCore])
def test_reset_inside_a_sequence_equals_a_fresh_start(cls):
    core = _built(cls)
    x, starts = _inputs(), _starts()
    state0 = _rng(2).normal(size=(B, core.state_size)).astype(np.float32)
    outputs, _ = core(x, state0, starts)
    fresh_starts = np.zeros((1, T - 3), bool)
    fresh_starts[0, 0] = True
    fresh, _ = core(x[:1, 3:], np.zeros((1, core.state_size), np.float32), fresh_starts)
    np.testing.assert_allclose(outputs[:1, 3:], fresh, atol=1e-6)
    # Without the reset the state carries over and the outputs differ (the check above can fail).
    no_reset = starts.copy()
    no_reset[0, 3] = False
    carried, _ = core(x, state0, no_reset)
    assert np.abs(carried[0, 3:] - fresh[0]).max() > 1e-3


@pytest.mark.parametrize("cls", [LSTMCore, GRUCore])
def test_gradient_stops_at_a_reset(cls):
    """Nothing before an episode start influences what comes after it, gradients included."""
    core = _built(cls)
    x, starts = tf.constant(_inputs()), _starts()
    state0 = tf.constant(_rng(3).normal(size=(B, core.state_size)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs, _ = core(x, state0, starts)
        loss = tf.reduce_sum(outputs[0, 3:])
    grad = tape.gradient(loss, x).numpy()
    assert np.all(grad[0, :3] == 0.0) and np.abs(grad[0, 3:]).max() > 0.0


@pytest.mark.parametrize("cls", [LSTMCore, GRUCore])
def test_config_round_trip_and_output_shape(cls):
    core = _built(cls, max_unroll=9)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(core))
    assert type(clone) is cls and clone.get_config() == core.get_config()
    if not clone.built:
        clone.build((None, F))
    clone.set_weights(core.get_weights())
    x, starts = _inputs(), _starts()
    state0 = np.zeros((B, core.state_size), np.float32)
    np.testing.assert_allclose(clone(x, state0, starts)[0], core(x, state0, starts)[0], rtol=1e-6)
    assert core.compute_output_shape((None, T, F)) == ((None, T, H), (None, core.state_size))
    assert core.compute_output_shape((None, F)) == ((None, H), (None, core.state_size))


def test_make_core():
    assert make_core("none", 8) is None
    assert isinstance(make_core("lstm", 8), LSTMCore) and make_core("lstm", 8).state_size == 16
    assert isinstance(make_core("gru", 8), GRUCore) and make_core("gru", 8).state_size == 8
    with pytest.raises(ValueError, match="lstm"):
        make_core("rnn", 8)


@pytest.mark.parametrize("cls", [LSTMCore, GRUCore])
def test_numpy_step_matches_the_layer_over_a_sequence_with_resets(cls):
    core = _built(cls, seed=5)
    step = core_fn(core, {id(variable): variable.numpy() for variable in core.weights})
    x, starts = _inputs(seed=6), _starts()
    state0 = _rng(7).normal(size=(B, core.state_size)).astype(np.float32)
    outputs, final = core(x, state0, starts)
    state = state0
    for t in range(T):
        out, state = step(x[:, t], state, starts[:, t])
        assert out.dtype == np.float32 and state.dtype == np.float32
        np.testing.assert_allclose(out, outputs[:, t], atol=2e-6)
    np.testing.assert_allclose(state, final, atol=2e-6)


def _generic_lstm_sequence(core, x, state, starts):
    """The layer's own step loop (what autodiff differentiates), bypassing the hand-written backward."""
    projected, outputs = core._project(x), []
    for t in range(x.shape[1]):
        out, state = core._step(projected[:, t], state, starts[:, t])
        outputs.append(out)
    return tf.stack(outputs, axis=1), state


def test_fused_lstm_values_and_every_gradient_equal_autodiff_of_the_step_loop():
    """lstm_sequence.py's backward pass against TF's autodiff, with resets mid-sequence and a loss on both the
    outputs and the final state (so the final-state gradients enter too)."""
    core = _built(LSTMCore, seed=11)
    x = tf.constant(_inputs(seed=12))
    state0 = tf.constant(_rng(13).normal(size=(B, core.state_size)).astype(np.float32))
    starts = _starts()
    starts[1, 0] = False  # row 1 continues from its initial state: that gradient is not zero
    starts = tf.constant(starts)
    w_out = tf.constant(_rng(14).normal(size=(B, T, H)).astype(np.float32))
    w_state = tf.constant(_rng(15).normal(size=(B, core.state_size)).astype(np.float32))

    def loss_and_grads(fn):
        with tf.GradientTape() as tape:
            tape.watch([x, state0])
            outputs, final = fn(core, x, state0, starts)
            loss = tf.reduce_sum(tf.tanh(outputs) * w_out) + tf.reduce_sum(final * w_state)
        return outputs, final, tape.gradient(loss, [x, state0, *core.trainable_variables])

    fused = loss_and_grads(lambda c, *args: c(*args))
    generic = loss_and_grads(_generic_lstm_sequence)
    np.testing.assert_allclose(fused[0], generic[0], atol=1e-5)
    np.testing.assert_allclose(fused[1], generic[1], atol=1e-5)
    names = ["inputs", "initial state", "kernel", "recurrent_kernel", "bias"]
    for name, a, b in zip(names, fused[2], generic[2], strict=True):
        assert np.abs(b.numpy()).max() > 1e-3, name  # every gradient is exercised
        np.testing.assert_allclose(a, b, atol=2e-5, err_msg=name)

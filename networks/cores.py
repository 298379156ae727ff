"""Recurrent cores: LSTM and GRU layers whose state resets to zeros at episode starts, mid-sequence too.

A core sits between an encoder and the MLP trunk (see actor_critic.py). Its state is one flat float32 tensor
[B, state_size] (the LSTM's ``[h, c]`` side by side), so a rollout, a checkpoint-free actor or an exported
signature carries a single array per env. ``episode_start[b, t]`` zeroes row b's state *before* step t reads
it, as sb3-contrib's RecurrentPPO and CleanRL's ppo_atari_lstm do: the first observation of an episode starts
from the same zero state at acting time and when the update replays the sequence.

One ``call`` serves both uses, told apart by the rank of ``inputs`` (a Python branch on a static shape):
  * acting, one step:  inputs [B, F],    state [B, S], episode_start [B]    → (outputs [B, H], state [B, S])
  * update, sequences: inputs [B, T, F], state [B, S], episode_start [B, T] → (outputs [B, T, H], final [B, S])
The sequence form projects every step's input in one matmul before the loop, so each step does only the
recurrent matmul. Short static sequences are unrolled in Python (one graph op chain, no while-loop overhead);
longer or unknown ones go through ``tf.scan`` (see ``MAX_UNROLL``).

Math (Hochreiter & Schmidhuber, 1997; Cho et al., 2014), gate order as Keras's own cells:
  LSTM: [i, f, g, o] = x W + h U + b;  c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(c')
  GRU (reset gate after the recurrent matmul, as cuDNN and Keras's default):
        [z, r, n]_x = x W + b;  [z, r, n]_h = h U + b_h;  z = σ(z_x + z_h);  r = σ(r_x + r_h)
        n = tanh(n_x + r n_h);  h' = (1 - z) n + z h
Init: orthogonal W and U (gain 1), zero biases except the LSTM forget gate's 1 (Jozefowicz et al., 2015).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from networks.layers import Shape
from networks.lstm_sequence import lstm_sequence

MAX_UNROLL = 8
"""Sequences of at most this many static steps are unrolled in Python; longer ones use ``ops.scan``.

Measured with benchmarks/recurrent_update_cost.py (8 x 32-step sequences, 20 epochs per compiled update, on a
heavily loaded 2-core machine): ``scan`` was as fast or faster per update than unrolling (LSTM 256: 14.9 vs
18.4 s; LSTM 64: 1.24 vs 1.31 s) and traced 2.5x faster (60 vs 146 s; 24 vs 63 s). Short sequences (A2C's 5
steps) stay unrolled. To re-measure on a quiet machine before the update is tuned (issue 14, phase 2)."""


MAX_FUSED_STEPS = 64
"""LSTM sequences of at most this many static steps run through ``lstm_sequence`` (while loops with a
hand-written backward pass); longer ones take the generic path above. See lstm_sequence.py for why."""


class _Core(keras.layers.Layer):
    """Shared sequence/step plumbing; subclasses define the weights, ``state_size`` and ``_cell``."""

    gates = 0  # gate blocks per unit in the kernels: 4 (LSTM), 3 (GRU)

    def __init__(self, units: int, max_unroll: int = MAX_UNROLL, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.max_unroll = int(max_unroll)

    @property
    def state_size(self) -> int:
        raise NotImplementedError

    def initial_state(self, batch_size: int):
        """Zeros [batch_size, state_size]: the state at every episode start."""
        return ops.zeros((batch_size, self.state_size), "float32")

    def build(self, input_shape: Shape) -> None:
        features, width = input_shape[-1], self.gates * self.units
        orthogonal = keras.initializers.Orthogonal(gain=1.0)
        self.kernel = self.add_weight(name="kernel", shape=(features, width), initializer=orthogonal)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.units, width), initializer=orthogonal
        )
        self.bias = self.add_weight(name="bias", shape=(width,), initializer=self._bias_initializer())

    def _bias_initializer(self):
        return "zeros"

    _fused_sequence = None  # (projected [B, T, G], state, episode_start [B, T]) → (outputs, state), if any

    def _project(self, inputs):
        """x W + b for every step at once: [..., F] → [..., gates * H]."""
        return ops.matmul(inputs, self.kernel) + self.bias

    def _cell(self, projected, state):
        """One step from the projected input [B, gates * H] and a state [B, S] → (h' [B, H], state' [B, S])."""
        raise NotImplementedError

    def _step(self, projected, state, episode_start):
        keep = 1.0 - ops.cast(episode_start, "float32")[:, None]  # [B, 1]: 0 where an episode starts
        return self._cell(projected, state * keep)

    def call(self, inputs, state, episode_start):
        """One step ([B, F] inputs) or sequences ([B, T, F]); see the module docstring for the shapes."""
        if len(inputs.shape) == 2:
            return self._step(self._project(inputs), state, episode_start)
        projected = self._project(inputs)  # [B, T, G]
        steps = inputs.shape[1]
        if steps is not None and steps <= MAX_FUSED_STEPS and self._fused_sequence is not None:
            return self._fused_sequence(projected, state, episode_start)
        if steps is not None and steps <= self.max_unroll:
            outputs = []
            for t in range(steps):
                out, state = self._step(projected[:, t], state, episode_start[:, t])
                outputs.append(out)
            return ops.stack(outputs, axis=1), state

        def scan_step(carry, xs):
            # Each step emits the state; its first H columns are h in both cores, sliced out after the loop.
            return self._step(xs[0], carry, xs[1])[1]

        time_major = (ops.moveaxis(projected, 1, 0), ops.moveaxis(ops.cast(episode_start, "float32"), 1, 0))
        # tf.scan, not keras.ops.scan: it bounds its while_loop (maximum_iterations), which XLA needs to compile
        # the loop and its gradient (jit_compile presets with a GRU failed: "requires a fixed tensor list size").
        states = tf.scan(scan_step, time_major, initializer=state)  # [T, B, S]
        return ops.moveaxis(states[..., : self.units], 0, 1), states[-1]

    def compute_output_shape(self, input_shape: Shape, state_shape: Shape = None, start_shape: Shape = None):
        return (*input_shape[:-1], self.units), (input_shape[0], self.state_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "max_unroll": self.max_unroll}


@keras.saving.register_keras_serializable(package="tfpg")
class LSTMCore(_Core):
    """LSTM with state ``concat([h, c], -1)`` [B, 2 * units]; outputs h.

    Args:
        units: Hidden units H.
        max_unroll: Longest static sequence unrolled in Python (longer: ``ops.scan``).
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    gates = 4

    @property
    def state_size(self) -> int:
        return 2 * self.units

    def _bias_initializer(self):
        units = self.units

        def forget_bias_one(shape, dtype=None):
            return ops.concatenate(
                [ops.zeros((units,)), ops.ones((units,)), ops.zeros((2 * units,))]
            )  # [i, f, g, o]

        return forget_bias_one

    def _fused_sequence(self, projected, state, episode_start):
        units = self.units
        keep = 1.0 - ops.cast(episode_start, "float32")  # [B, T]
        outputs, h, c = lstm_sequence(
            projected, self.recurrent_kernel, state[:, :units], state[:, units:], keep
        )
        return outputs, ops.concatenate([h, c], axis=-1)

    def _cell(self, projected, state):
        h, c = state[:, : self.units], state[:, self.units :]
        z = projected + ops.matmul(h, self.recurrent_kernel)  # [B, 4H]
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, ops.concatenate([h, c], axis=-1)


@keras.saving.register_keras_serializable(package="tfpg")
class GRUCore(_Core):
    """GRU (reset gate applied after the recurrent matmul) with state h [B, units]; outputs h.

    Args:
        units: Hidden units H.
        max_unroll: Longest static sequence unrolled in Python (longer: ``ops.scan``).
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    gates = 3

    @property
    def state_size(self) -> int:
        return self.units

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        # The recurrent bias stays apart from the input one: r multiplies (h U + b_h), not b.
        self.recurrent_bias = self.add_weight(
            name="recurrent_bias", shape=(self.gates * self.units,), initializer="zeros"
        )

    def _cell(self, projected, state):
        recurrent = ops.matmul(state, self.recurrent_kernel) + self.recurrent_bias  # [B, 3H]
        zx, rx, nx = ops.split(projected, 3, axis=-1)
        zh, rh, nh = ops.split(recurrent, 3, axis=-1)
        z = ops.sigmoid(zx + zh)
        r = ops.sigmoid(rx + rh)
        n = ops.tanh(nx + r * nh)
        h = (1.0 - z) * n + z * state
        return h, h


CORES = {"lstm": LSTMCore, "gru": GRUCore}
"""``NetworkConfig.recurrent`` value → core class."""


def make_core(kind: str, units: int, name: str | None = None) -> _Core | None:
    """The core for ``NetworkConfig.recurrent``: "lstm", "gru", or "none" (None: a feed-forward network).

    Raises:
        ValueError: an unknown kind.
    """
    if kind == "none":
        return None
    if kind not in CORES:
        raise ValueError(f"Unknown recurrent core {kind!r}; choose one of: none, {', '.join(CORES)}.")
    return CORES[kind](units, name=name)

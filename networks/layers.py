"""Basic building blocks: an orthogonally initialised dense layer and an MLP of them.

Orthogonal init scaled by a gain (sqrt(2) for hidden ReLU/tanh layers, 0.01 for the policy output, 1 for the
value output) with zero bias is the PPO convention (Engstrom et al., 2020, "Implementation Matters in Deep
Policy Gradients"; Andrychowicz et al., 2021).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

Shape = tuple[int | None, ...]


def build_chain(layers: Sequence[keras.layers.Layer], input_shape: Any) -> Shape:
    """Builds `layers` in order, each from the previous one's output shape, and returns the last shape.

    `input_shape` is a shape tuple, or a dict of them for a `DictEncoder`.
    """
    shape = input_shape
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


@keras.saving.register_keras_serializable(package="tfpg")
class Linear(keras.layers.Layer):
    """Dense layer `activation(x @ W + b)` with orthogonal W (scaled by `kernel_gain`) and zero b.

    Args:
        units: Output features.
        kernel_gain: Gain of the orthogonal initializer.
        activation: Keras activation name, or None for identity.
        seed: Initializer seed; None draws from Keras's global seed.
        **kwargs: Base `keras.layers.Layer` arguments (name, dtype, ...).
    """

    def __init__(
        self,
        units: int,
        kernel_gain: float = math.sqrt(2.0),
        activation: str | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_gain = float(kernel_gain)
        self.activation = activation
        self.seed = seed
        self._activation_fn = keras.activations.get(activation)

    def build(self, input_shape: Shape) -> None:
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.units),
            initializer=keras.initializers.Orthogonal(gain=self.kernel_gain, seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return self._activation_fn(ops.matmul(inputs, self.kernel) + self.bias)  # [..., units]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units, kernel_gain=self.kernel_gain, activation=self.activation, seed=self.seed
        )
        return config


@keras.saving.register_keras_serializable(package="tfpg")
class MLP(keras.layers.Layer):
    """A stack of `Linear` layers, each followed by `activation`. No layers (empty sizes) is the identity.

    Args:
        hidden_sizes: Units of each hidden layer.
        activation: Keras activation name applied after every layer.
        kernel_gain: Orthogonal init gain of every layer.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "tanh",
        kernel_gain: float = math.sqrt(2.0),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_sizes = tuple(int(units) for units in hidden_sizes)
        self.activation = activation
        self.kernel_gain = float(kernel_gain)
        self.hidden_layers = [
            Linear(units, kernel_gain, activation, name=f"linear_{i}")
            for i, units in enumerate(self.hidden_sizes)
        ]

    def build(self, input_shape: Shape) -> None:
        build_chain(self.hidden_layers, input_shape)

    def call(self, inputs):
        x = inputs
        for layer in self.hidden_layers:
            x = layer(x)
        return x  # [B, hidden_sizes[-1]]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if not self.hidden_sizes:
            return tuple(input_shape)
        return (*input_shape[:-1], self.hidden_sizes[-1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_sizes=list(self.hidden_sizes), activation=self.activation, kernel_gain=self.kernel_gain
        )
        return config

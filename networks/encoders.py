"""Observation encoders: turn one observation space's batch into float32 features [B, F].

`make_encoder` picks the encoder from the space; every encoder casts its input itself, so observations can
be fed with the dtypes of `observation_spec` (uint8 images, int64 Discrete, int8 MultiBinary).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import keras
import numpy as np
from keras import ops

from networks.layers import Linear, Shape, build_chain
from networks.spaces import as_space, space_to_config

SUPPORTED_OBSERVATION_SPACES = (
    "Box (vector or uint8 HxWxC image)",
    "Discrete",
    "MultiDiscrete",
    "MultiBinary",
    "Dict or Tuple of these (nested too)",
)


@keras.saving.register_keras_serializable(package="tfpg")
class FlattenCast(keras.layers.Layer):
    """[B, *shape] of any numeric dtype → float32 [B, prod(shape)]."""

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        return ops.reshape(x, (ops.shape(x)[0], -1))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


@keras.saving.register_keras_serializable(package="tfpg")
class OneHot(keras.layers.Layer):
    """Discrete(n, start) observations [B] int → float32 one-hot [B, n].

    Args:
        n: Number of values.
        start: Smallest value (Gymnasium's `Discrete.start`), subtracted before encoding.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, n: int, start: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        self.start = int(start)

    def call(self, inputs):
        return ops.one_hot(ops.cast(inputs, "int32") - self.start, self.n, dtype="float32")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.n)

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n, "start": self.start}


@keras.saving.register_keras_serializable(package="tfpg")
class MultiOneHot(keras.layers.Layer):
    """MultiDiscrete(nvec, start) observations [B, D] int → concatenated one-hots [B, sum(nvec)].

    Args:
        nvec: Number of values of each of the D components.
        start: Smallest value of each component; zeros when None.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, nvec: list[int], start: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.nvec = [int(n) for n in nvec]
        self.start = [0] * len(self.nvec) if start is None else [int(s) for s in start]

    def call(self, inputs):
        x = ops.cast(inputs, "int32")
        parts = [
            ops.one_hot(x[:, i] - s, n, dtype="float32")
            for i, (n, s) in enumerate(zip(self.nvec, self.start, strict=True))
        ]
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], sum(self.nvec))

    def get_config(self) -> dict:
        return {**super().get_config(), "nvec": self.nvec, "start": self.start}


# (filters, kernel, stride) per conv layer, then the dense width. "nature" is Mnih et al. (2015) and needs
# H, W >= 36; "small" pads "same" so it works on any image, e.g. 8x8 test images.
CONV_ARCHITECTURES: dict[str, tuple[list[tuple[int, int, int]], int, str]] = {
    "nature": ([(32, 8, 4), (64, 4, 2), (64, 3, 1)], 512, "valid"),
    "small": ([(16, 3, 1), (32, 3, 2)], 128, "same"),
}


@keras.saving.register_keras_serializable(package="tfpg")
class ConvEncoder(keras.layers.Layer):
    """uint8 images [B, H, W, C] → /255 → ReLU conv stack → flatten → ReLU dense [B, F].

    Args:
        architecture: A key of `CONV_ARCHITECTURES`: "nature" (F = 512) or "small" (F = 128).
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, architecture: str = "nature", **kwargs):
        super().__init__(**kwargs)
        if architecture not in CONV_ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {architecture!r}; choose from {list(CONV_ARCHITECTURES)}."
            )
        self.architecture = architecture
        convs, dense_units, padding = CONV_ARCHITECTURES[architecture]
        self.conv_layers = [
            keras.layers.Conv2D(
                filters,
                kernel,
                strides=stride,
                padding=padding,
                activation="relu",
                kernel_initializer=keras.initializers.Orthogonal(gain=math.sqrt(2.0)),
                name=f"conv_{i}",
            )
            for i, (filters, kernel, stride) in enumerate(convs)
        ]
        self.flatten = FlattenCast(name="flatten")
        self.dense = Linear(dense_units, activation="relu", name="dense")

    def _stack(self) -> list[keras.layers.Layer]:
        return [*self.conv_layers, self.flatten, self.dense]

    def build(self, input_shape: Shape) -> None:
        build_chain(self._stack(), input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, "float32") / 255.0  # [B, H, W, C] in [0, 1]
        for layer in self._stack():
            x = layer(x)
        return x  # [B, F]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], CONV_ARCHITECTURES[self.architecture][1])

    def get_config(self) -> dict:
        return {**super().get_config(), "architecture": self.architecture}


@keras.saving.register_keras_serializable(package="tfpg")
class DictEncoder(keras.layers.Layer):
    """Dict observations → one encoder per key (chosen by `make_encoder`) → concatenated [B, sum F_k].

    Args:
        observation_space: A `gym.spaces.Dict`, or its `space_to_config` dict.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, observation_space: gym.spaces.Dict | dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        space = as_space(observation_space)
        if not isinstance(space, gym.spaces.Dict):
            raise ValueError(f"DictEncoder needs a Dict space, got {space!r}.")
        self._space_config = space_to_config(space)
        self.observation_keys = list(space.spaces)
        # A list, not a dict, so that Keras tracks the sublayers in key order.
        self.encoders = [make_encoder(sub, name=f"encoder_{key}") for key, sub in space.spaces.items()]

    def build(self, input_shape: dict[str, Shape]) -> None:
        for key, encoder in zip(self.observation_keys, self.encoders, strict=True):
            build_chain([encoder], input_shape[key])

    def call(self, inputs):
        features = [
            encoder(inputs[key]) for key, encoder in zip(self.observation_keys, self.encoders, strict=True)
        ]
        return ops.concatenate(features, axis=-1)  # [B, sum F_k]

    def compute_output_shape(self, input_shape: dict[str, Shape]) -> Shape:
        shapes = [
            enc.compute_output_shape(input_shape[k])
            for k, enc in zip(self.observation_keys, self.encoders, strict=True)
        ]
        widths = [shape[-1] for shape in shapes]
        batch = next(iter(input_shape.values()))[0]
        return (batch, None if None in widths else sum(widths))

    def get_config(self) -> dict:
        return {**super().get_config(), "observation_space": self._space_config}


@keras.saving.register_keras_serializable(package="tfpg")
class TupleEncoder(keras.layers.Layer):
    """Tuple observations → one encoder per element (chosen by `make_encoder`) → concatenated [B, sum F_i].

    The Tuple counterpart of `DictEncoder`; elements may themselves be Dict or Tuple spaces.

    Args:
        observation_space: A `gym.spaces.Tuple`, or its `space_to_config` dict.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, observation_space: gym.spaces.Tuple | dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        space = as_space(observation_space)
        if not isinstance(space, gym.spaces.Tuple):
            raise ValueError(f"TupleEncoder needs a Tuple space, got {space!r}.")
        self._space_config = space_to_config(space)
        self.encoders = [make_encoder(sub, name=f"encoder_{i}") for i, sub in enumerate(space.spaces)]

    def build(self, input_shape: tuple[Shape, ...]) -> None:
        for shape, encoder in zip(input_shape, self.encoders, strict=True):
            build_chain([encoder], shape)

    def call(self, inputs):
        features = [encoder(x) for x, encoder in zip(inputs, self.encoders, strict=True)]
        return ops.concatenate(features, axis=-1)  # [B, sum F_i]

    def compute_output_shape(self, input_shape: tuple[Shape, ...]) -> Shape:
        shapes = [enc.compute_output_shape(s) for s, enc in zip(input_shape, self.encoders, strict=True)]
        widths = [shape[-1] for shape in shapes]
        return (shapes[0][0], None if None in widths else sum(widths))

    def get_config(self) -> dict:
        return {**super().get_config(), "observation_space": self._space_config}


def is_image_space(space: gym.Space) -> bool:
    """A uint8 Box of rank 3, read as HxWxC."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def make_encoder(observation_space: gym.Space, name: str | None = None) -> keras.layers.Layer:
    """The encoder for an observation space.

    Args:
        observation_space: uint8 HxWxC Box → ConvEncoder ("nature" when H, W >= 36, else "small"); any other
            Box or MultiBinary → FlattenCast; Discrete → OneHot; 1-D MultiDiscrete → MultiOneHot;
            Dict → DictEncoder; Tuple → TupleEncoder.
        name: Layer name.

    Returns:
        A Keras layer mapping a batch of observations to float32 features [B, F].

    Raises:
        ValueError: If the space is unsupported.
    """
    space = observation_space
    if is_image_space(space):
        architecture = "nature" if min(space.shape[:2]) >= 36 else "small"
        return ConvEncoder(architecture, name=name)
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        return FlattenCast(name=name)
    if isinstance(space, gym.spaces.Discrete):
        return OneHot(int(space.n), int(space.start), name=name)
    if isinstance(space, gym.spaces.MultiDiscrete):
        if len(space.shape) == 1:
            return MultiOneHot(space.nvec.tolist(), space.start.tolist(), name=name)
        return FlattenCast(name=name)
    if isinstance(space, gym.spaces.Dict):
        return DictEncoder(space, name=name)
    if isinstance(space, gym.spaces.Tuple):
        return TupleEncoder(space, name=name)
    raise ValueError(
        f"Unsupported observation space {space!r}; supported: {', '.join(SUPPORTED_OBSERVATION_SPACES)}."
    )

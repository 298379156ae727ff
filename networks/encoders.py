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
    "Box (vector, or uint8/bool image HxWxC or CxHxW)",
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


# (filters, kernel, stride) per conv layer, then the dense width. "nature" is the DQN/PPO-paper Atari network
# (Mnih et al., 2015: 32x8x8 s4, 64x4x4 s2, 64x3x3 s1, dense 512) and needs H, W >= 36; "minatar" is the MinAtar
# paper's (Young & Tian, 2019: 16x3x3 s1, dense 128) for 10x10 inputs; "small" pads "same" so it works on any
# image, e.g. 8x8 test images.
CONV_ARCHITECTURES: dict[str, tuple[list[tuple[int, int, int]], int, str]] = {
    "nature": ([(32, 8, 4), (64, 4, 2), (64, 3, 1)], 512, "valid"),
    "minatar": ([(16, 3, 1)], 128, "valid"),
    "small": ([(16, 3, 1), (32, 3, 2)], 128, "same"),
}
CHANNEL_LAYOUTS = ("auto", "first", "last")


@keras.saving.register_keras_serializable(package="tfpg")
class ConvEncoder(keras.layers.Layer):
    """Images [B, H, W, C] (or [B, C, H, W]) → /input_scale → ReLU conv stack → flatten → ReLU dense [B, F].

    ``ConvEncoder("nature")`` is the NatureCNN of the DQN and PPO papers' Atari experiments.

    Args:
        architecture: A key of `CONV_ARCHITECTURES`: "nature" (F = 512), "minatar" (F = 128) or "small"
            (F = 128).
        channels_first: Inputs are [B, C, H, W] (Gymnasium's frame stack, ALE's vector env); they are
            transposed to [B, H, W, C] inside the graph, since TensorFlow's CPU convolutions are channels-last.
        input_scale: Inputs are divided by this (255 for uint8 frames; 1 for 0/1 planes such as MinAtar's).
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(
        self, architecture: str = "nature", channels_first: bool = False, input_scale: float = 255.0, **kwargs
    ):
        super().__init__(**kwargs)
        if architecture not in CONV_ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {architecture!r}; choose from {list(CONV_ARCHITECTURES)}."
            )
        self.architecture = architecture
        self.channels_first = bool(channels_first)
        self.input_scale = float(input_scale)
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

    def _channels_last(self, shape: Shape) -> Shape:
        return (shape[0], *shape[2:], shape[1]) if self.channels_first else tuple(shape)

    def build(self, input_shape: Shape) -> None:
        build_chain(self._stack(), self._channels_last(input_shape))

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.input_scale != 1.0:
            x = x / self.input_scale  # in [0, 1]
        if self.channels_first:
            # After the division, on floats: Grappler moves a transpose that directly follows a cast ahead of it,
            # onto the uint8 frames, and with oneDNN on (agents/run/console.py) a uint8 transpose logs an error
            # line on CPUs without AVX-512 before falling back to Eigen. Floats cost ~1% of an update step.
            x = ops.transpose(x, (0, 2, 3, 1))  # [B, H, W, C]
        for layer in self._stack():
            x = layer(x)
        return x  # [B, F]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], CONV_ARCHITECTURES[self.architecture][1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "architecture": self.architecture,
            "channels_first": self.channels_first,
            "input_scale": self.input_scale,
        }


@keras.saving.register_keras_serializable(package="tfpg")
class DictEncoder(keras.layers.Layer):
    """Dict observations → one encoder per key (chosen by `make_encoder`) → concatenated [B, sum F_k].

    Args:
        observation_space: A `gym.spaces.Dict`, or its `space_to_config` dict.
        cnn: `make_encoder`'s image architecture choice, for image entries.
        channels: `make_encoder`'s channel layout choice, for image entries.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(
        self,
        observation_space: gym.spaces.Dict | dict[str, Any],
        cnn: str = "auto",
        channels: str = "auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        space = as_space(observation_space)
        self.cnn, self.channels = cnn, channels
        if not isinstance(space, gym.spaces.Dict):
            raise ValueError(f"DictEncoder needs a Dict space, got {space!r}.")
        self._space_config = space_to_config(space)
        self.observation_keys = list(space.spaces)
        # A list, not a dict, so that Keras tracks the sublayers in key order.
        self.encoders = [
            make_encoder(sub, name=f"encoder_{key}", cnn=cnn, channels=channels)
            for key, sub in space.spaces.items()
        ]

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
        return {
            **super().get_config(),
            "observation_space": self._space_config,
            "cnn": self.cnn,
            "channels": self.channels,
        }


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
    """A rank-3 Box of uint8 (pixels) or bool (binary planes, e.g. MinAtar's), in either channel layout."""
    return isinstance(space, gym.spaces.Box) and space.dtype in (np.uint8, np.bool_) and len(space.shape) == 3


def image_layout(shape: tuple[int, ...], channels: str = "auto") -> str:
    """Which axis of a rank-3 image shape holds the channels: "first" ([C, H, W]) or "last" ([H, W, C]).

    ``"auto"`` takes the end axis that is strictly smaller than both others: (4, 84, 84) → first,
    (84, 84, 4) and (210, 160, 3) → last. Anything else, e.g. MinAtar Seaquest's (10, 10, 10), is refused
    rather than guessed.

    Raises:
        ValueError: ``channels`` is not auto/first/last, or auto cannot tell.
    """
    if channels not in CHANNEL_LAYOUTS:
        raise ValueError(f"channels must be one of {CHANNEL_LAYOUTS}, got {channels!r}.")
    if channels != "auto":
        return channels
    first, middle, last = shape
    if first < min(middle, last):
        return "first"
    if last < min(first, middle):
        return "last"
    raise ValueError(
        f"Cannot tell the channel axis of image observations of shape {tuple(shape)}: neither end axis is "
        f"smaller than the other two. Set the network field channels=first ([C, H, W]) or channels=last "
        f"([H, W, C]), e.g. --set channels=last."
    )


def image_encoder(space: gym.spaces.Box, cnn: str = "auto", channels: str = "auto", name=None) -> ConvEncoder:
    """The ConvEncoder for an image space (see `make_encoder`)."""
    channels_first = image_layout(space.shape, channels) == "first"
    height, width = space.shape[1:] if channels_first else space.shape[:2]
    if cnn == "auto":
        cnn = "nature" if min(height, width) >= 36 else "small"
    if cnn not in CONV_ARCHITECTURES:
        raise ValueError(f"Unknown cnn {cnn!r}; choose auto or one of {list(CONV_ARCHITECTURES)}.")
    if cnn == "nature" and min(height, width) < 36:
        raise ValueError(
            f"cnn=nature needs images of at least 36x36 (its three valid convolutions shrink them by 35), got "
            f"{height}x{width}; use cnn=small or cnn=minatar."
        )
    # Pixels are scaled by their top value (255); binary planes are used as they are.
    scale = 1.0 if space.dtype == np.bool_ else float(np.max(space.high))
    return ConvEncoder(cnn, channels_first=channels_first, input_scale=scale, name=name)


def make_encoder(
    observation_space: gym.Space, name: str | None = None, cnn: str = "auto", channels: str = "auto"
) -> keras.layers.Layer:
    """The encoder for an observation space.

    Args:
        observation_space: uint8 or bool rank-3 Box → ConvEncoder (channel axis from `image_layout`); any
            other Box or MultiBinary → FlattenCast; Discrete → OneHot; 1-D MultiDiscrete → MultiOneHot;
            Dict → DictEncoder; Tuple → TupleEncoder.
        name: Layer name.
        cnn: Image encoder architecture, a key of `CONV_ARCHITECTURES`, or "auto" ("nature" when H, W >= 36,
            else "small").
        channels: Image channel axis: "first", "last" or "auto" (see `image_layout`).

    Returns:
        A Keras layer mapping a batch of observations to float32 features [B, F].

    Raises:
        ValueError: If the space is unsupported, or the image layout or architecture cannot apply.
    """
    space = observation_space
    if is_image_space(space):
        return image_encoder(space, cnn, channels, name=name)
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        return FlattenCast(name=name)
    if isinstance(space, gym.spaces.Discrete):
        return OneHot(int(space.n), int(space.start), name=name)
    if isinstance(space, gym.spaces.MultiDiscrete):
        if len(space.shape) == 1:
            return MultiOneHot(space.nvec.tolist(), space.start.tolist(), name=name)
        return FlattenCast(name=name)
    if isinstance(space, gym.spaces.Dict):
        return DictEncoder(space, name=name, cnn=cnn, channels=channels)
    if isinstance(space, gym.spaces.Tuple):
        return TupleEncoder(space, name=name)
    raise ValueError(
        f"Unsupported observation space {space!r}; supported: {', '.join(SUPPORTED_OBSERVATION_SPACES)}."
    )

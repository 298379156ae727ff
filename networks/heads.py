"""Output heads: features [B, F] → the distribution's params [B, P], or a value [B].

Policy outputs use orthogonal init with gain 0.01, so the initial policy is close to uniform (or to a
zero-mean Gaussian); the value output uses gain 1 (Andrychowicz et al., 2021, "What Matters in On-Policy RL").
"""

from __future__ import annotations

import gymnasium as gym
import keras
from keras import ops

from networks.layers import Linear, Shape

POLICY_GAIN = 0.01
LOG_STD_BOUNDS = (-20.0, 2.0)
"""Range of a state-dependent log_std (as in SAC, Haarnoja et al., 2018), so std never collapses or explodes."""


class _LogitsHead(keras.layers.Layer):
    """A Linear(units, gain 0.01) head; subclasses name `units` and own their config."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.logits = Linear(units, kernel_gain=POLICY_GAIN, name="logits")

    def build(self, input_shape: Shape) -> None:
        self.logits.build(input_shape)

    def call(self, inputs):
        return self.logits(inputs)  # [B, units]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self.logits.compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="tfpg")
class CategoricalHead(_LogitsHead):
    """Logits [B, n] for `Categorical(n)`."""

    def __init__(self, n: int, **kwargs):
        super().__init__(int(n), **kwargs)
        self.n = int(n)

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


@keras.saving.register_keras_serializable(package="tfpg")
class MultiCategoricalHead(_LogitsHead):
    """Concatenated logits [B, sum(nvec)] for `MultiCategorical(nvec)`."""

    def __init__(self, nvec: list[int], **kwargs):
        super().__init__(sum(int(n) for n in nvec), **kwargs)
        self.nvec = [int(n) for n in nvec]

    def get_config(self) -> dict:
        return {**super().get_config(), "nvec": self.nvec}


@keras.saving.register_keras_serializable(package="tfpg")
class BernoulliHead(_LogitsHead):
    """Logits [B, n] for `Bernoulli(n)`."""

    def __init__(self, n: int, **kwargs):
        super().__init__(int(n), **kwargs)
        self.n = int(n)

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


@keras.saving.register_keras_serializable(package="tfpg")
class GaussianHead(keras.layers.Layer):
    """concat([mean, log_std], -1) [B, 2*dim] for `DiagGaussian(dim)` or `SquashedDiagGaussian`.

    The mean is a Linear(dim, gain 0.01) of the features. By default log_std is one learned vector [dim],
    independent of the state (as in PPO), broadcast over the batch; with ``state_dependent_std`` it is a
    second Linear(dim, gain 0.01) of the features plus ``log_std_init``, clipped to ``LOG_STD_BOUNDS``.

    Args:
        dim: Action dimensions.
        log_std_init: Initial value of every log_std entry (the offset of a state-dependent one).
        state_dependent_std: log_std as a function of the features instead of a free vector.
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, dim: int, log_std_init: float = 0.0, state_dependent_std: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.log_std_init = float(log_std_init)
        self.state_dependent_std = bool(state_dependent_std)
        self.mean = Linear(self.dim, kernel_gain=POLICY_GAIN, name="mean")
        self.log_std_layer = None
        if self.state_dependent_std:
            self.log_std_layer = Linear(self.dim, kernel_gain=POLICY_GAIN, name="log_std")

    def build(self, input_shape: Shape) -> None:
        self.mean.build(input_shape)
        if self.state_dependent_std:
            self.log_std_layer.build(input_shape)
        else:
            self.log_std = self.add_weight(
                name="log_std", shape=(self.dim,), initializer=keras.initializers.Constant(self.log_std_init)
            )

    def call(self, inputs):
        mean = self.mean(inputs)  # [B, dim]
        # A Python branch on a config flag: each head traces one of the two paths.
        if self.state_dependent_std:
            log_std = ops.clip(self.log_std_layer(inputs) + self.log_std_init, *LOG_STD_BOUNDS)  # [B, dim]
        else:
            log_std = ops.broadcast_to(self.log_std, ops.shape(mean))  # [dim] → [B, dim]
        return ops.concatenate([mean, log_std], axis=-1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], 2 * self.dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "dim": self.dim,
            "log_std_init": self.log_std_init,
            "state_dependent_std": self.state_dependent_std,
        }


@keras.saving.register_keras_serializable(package="tfpg")
class ValueHead(keras.layers.Layer):
    """State value: Linear(1, gain 1) squeezed to [B]."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.value = Linear(1, kernel_gain=1.0, name="value")

    def build(self, input_shape: Shape) -> None:
        self.value.build(input_shape)

    def call(self, inputs):
        return ops.squeeze(self.value(inputs), axis=-1)  # [B, 1] → [B]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1])


def make_policy_head(
    action_space: gym.Space,
    log_std_init: float = 0.0,
    name: str | None = None,
    state_dependent_std: bool = False,
) -> keras.layers.Layer:
    """The head producing `make_distribution(action_space)`'s params.

    Args:
        action_space: Discrete, 1-D Box, 1-D MultiDiscrete or 1-D MultiBinary.
        log_std_init: Initial log_std of a Box (Gaussian) head; ignored otherwise.
        state_dependent_std: A Box head's log_std depends on the state; ignored otherwise.
        name: Layer name.

    Returns:
        CategoricalHead, GaussianHead, MultiCategoricalHead or BernoulliHead.

    Raises:
        ValueError: If the space is unsupported or not one-dimensional.
    """
    supported = "Discrete, 1-D Box, 1-D MultiDiscrete, 1-D MultiBinary"
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(int(action_space.n), name=name)
    if isinstance(action_space, gym.spaces.Box | gym.spaces.MultiDiscrete | gym.spaces.MultiBinary):
        if len(action_space.shape) != 1:
            raise ValueError(
                f"Action space {action_space!r} has shape {action_space.shape}; only one-dimensional action "
                f"spaces are supported ({supported})."
            )
        if isinstance(action_space, gym.spaces.Box):
            return GaussianHead(action_space.shape[0], log_std_init, state_dependent_std, name=name)
        if isinstance(action_space, gym.spaces.MultiDiscrete):
            return MultiCategoricalHead(action_space.nvec.tolist(), name=name)
        return BernoulliHead(action_space.shape[0], name=name)
    raise ValueError(f"Unsupported action space {action_space!r}; supported: {supported}.")

"""Action distributions: one frozen dataclass per action space over one flat parameter tensor.

A network's policy output is always one float32 tensor `params` of shape [B, P]; the dataclass for the action
space (see `make_distribution`) knows how to read it and hands the pieces to the pure TF functions of
``networks/distribution_math.py`` (sampling, mode, log-prob, entropy, KL). Everything here works inside
`tf.function`, and sampling draws randomness only from the `tf.random.Generator` passed in.

Action masking (Categorical and MultiCategorical only). Every method takes an optional ``mask``: bool, the
same shape as ``params`` ([B, n] for Discrete(n); for MultiDiscrete(nvec) one flat [B, sum(nvec)] mask, the
per-dimension masks concatenated in the order of the logits, as sb3-contrib's MaskablePPO takes it); True
marks a valid action. Sampling, mode, log-prob, entropy and KL are then those of the distribution renormalized
over the valid actions (invalid logits become ``MASKED_LOGIT``, finite; the gradient wrt an invalid logit is 0).
Each row (each dimension, for MultiDiscrete) must have at least one valid action; the caller checks that
(agents/experience/masks.py). Gaussians and Bernoulli refuse a mask (ValueError). ``mask=None`` is the
unmasked distribution, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np
import tensorflow as tf

from networks.distribution_math import (
    bernoulli_entropy,
    bernoulli_kl,
    bernoulli_log_prob,
    bernoulli_mode,
    bernoulli_sample,
    categorical_entropy,
    categorical_kl,
    categorical_log_prob,
    categorical_mode,
    categorical_sample,
    gaussian_entropy,
    gaussian_kl,
    gaussian_log_prob,
    gaussian_sample,
    mask_logits,
    squashed_gaussian_log_prob,
)

Mask = tf.Tensor | None  # bool [B, param_size], True = valid action; None = no masking


def _refuse_mask(distribution: object, mask: Mask) -> None:
    """Raises for a mask given to a distribution that cannot take one (continuous or Bernoulli actions)."""
    if mask is not None:
        raise ValueError(
            f"{type(distribution).__name__} actions cannot be masked: action masking applies to Discrete and "
            f"MultiDiscrete action spaces only. Set action_mask=none for this env."
        )


# ----------------------------------------------------------------------------------------- dataclasses
# Every method takes ``mask`` (see the module docstring); only the categoricals accept one that is not None.
@dataclass(frozen=True)
class Categorical:
    """Discrete(n) actions in [0, n). params: logits [B, n]; actions [B] int32; mask: None or bool [B, n]."""

    n: int
    maskable: ClassVar[bool] = True

    @property
    def param_size(self) -> int:
        return self.n

    def sample(self, params: tf.Tensor, generator: tf.random.Generator, mask: Mask = None) -> tf.Tensor:
        return categorical_sample(params, generator, mask)

    def mode(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return categorical_mode(params, mask)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return categorical_log_prob(params, actions, mask)

    def entropy(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return categorical_entropy(params, mask)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return categorical_kl(params_p, params_q, mask)


@dataclass(frozen=True)
class DiagGaussian:
    """1-D Box(dim) actions. params: concat([mean, log_std], -1) [B, 2*dim]; actions [B, dim] float32."""

    dim: int
    maskable: ClassVar[bool] = False

    @property
    def param_size(self) -> int:
        return 2 * self.dim

    def _split(self, params: tf.Tensor, mask: Mask = None) -> tuple[tf.Tensor, tf.Tensor]:
        _refuse_mask(self, mask)
        return params[..., : self.dim], params[..., self.dim :]

    def sample(self, params: tf.Tensor, generator: tf.random.Generator, mask: Mask = None) -> tf.Tensor:
        return gaussian_sample(*self._split(params, mask), generator)

    def mode(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return self._split(params, mask)[0]

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return gaussian_log_prob(*self._split(params, mask), actions)

    def entropy(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return gaussian_entropy(self._split(params, mask)[1])

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return gaussian_kl(*self._split(params_p, mask), *self._split(params_q))


@dataclass(frozen=True)
class SquashedDiagGaussian:
    """1-D bounded Box(dim) actions a = c + s tanh(u), u ~ N(mean, diag(std^2)), inside [low, high].

    params: concat([mean, log_std], -1) [B, 2*dim] (the same head as DiagGaussian); actions [B, dim] float32
    in the env's units, so the env needs no clipping. ``log_prob`` includes the log-det-Jacobian of the
    squash and the affine rescale. ``entropy`` returns the entropy of the pre-squash Gaussian u (the squashed
    entropy has no closed form; H[a] = H[u] + E[Σ log s(1 - tanh(u)^2)]), used only as an exploration bonus.
    ``kl`` is exact: KL is invariant under the shared bijection u → a.
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    maskable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", tuple(float(x) for x in self.low))
        object.__setattr__(self, "high", tuple(float(x) for x in self.high))

    @property
    def dim(self) -> int:
        return len(self.low)

    @property
    def param_size(self) -> int:
        return 2 * self.dim

    def _split(self, params: tf.Tensor, mask: Mask = None) -> tuple[tf.Tensor, tf.Tensor]:
        _refuse_mask(self, mask)
        return params[..., : self.dim], params[..., self.dim :]

    def _squash(self, u: tf.Tensor) -> tf.Tensor:
        low, high = tf.constant(self.low, u.dtype), tf.constant(self.high, u.dtype)
        return (high + low) / 2.0 + (high - low) / 2.0 * tf.tanh(u)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator, mask: Mask = None) -> tf.Tensor:
        return self._squash(gaussian_sample(*self._split(params, mask), generator))

    def mode(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return self._squash(self._split(params, mask)[0])

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        low, high = tf.constant(self.low, params.dtype), tf.constant(self.high, params.dtype)
        return squashed_gaussian_log_prob(*self._split(params, mask), actions, low, high)

    def entropy(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return gaussian_entropy(self._split(params, mask)[1])

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return gaussian_kl(*self._split(params_p, mask), *self._split(params_q))


@dataclass(frozen=True)
class MultiCategorical:
    """MultiDiscrete(nvec) actions. params: concatenated logits [B, sum(nvec)]; actions [B, D] int32.

    mask: None or one flat bool [B, sum(nvec)], split like the logits (dimension i's n_i entries in order).
    """

    nvec: tuple[int, ...]
    maskable: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "nvec", tuple(int(n) for n in self.nvec))

    @property
    def param_size(self) -> int:
        return sum(self.nvec)

    def _split(self, params: tf.Tensor, mask: Mask = None) -> list[tf.Tensor]:
        """D x [B, n_i] logits, invalid ones already MASKED_LOGIT. The flat logits are masked before the split
        (not each part): TFLite has no split of bool tensors, so an exported model masks this way too."""
        return tf.split(mask_logits(params, mask), list(self.nvec), axis=-1)

    def sample(self, params: tf.Tensor, generator: tf.random.Generator, mask: Mask = None) -> tf.Tensor:
        return tf.stack([categorical_sample(lg, generator) for lg in self._split(params, mask)], axis=-1)

    def mode(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return tf.stack([categorical_mode(lg) for lg in self._split(params, mask)], axis=-1)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        logits = enumerate(self._split(params, mask))
        return tf.add_n([categorical_log_prob(lg, actions[:, i]) for i, lg in logits])

    def entropy(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        return tf.add_n([categorical_entropy(lg) for lg in self._split(params, mask)])

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        pairs = zip(self._split(params_p, mask), self._split(params_q, mask), strict=True)
        return tf.add_n([categorical_kl(p, q) for p, q in pairs])


@dataclass(frozen=True)
class Bernoulli:
    """MultiBinary(n) actions. params: logits [B, n]; actions [B, n] int32 in {0, 1}."""

    n: int
    maskable: ClassVar[bool] = False

    @property
    def param_size(self) -> int:
        return self.n

    def sample(self, params: tf.Tensor, generator: tf.random.Generator, mask: Mask = None) -> tf.Tensor:
        _refuse_mask(self, mask)
        return bernoulli_sample(params, generator)

    def mode(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        _refuse_mask(self, mask)
        return bernoulli_mode(params)

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        _refuse_mask(self, mask)
        return bernoulli_log_prob(params, actions)

    def entropy(self, params: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        _refuse_mask(self, mask)
        return bernoulli_entropy(params)

    def kl(self, params_p: tf.Tensor, params_q: tf.Tensor, mask: Mask = None) -> tf.Tensor:
        _refuse_mask(self, mask)
        return bernoulli_kl(params_p, params_q)


Distribution = Categorical | DiagGaussian | SquashedDiagGaussian | MultiCategorical | Bernoulli


def make_distribution(action_space: gym.Space, squash: bool = False) -> Distribution:
    """The distribution for an action space.

    Args:
        action_space: Discrete, 1-D Box, 1-D MultiDiscrete or 1-D MultiBinary.
        squash: For a Box, a tanh-squashed Gaussian inside its bounds instead of a Gaussian (whose samples
            the env then clips). Ignored for other spaces.

    Returns:
        Categorical, DiagGaussian (SquashedDiagGaussian if squash), MultiCategorical or Bernoulli. Discrete
        actions are indices in [0, n); an env with `start != 0` must add `start` itself.

    Raises:
        ValueError: If the space is unsupported or not one-dimensional, or squash is asked for a Box with
            infinite bounds.
    """
    if isinstance(action_space, gym.spaces.Discrete):
        return Categorical(int(action_space.n))
    supported = "Discrete, 1-D Box, 1-D MultiDiscrete, 1-D MultiBinary"
    if isinstance(action_space, gym.spaces.Box | gym.spaces.MultiDiscrete | gym.spaces.MultiBinary):
        if len(action_space.shape) != 1:
            raise ValueError(
                f"Action space {action_space!r} has shape {action_space.shape}; only one-dimensional action "
                f"spaces are supported ({supported}). Flatten it with a wrapper first."
            )
        if isinstance(action_space, gym.spaces.Box) and squash:
            if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
                raise ValueError(
                    f"squash_actions needs finite Box bounds, but {action_space!r} has infinite ones. "
                    f"Set squash_actions=false (Gaussian actions, clipped by the env) or bound the space."
                )
            return SquashedDiagGaussian(action_space.low.tolist(), action_space.high.tolist())
        if isinstance(action_space, gym.spaces.Box):
            return DiagGaussian(action_space.shape[0])
        if isinstance(action_space, gym.spaces.MultiDiscrete):
            return MultiCategorical(tuple(action_space.nvec.tolist()))
        return Bernoulli(action_space.shape[0])
    raise ValueError(f"Unsupported action space {action_space!r}; supported: {supported}.")

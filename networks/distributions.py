"""Action distributions as pure TF functions over one flat parameter tensor.

A network's policy output is always one float32 tensor `params` of shape [B, P]; the frozen dataclass for
the action space (see `make_distribution`) knows how to read it. Everything here works inside `tf.function`.
Sampling draws randomness only from the `tf.random.Generator` passed in, so checkpointing that generator
makes a run reproducible. Categoricals sample with the Gumbel-max trick (Gumbel, 1954; Maddison et al.,
2014): argmax(logits + G), G = -log(-log U), U ~ Uniform(0, 1).

Action masking (Categorical and MultiCategorical only). Every method takes an optional ``mask``: bool, the
same shape as ``params`` ([B, n] for Discrete(n); for MultiDiscrete(nvec) one flat [B, sum(nvec)] mask, the
per-dimension masks concatenated in the order of the logits, as sb3-contrib's MaskablePPO takes it); True
marks a valid action. Invalid logits are replaced by ``MASKED_LOGIT``, a large finite negative number (not
-inf: no inf - inf or 0 * inf anywhere, in values or gradients), so sampling, mode, log-prob, entropy and KL
are those of the distribution renormalized over the valid actions; the gradient wrt an invalid logit is 0.
Each row (each dimension, for MultiDiscrete) must have at least one valid action; the caller checks that
(agents/experience/masks.py). Gaussians and Bernoulli refuse a mask (ValueError). ``mask=None`` is the
unmasked distribution, unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np
import tensorflow as tf

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
Mask = tf.Tensor | None  # bool [B, param_size], True = valid action; None = no masking
# Smallest positive float32, so that log(U) stays finite.
_TINY = float(np.finfo(np.float32).tiny)
MASKED_LOGIT = -1e9
"""The logit of an invalid action. Finite, and far below any real logit plus Gumbel noise (G < 17 for
U < 1 in float32), so an invalid action is never the Gumbel-max or the argmax, and exp(MASKED_LOGIT - max)
is exactly 0 in float32: log-probs of valid actions equal those of the renormalized valid-only softmax."""


def mask_logits(logits: tf.Tensor, mask: tf.Tensor | None) -> tf.Tensor:
    """logits where mask is True, MASKED_LOGIT elsewhere (logits itself when mask is None). [B, n] → [B, n].

    tf.where passes no gradient to the replaced entries, so d(anything)/d(invalid logit) = 0.
    """
    if mask is None:
        return logits
    return tf.where(tf.cast(mask, tf.bool), logits, tf.constant(MASKED_LOGIT, logits.dtype))


def _refuse_mask(distribution: object, mask: tf.Tensor | None) -> None:
    if mask is not None:
        raise ValueError(
            f"{type(distribution).__name__} actions cannot be masked: action masking applies to Discrete and "
            f"MultiDiscrete action spaces only. Set action_mask=none for this env."
        )


# ----------------------------------------------------------------------------------------- categorical
# mask: None, or bool [B, n] (True = valid); see the module docstring.
def categorical_log_prob(logits: tf.Tensor, actions: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """log softmax(logits)[action] (over the valid actions). logits [B, n], actions [B] int → [B]."""
    log_p = tf.nn.log_softmax(mask_logits(logits, mask), axis=-1)
    return tf.gather(log_p, tf.cast(actions, tf.int32), axis=-1, batch_dims=1)


def categorical_entropy(logits: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """-Σ p log p (over the valid actions: their p is exactly 0). logits [B, n] → [B]."""
    log_p = tf.nn.log_softmax(mask_logits(logits, mask), axis=-1)
    # multiply_no_nan: a -inf logit has p = 0 and contributes 0, not 0 * -inf = nan.
    return -tf.reduce_sum(tf.math.multiply_no_nan(log_p, tf.exp(log_p)), axis=-1)


def categorical_kl(logits_p: tf.Tensor, logits_q: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """KL(p || q) = Σ p (log p - log q), both restricted to the same valid actions. logits [B, n] → [B]."""
    log_p = tf.nn.log_softmax(mask_logits(logits_p, mask), axis=-1)
    log_q = tf.nn.log_softmax(mask_logits(logits_q, mask), axis=-1)
    return tf.reduce_sum(tf.math.multiply_no_nan(log_p - log_q, tf.exp(log_p)), axis=-1)


def categorical_sample(
    logits: tf.Tensor, generator: tf.random.Generator, mask: tf.Tensor | None = None
) -> tf.Tensor:
    """Gumbel-max sample (a valid action). logits [B, n] → [B] int32.

    Draws the same noise with or without a mask, so a masked rollout consumes the generator identically.
    """
    u = generator.uniform(tf.shape(logits), minval=_TINY, maxval=1.0, dtype=logits.dtype)
    gumbel = -tf.math.log(-tf.math.log(u))
    return tf.argmax(mask_logits(logits, mask) + gumbel, axis=-1, output_type=tf.int32)


def categorical_mode(logits: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """argmax (over the valid actions). logits [B, n] → [B] int32."""
    return tf.argmax(mask_logits(logits, mask), axis=-1, output_type=tf.int32)


# -------------------------------------------------------------------------------------------- gaussian
def gaussian_log_prob(mean: tf.Tensor, log_std: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
    """Diagonal Gaussian log-density summed over action dims. All [B, d] → [B]."""
    z = (tf.cast(actions, mean.dtype) - mean) * tf.exp(-log_std)
    return tf.reduce_sum(-0.5 * tf.square(z) - log_std - _HALF_LOG_2PI, axis=-1)


def gaussian_entropy(log_std: tf.Tensor) -> tf.Tensor:
    """Σ (log σ + ½ log 2πe). log_std [B, d] → [B]."""
    return tf.reduce_sum(log_std + _HALF_LOG_2PI + 0.5, axis=-1)


def gaussian_kl(
    mean_p: tf.Tensor, log_std_p: tf.Tensor, mean_q: tf.Tensor, log_std_q: tf.Tensor
) -> tf.Tensor:
    """KL(p || q) = Σ log σq/σp + (σp² + (μp - μq)²) / 2σq² - ½. All [B, d] → [B]."""
    var_ratio = tf.exp(2.0 * (log_std_p - log_std_q))
    mean_term = tf.square((mean_p - mean_q) * tf.exp(-log_std_q))
    return tf.reduce_sum(log_std_q - log_std_p + 0.5 * (var_ratio + mean_term) - 0.5, axis=-1)


def gaussian_sample(mean: tf.Tensor, log_std: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
    """μ + σ ε, ε ~ N(0, I). [B, d] → [B, d] float32."""
    return mean + tf.exp(log_std) * generator.normal(tf.shape(mean), dtype=mean.dtype)


# ------------------------------------------------------------------------------- tanh-squashed gaussian
# Largest |tanh(u)| accepted when inverting an action: float32 tanh saturates to exactly ±1 for |u| > ~9,
# where atanh is infinite. 1 - 1e-6 maps back to |u| ≈ 7.25; sampling and learning both go through the
# same inversion (log-probs are always computed from the stored action), so they stay consistent.
_SQUASH_LIMIT = 1.0 - 1e-6


def log_one_minus_tanh_sq(u: tf.Tensor) -> tf.Tensor:
    """log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|. Elementwise."""
    return 2.0 * (math.log(2.0) - u - tf.nn.softplus(-2.0 * u))


def squashed_gaussian_log_prob(
    mean: tf.Tensor, log_std: tf.Tensor, actions: tf.Tensor, low: tf.Tensor, high: tf.Tensor
) -> tf.Tensor:
    """Log-density of a = c + s tanh(u), u ~ N(mean, std), c = (high + low)/2, s = (high - low)/2.

    Change of variables: log p(a) = log N(u) - Σ log |da/du| = log N(u) - Σ [log s + log(1 - tanh(u)^2)],
    with u = atanh((a - c) / s). mean, log_std, actions [B, d]; low, high [d] → [B].
    """
    scale = (high - low) / 2.0
    center = (high + low) / 2.0
    y = tf.clip_by_value((tf.cast(actions, mean.dtype) - center) / scale, -_SQUASH_LIMIT, _SQUASH_LIMIT)
    u = tf.atanh(y)
    log_det = tf.reduce_sum(tf.math.log(scale) + log_one_minus_tanh_sq(u), axis=-1)
    return gaussian_log_prob(mean, log_std, u) - log_det


# ------------------------------------------------------------------------------------------- bernoulli
def bernoulli_log_prob(logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
    """Σ a log σ(l) + (1-a) log(1-σ(l)) = Σ a l - softplus(l). [B, n] → [B]."""
    actions = tf.cast(actions, logits.dtype)
    return tf.reduce_sum(actions * logits - tf.nn.softplus(logits), axis=-1)


def bernoulli_entropy(logits: tf.Tensor) -> tf.Tensor:
    """Σ softplus(l) - σ(l) l (the -p log p - (1-p) log(1-p) of each bit). [B, n] → [B]."""
    return tf.reduce_sum(tf.nn.softplus(logits) - tf.sigmoid(logits) * logits, axis=-1)


def bernoulli_kl(logits_p: tf.Tensor, logits_q: tf.Tensor) -> tf.Tensor:
    """KL(p || q) summed over bits. [B, n] → [B]."""
    p = tf.sigmoid(logits_p)
    # log p = -softplus(-l), log(1-p) = -softplus(l).
    on = p * (tf.nn.softplus(-logits_q) - tf.nn.softplus(-logits_p))
    off = (1.0 - p) * (tf.nn.softplus(logits_q) - tf.nn.softplus(logits_p))
    return tf.reduce_sum(on + off, axis=-1)


def bernoulli_sample(logits: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
    """1 where U < σ(l). [B, n] → [B, n] int32."""
    u = generator.uniform(tf.shape(logits), dtype=logits.dtype)
    return tf.cast(u < tf.sigmoid(logits), tf.int32)


def bernoulli_mode(logits: tf.Tensor) -> tf.Tensor:
    """1 where σ(l) > ½. [B, n] → [B, n] int32."""
    return tf.cast(logits > 0.0, tf.int32)


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

"""NumPy copies of tfpg's action distributions (networks/distributions.py), for acting in rollouts.

Given the same noise, each mirror samples the same actions as its TF distribution, and gives the same modes and
log-probs; ``DISTRIBUTIONS`` maps a distribution type to its mirror, ``MirroredDistribution`` is what the policy
calls.

Action masks (bool [B, param_size], True = valid; Categorical and MultiCategorical only): ``MirroredDistribution``
sets invalid logits to ``MASKED_LOGIT`` exactly as the TF distributions do (``np.where`` on float32, the same
constant) and then runs the unmasked mirror, so given the same noise both paths pick the same valid actions.
"""

from __future__ import annotations

import math

import numpy as np

from networks.distribution_math import MASKED_LOGIT
from networks.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical
from networks.numpy_layers import Array, lookup

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _split(distribution: MultiCategorical, params: Array) -> list[Array]:
    return np.split(params, np.cumsum(distribution.nvec)[:-1], axis=-1)


def _picked_log_softmax(logits: Array, actions: Array) -> Array:
    """log softmax(logits)[b, actions[b]] for logits [..., n] and actions [...], without the full log-softmax."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    if actions.ndim == 1:  # [B]: plain indexing costs half of take_along_axis at B = 1 (the 1-env actor)
        picked = shifted[np.arange(len(actions)), actions]
    else:
        picked = np.take_along_axis(shifted, actions[..., None], axis=-1)[..., 0]
    return picked - np.log(np.exp(shifted).sum(axis=-1))


class _Mirror:
    """Noise as the mirrors consume it: ``prepare`` turns drawn noise into it (once per rollout for the actor, whose
    noise is drawn up front), ``sample_prepared`` samples from it; ``sample`` is the two in a row."""

    def prepare(self, noise):
        return noise

    def sample(self, d, params, noise):
        return self.sample_prepared(d, params, self.prepare(noise))


class _CategoricalMirror(_Mirror):
    noise = "gumbel_uniform"  # uniform in [tiny, 1), turned into Gumbel noise as categorical_sample does

    def width(self, d) -> int:
        return d.param_size

    def prepare(self, noise):
        return -np.log(-np.log(noise))  # exactly the negation of what categorical_sample subtracts

    def sample_prepared(self, d, params, gumbel):
        return self.mode(d, params + gumbel)  # Gumbel-max: the mode of the perturbed logits

    def mode(self, d, params):
        return np.argmax(params, axis=-1)

    def log_prob(self, d, params, actions):
        return _picked_log_softmax(params, actions)


class _MultiCategoricalMirror(_CategoricalMirror):
    # Dimensions of equal size are handled as one [B, D, n] array (a few NumPy calls whatever D); others one by one.

    def mode(self, d, params):
        shape = _equal_dims_shape(d, params)
        if shape is not None:
            return np.argmax(params.reshape(shape), axis=-1)  # [B, D]
        return np.stack([np.argmax(lg, axis=-1) for lg in _split(d, params)], axis=-1)

    def log_prob(self, d, params, actions):
        shape = _equal_dims_shape(d, params)
        if shape is not None:
            return _picked_log_softmax(params.reshape(shape), actions).sum(axis=-1)
        return sum(_picked_log_softmax(lg, actions[:, i]) for i, lg in enumerate(_split(d, params)))


def _equal_dims_shape(d: MultiCategorical, params: Array) -> tuple[int, int, int] | None:
    """(B, D, n) when every dimension has n actions, else None."""
    n = d.nvec[0]
    return (len(params), len(d.nvec), n) if all(m == n for m in d.nvec) else None


class _BernoulliMirror(_Mirror):
    noise = "uniform"

    def width(self, d) -> int:
        return d.n

    def sample_prepared(self, d, params, noise):
        return noise < 1.0 / (1.0 + np.exp(-params))

    def mode(self, d, params):
        return params > 0.0

    def log_prob(self, d, params, actions):
        return np.sum(actions.astype(np.float32) * params - np.logaddexp(0.0, params), axis=-1)


class _DiagGaussianMirror(_Mirror):
    noise = "normal"

    def width(self, d) -> int:
        return d.dim

    def sample_prepared(self, d, params, noise):
        return params[:, : d.dim] + np.exp(params[:, d.dim :]) * noise

    def mode(self, d, params):
        return params[:, : d.dim]

    def log_prob(self, d, params, actions):
        mean, log_std = params[:, : d.dim], params[:, d.dim :]
        z = (actions - mean) * np.exp(-log_std)
        return np.sum(-0.5 * np.square(z) - log_std - np.float32(_HALF_LOG_2PI), axis=-1)


DISTRIBUTIONS: dict[type, object] = {
    Categorical: _CategoricalMirror(),
    MultiCategorical: _MultiCategoricalMirror(),
    Bernoulli: _BernoulliMirror(),
    DiagGaussian: _DiagGaussianMirror(),
}


class MirroredDistribution:
    """sample / mode / log_prob of one distribution in NumPy; ``noise_kind`` says what ``sample`` consumes.

    ``mask``: None, or bool [B, P] (True = valid action) for the distributions whose ``maskable`` is True.
    """

    def __init__(self, distribution) -> None:
        self._distribution = distribution
        self._mirror = lookup(DISTRIBUTIONS, distribution, "distribution")
        self.noise_kind: tuple[str, int] = (self._mirror.noise, self._mirror.width(distribution))
        """("gumbel_uniform" | "uniform" | "normal", width): the noise per env that ``sample`` needs."""

    def _masked(self, params: Array, mask: Array | None) -> Array:
        """params with invalid logits set to MASKED_LOGIT, as ``distributions.mask_logits`` does."""
        if mask is None:
            return params
        if not getattr(self._distribution, "maskable", False):
            raise ValueError(
                f"{type(self._distribution).__name__} actions cannot be masked: action masking applies to "
                f"Discrete and MultiDiscrete action spaces only. Set action_mask=none for this env."
            )
        return np.where(mask, params, np.float32(MASKED_LOGIT)).astype(params.dtype, copy=False)

    def sample(self, params: Array, noise: Array, mask: Array | None = None) -> Array:
        """Actions from params [B, P] and noise [B, width]; the same rule as the TF samplers."""
        return self._mirror.sample(self._distribution, self._masked(params, mask), noise)

    def mode(self, params: Array, mask: Array | None = None) -> Array:
        return self._mirror.mode(self._distribution, self._masked(params, mask))

    def log_prob(self, params: Array, actions: Array, mask: Array | None = None) -> Array:
        """log π(actions) [B] (renormalized over the valid actions under a mask)."""
        return self._mirror.log_prob(self._distribution, self._masked(params, mask), actions)

    # The rollout actor's path: its noise transformed once per rollout, then one call per step.

    def prepare_noise(self, noise: Array) -> Array:
        """A rollout's noise [T, N, width] as ``sample_and_log_prob`` consumes it (Gumbel for categoricals)."""
        return self._mirror.prepare(noise)

    def sample_and_log_prob(
        self, params: Array, prepared: Array, mask: Array | None = None
    ) -> tuple[Array, Array]:
        """(actions, log π(actions) [B]) from params [B, P] and one step of ``prepare_noise``'s noise [B, width]:
        the actions ``sample`` draws from the same noise, the log-probs ``log_prob`` gives them."""
        params = self._masked(params, mask)  # once for both
        actions = self._mirror.sample_prepared(self._distribution, params, prepared)
        return actions, self._mirror.log_prob(self._distribution, params, actions)

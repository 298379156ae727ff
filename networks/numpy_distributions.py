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

from networks.distributions import MASKED_LOGIT, Bernoulli, Categorical, DiagGaussian, MultiCategorical
from networks.numpy_layers import Array, lookup

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_softmax(logits: Array) -> Array:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _split(distribution: MultiCategorical, params: Array) -> list[Array]:
    return np.split(params, np.cumsum(distribution.nvec)[:-1], axis=-1)


class _Mirror:
    """The rollout fast path's defaults: noise used as drawn, then ``sample`` and ``log_prob`` one after the other."""

    def prepare(self, noise):
        return noise

    def sample_log_prob(self, d, params, prepared):
        actions = self.sample(d, params, prepared)
        return actions, self.log_prob(d, params, actions)


class _CategoricalMirror(_Mirror):
    noise = "gumbel_uniform"  # uniform in [tiny, 1), turned into Gumbel noise as categorical_sample does

    def width(self, d) -> int:
        return d.param_size

    def sample(self, d, params, noise):
        return np.argmax(params - np.log(-np.log(noise)), axis=-1)  # Gumbel-max

    def mode(self, d, params):
        return np.argmax(params, axis=-1)

    def log_prob(self, d, params, actions):
        return _log_softmax(params)[np.arange(len(actions)), actions]

    # The fast path: a whole rollout's uniforms become Gumbel noise in one call (-(log(-log u)) is exactly the
    # negation ``sample`` subtracts, so params + gumbel picks the same actions), and the log-prob reads the
    # sampled entry of the same shifted logits ``_log_softmax`` computes, without the full log-softmax.
    def prepare(self, noise):
        return -np.log(-np.log(noise))

    def sample_log_prob(self, d, params, gumbel):
        actions = np.argmax(params + gumbel, axis=-1)  # [B]
        shifted = params - params.max(axis=-1, keepdims=True)
        picked = shifted[np.arange(len(actions)), actions]  # (take_along_axis costs twice as much at B = 1)
        return actions, picked - np.log(np.exp(shifted).sum(axis=-1))


class _MultiCategoricalMirror(_CategoricalMirror):
    def sample(self, d, params, noise):
        gumbel = params - np.log(-np.log(noise))
        return np.stack([np.argmax(g, axis=-1) for g in _split(d, gumbel)], axis=-1)

    def mode(self, d, params):
        return np.stack([np.argmax(lg, axis=-1) for lg in _split(d, params)], axis=-1)

    def log_prob(self, d, params, actions):
        cat = _CategoricalMirror()
        return sum(cat.log_prob(d, lg, actions[:, i]) for i, lg in enumerate(_split(d, params)))

    def sample_log_prob(self, d, params, gumbel):
        nvec = d.nvec
        if any(n != nvec[0] for n in nvec):  # dimensions of different sizes: one at a time
            actions = np.stack([np.argmax(g, axis=-1) for g in _split(d, params + gumbel)], axis=-1)
            return actions, self.log_prob(d, params, actions)
        # Equal dimensions: [B, D * n] → [B, D, n], every dimension in the same few calls.
        shape = (len(params), len(nvec), int(nvec[0]))
        logits = params.reshape(shape)
        actions = np.argmax((params + gumbel).reshape(shape), axis=-1)  # [B, D]
        shifted = logits - logits.max(axis=-1, keepdims=True)
        picked = np.take_along_axis(shifted, actions[..., None], axis=-1)[..., 0]  # [B, D]
        return actions, (picked - np.log(np.exp(shifted).sum(axis=-1))).sum(axis=-1)


class _BernoulliMirror(_Mirror):
    noise = "uniform"

    def width(self, d) -> int:
        return d.n

    def sample(self, d, params, noise):
        return noise < 1.0 / (1.0 + np.exp(-params))

    def mode(self, d, params):
        return params > 0.0

    def log_prob(self, d, params, actions):
        return np.sum(actions.astype(np.float32) * params - np.logaddexp(0.0, params), axis=-1)


class _DiagGaussianMirror(_Mirror):
    noise = "normal"

    def width(self, d) -> int:
        return d.dim

    def sample(self, d, params, noise):
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
        return self._mirror.sample_log_prob(self._distribution, self._masked(params, mask), prepared)

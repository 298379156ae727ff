"""A NumPy copy of an ``ActorCritic``'s forward pass and of its action distribution, for acting in rollouts.

Why: one ``tf.function`` call costs ~250-450 µs on a small CPU whatever the graph, while a NumPy forward pass
of a 64x64 MLP on 8 observations costs a few tens of µs. Acting happens once per vector step, so the TF call
dominated collection (BENCHMARKS.md, "speed"). Weights never change during a rollout, so the policy builds one
``MirroredNetwork`` per rollout from a weights snapshot and acts from it.

The mirror is a set of dispatch tables, one entry per layer or distribution type it can copy (``ENCODERS``,
``CORES``, ``ACTIVATIONS``, ``HEADS``, ``DISTRIBUTIONS``). ``mirror_support(model)`` walks the model through
those tables once and returns ``None`` (mirrored) or the reason it is not (e.g. an image encoder): that is the policy's
explicit choice between this path and the TF path. The TF path stays the reference: tests check that both give
the same parameters, values, samples (given the same noise), modes and log-probs.

Action masks (bool [B, param_size], True = valid; Categorical and MultiCategorical only): ``MirroredDistribution``
sets invalid logits to ``MASKED_LOGIT`` exactly as the TF distributions do (``np.where`` on float32, the same
constant) and then runs the unmasked mirror, so given the same noise both paths pick the same valid actions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from networks.cores import GRUCore, LSTMCore
from networks.distributions import MASKED_LOGIT, Bernoulli, Categorical, DiagGaussian, MultiCategorical
from networks.encoders import DictEncoder, FlattenCast, MultiOneHot, OneHot, TupleEncoder
from networks.heads import (
    LOG_STD_BOUNDS,
    BernoulliHead,
    CategoricalHead,
    GaussianHead,
    MultiCategoricalHead,
    ValueHead,
)
from networks.numpy_cores import gru_step, lstm_step

Array = np.ndarray
Weights = dict[int, Array]
"""``id(variable)`` → its value in the snapshot."""


class NotMirrored(Exception):
    """A part of the model has no NumPy mirror; the message names it. The policy acts through TF instead."""


def _lookup(table: dict, obj, what: str):
    entry = table.get(type(obj))
    if entry is None:
        raise NotMirrored(f"{what} {type(obj).__name__} has no NumPy mirror")
    return entry


# --- encoders: obs [B, ...] → float32 features [B, F] ------------------------------------------------------


def _flatten(encoder: FlattenCast, weights: Weights) -> Callable:
    return lambda obs: np.asarray(obs, np.float32).reshape(len(obs), -1)


def _one_hot(encoder: OneHot, weights: Weights) -> Callable:
    eye = np.eye(encoder.n, dtype=np.float32)
    return lambda obs: eye[np.asarray(obs, np.int64) - encoder.start]


def _multi_one_hot(encoder: MultiOneHot, weights: Weights) -> Callable:
    eyes = [np.eye(n, dtype=np.float32) for n in encoder.nvec]

    def encode(obs):
        obs = np.asarray(obs, np.int64)
        parts = [eye[obs[:, i] - s] for i, (eye, s) in enumerate(zip(eyes, encoder.start, strict=True))]
        return np.concatenate(parts, axis=-1)

    return encode


def _dict(encoder: DictEncoder, weights: Weights) -> Callable:
    parts = [
        (key, encoder_fn(sub, weights))
        for key, sub in zip(encoder.observation_keys, encoder.encoders, strict=True)
    ]
    return lambda obs: np.concatenate([fn(obs[key]) for key, fn in parts], axis=-1)


def _tuple(encoder: TupleEncoder, weights: Weights) -> Callable:
    parts = [encoder_fn(sub, weights) for sub in encoder.encoders]
    return lambda obs: np.concatenate([fn(x) for x, fn in zip(obs, parts, strict=True)], axis=-1)


ENCODERS: dict[type, Callable[[object, Weights], Callable]] = {
    FlattenCast: _flatten,
    OneHot: _one_hot,
    MultiOneHot: _multi_one_hot,
    DictEncoder: _dict,
    TupleEncoder: _tuple,
}


def encoder_fn(encoder, weights: Weights) -> Callable:
    """The NumPy function of a Keras encoder (``ENCODERS``), or ``NotMirrored``."""
    return _lookup(ENCODERS, encoder, "encoder")(encoder, weights)


# --- recurrent cores: (features [B, F], state [B, S], episode_start [B]) → (outputs [B, H], state [B, S]) ---

CORES: dict[type, Callable] = {LSTMCore: lstm_step, GRUCore: gru_step}
"""Core type → its NumPy step (networks/numpy_cores.py), which takes the core's weights in ``core.weights`` order."""


def core_fn(core, weights: Weights) -> Callable:
    """The NumPy step of a Keras core (``CORES``), or ``NotMirrored``."""
    step = _lookup(CORES, core, "recurrent core")
    arrays = [weights[id(variable)] for variable in core.weights]
    return lambda features, state, episode_start: step(arrays, features, state, episode_start)


# --- dense layers ------------------------------------------------------------------------------------------

ACTIVATIONS: dict[str | None, Callable | None] = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": None,
    None: None,
}

Dense = tuple[Array, Array, Callable | None]
"""(kernel [in, out], bias [out], activation or None) of one ``Linear`` layer."""


def dense(layer, weights: Weights) -> Dense:
    if layer.activation not in ACTIVATIONS:
        raise NotMirrored(f"activation {layer.activation!r} has no NumPy mirror")
    return weights[id(layer.kernel)], weights[id(layer.bias)], ACTIVATIONS[layer.activation]


def _mlp(mlp, weights: Weights) -> list[Dense]:
    return [dense(layer, weights) for layer in mlp.hidden_layers]


def _apply(layers: list[Dense], x: Array) -> Array:
    for kernel, bias, activation in layers:
        x = x @ kernel + bias
        if activation is not None:
            x = activation(x)
    return x


# --- heads: features [B, H] → params [B, P] (policy) or values [B] ------------------------------------------


def _logits_head(head, weights: Weights) -> Callable:
    logits = [dense(head.logits, weights)]
    return lambda features: _apply(logits, features)


def _gaussian_head(head: GaussianHead, weights: Weights) -> Callable:
    mean = [dense(head.mean, weights)]
    if head.state_dependent_std:
        log_std_layer = [dense(head.log_std_layer, weights)]
        offset = head.log_std_init

        def params(features):
            log_std = np.clip(_apply(log_std_layer, features) + offset, *LOG_STD_BOUNDS)
            return np.concatenate([_apply(mean, features), log_std], axis=-1)

        return params
    log_std = weights[id(head.log_std)]  # [dim], the same for every state

    def params(features):
        mu = _apply(mean, features)
        return np.concatenate([mu, np.broadcast_to(log_std, mu.shape)], axis=-1)

    return params


HEADS: dict[type, Callable[[object, Weights], Callable]] = {
    CategoricalHead: _logits_head,
    MultiCategoricalHead: _logits_head,
    BernoulliHead: _logits_head,
    GaussianHead: _gaussian_head,
}


class MirroredNetwork:
    """``ActorCritic.call`` in NumPy, from a frozen copy of its weights: ``forward(obs) -> (params, values)``,
    or ``forward(obs, state, episode_start) -> (params, values, state)`` for a recurrent model.

    Build with ``mirror(model, weights)``, which returns None when some part is not mirrored.
    """

    def __init__(self, model, weights: list[Array]) -> None:
        by_id = {id(variable): array for variable, array in zip(model.weights, weights, strict=True)}
        self.recurrent = bool(getattr(model, "is_recurrent", False))
        self._policy_encoder = encoder_fn(model.policy_encoder, by_id)
        self._policy_mlp = _mlp(model.policy_mlp, by_id)
        value_encoder = getattr(model, "value_encoder", None)
        self._value_encoder = None if value_encoder is None else encoder_fn(value_encoder, by_id)
        self._value_mlp = None if model.share_trunk else _mlp(model.value_mlp, by_id)
        self._policy_head = _lookup(HEADS, model.policy_head, "policy head")(model.policy_head, by_id)
        if type(model.value_head) is not ValueHead:
            raise NotMirrored(f"value head {type(model.value_head).__name__} has no NumPy mirror")
        kernel, bias, _ = dense(model.value_head.value, by_id)
        self._value_kernel, self._value_bias = kernel[:, 0], bias[0]  # [H], scalar
        self.fused = None
        if self.recurrent:
            self._policy_core = core_fn(model.policy_core, by_id)
            self._policy_state_size = model.policy_core.state_size
            self._value_core = None if model.value_core is None else core_fn(model.value_core, by_id)
            self._value_reads_policy_core = model.value_reads_policy_core
        else:
            self.fused = _fuse_trunks(model, by_id)

    def forward(self, obs, state=None, episode_start=None) -> tuple[Array, ...]:
        """obs [B, ...] → (distribution params [B, P] float32, values [B] float32), as ``model(obs)``; a
        recurrent model also takes state [B, S] and episode_start [B] and returns the next state [B, S]."""
        if self.recurrent:
            return self._recurrent_forward(obs, state, episode_start)
        if self.fused is not None:
            return self.fused(obs)
        features = _apply(self._policy_mlp, self._policy_encoder(obs))  # [B, H]
        params = self._policy_head(features)
        if self._value_mlp is not None:
            features = _apply(self._value_mlp, self._value_encoder(obs))
        return params, features @ self._value_kernel + self._value_bias

    def _recurrent_forward(self, obs, state, episode_start) -> tuple[Array, Array, Array]:
        """Encoder → core → MLP → heads, as ``ActorCritic._recurrent_forward`` for one step."""
        split = self._policy_state_size
        policy_out, policy_state = self._policy_core(
            self._policy_encoder(obs), state[:, :split], episode_start
        )
        features = _apply(self._policy_mlp, policy_out)  # [B, H]
        params = self._policy_head(features)
        new_state = policy_state
        if self._value_mlp is None:  # one trunk for both heads
            value_features = features
        elif self._value_reads_policy_core:
            value_features = _apply(self._value_mlp, policy_out)
        elif self._value_core is not None:
            value_out, value_state = self._value_core(
                self._value_encoder(obs), state[:, split:], episode_start
            )
            value_features = _apply(self._value_mlp, value_out)
            new_state = np.concatenate([policy_state, value_state], axis=-1)
        else:  # a feed-forward critic beside the recurrent policy
            value_features = _apply(self._value_mlp, self._value_encoder(obs))
        return params, value_features @ self._value_kernel + self._value_bias, new_state


def _block_diagonal(a: Array, b: Array) -> Array:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]), np.float32)
    out[: a.shape[0], : a.shape[1]], out[a.shape[0] :, a.shape[1] :] = a, b
    return out


def _fuse_trunks(model, by_id: Weights, max_width: int = 128) -> Callable | None:
    """Policy and value trunks and heads as one MLP of side-by-side layers, or None where that does not apply.

    Acting runs once per vector step on a handful of observations, where each NumPy call costs more than its
    arithmetic: two 2-layer trunks plus two heads are 8 matmuls, side by side they are 3 (the first layer's
    kernels concatenated, the others block-diagonal; the zero blocks add exact zeros). Only for flat
    observations, separate trunks of equal depth and activations, a logits or state-independent Gaussian head,
    and widths up to ``max_width`` (beyond that the zero blocks cost more arithmetic than the calls they save).
    """
    head = model.policy_head
    if model.share_trunk or not all(
        type(e) is FlattenCast for e in (model.policy_encoder, model.value_encoder)
    ):
        return None
    if isinstance(head, GaussianHead) and head.state_dependent_std:
        return None
    policy, value = _mlp(model.policy_mlp, by_id), _mlp(model.value_mlp, by_id)
    if not policy or len(policy) != len(value):
        return None
    if any(
        p[2] is not v[2] or max(p[0].shape[1], v[0].shape[1]) > max_width
        for p, v in zip(policy, value, strict=True)
    ):
        return None
    layers = [
        (
            np.concatenate([policy[0][0], value[0][0]], 1),
            np.concatenate([policy[0][1], value[0][1]]),
            policy[0][2],
        )
    ]
    for (pk, pb, act), (vk, vb, _) in zip(policy[1:], value[1:], strict=True):
        layers.append((_block_diagonal(pk, vk), np.concatenate([pb, vb]), act))
    head_kernel, head_bias, _ = dense(head.mean if isinstance(head, GaussianHead) else head.logits, by_id)
    value_kernel, value_bias, _ = dense(model.value_head.value, by_id)
    layers.append((_block_diagonal(head_kernel, value_kernel), np.concatenate([head_bias, value_bias]), None))
    log_std = by_id[id(head.log_std)] if isinstance(head, GaussianHead) else None

    def forward(obs) -> tuple[Array, Array]:
        out = _apply(
            layers, np.asarray(obs, np.float32).reshape(len(obs), -1)
        )  # [B, P + 1]: head, then value
        params, values = out[:, :-1], out[:, -1]
        if log_std is not None:
            params = np.concatenate([params, np.broadcast_to(log_std, params.shape)], axis=-1)
        return params, values

    return forward


# --- distributions, mirroring networks/distributions.py -----------------------------------------------------

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_softmax(logits: Array) -> Array:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _split(distribution: MultiCategorical, params: Array) -> list[Array]:
    return np.split(params, np.cumsum(distribution.nvec)[:-1], axis=-1)


class _CategoricalMirror:
    noise = "gumbel_uniform"  # uniform in [tiny, 1), turned into Gumbel noise as categorical_sample does

    def width(self, d) -> int:
        return d.param_size

    def sample(self, d, params, noise):
        return np.argmax(params - np.log(-np.log(noise)), axis=-1)  # Gumbel-max

    def mode(self, d, params):
        return np.argmax(params, axis=-1)

    def log_prob(self, d, params, actions):
        return _log_softmax(params)[np.arange(len(actions)), actions]


class _MultiCategoricalMirror(_CategoricalMirror):
    def sample(self, d, params, noise):
        gumbel = params - np.log(-np.log(noise))
        return np.stack([np.argmax(g, axis=-1) for g in _split(d, gumbel)], axis=-1)

    def mode(self, d, params):
        return np.stack([np.argmax(lg, axis=-1) for lg in _split(d, params)], axis=-1)

    def log_prob(self, d, params, actions):
        cat = _CategoricalMirror()
        return sum(cat.log_prob(d, lg, actions[:, i]) for i, lg in enumerate(_split(d, params)))


class _BernoulliMirror:
    noise = "uniform"

    def width(self, d) -> int:
        return d.n

    def sample(self, d, params, noise):
        return noise < 1.0 / (1.0 + np.exp(-params))

    def mode(self, d, params):
        return params > 0.0

    def log_prob(self, d, params, actions):
        return np.sum(actions.astype(np.float32) * params - np.logaddexp(0.0, params), axis=-1)


class _DiagGaussianMirror:
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
        self._mirror = _lookup(DISTRIBUTIONS, distribution, "distribution")
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


# --- the policy's decision ----------------------------------------------------------------------------------


def mirror_support(model) -> str | None:
    """None when ``model`` (an ``ActorCritic``) and its distribution are mirrored, else the reason they are not."""
    try:
        MirroredDistribution(model.distribution)
        MirroredNetwork(model, [variable.numpy() for variable in model.weights])
    except NotMirrored as reason:
        return str(reason)
    return None


def mirror(model, weights: list[Array]) -> tuple[MirroredNetwork, MirroredDistribution]:
    """The NumPy network (from ``weights``, ``model.weights`` as arrays in order) and distribution.

    Raises:
        NotMirrored: a part has no mirror (check ``mirror_support`` first).
    """
    return MirroredNetwork(model, weights), MirroredDistribution(model.distribution)

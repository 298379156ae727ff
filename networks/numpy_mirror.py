"""A NumPy copy of an ``ActorCritic``'s forward pass, for acting during rollouts.

Why: one ``tf.function`` call costs ~250-450 µs on a small CPU whatever the graph, while a NumPy forward
pass of a 64x64 MLP on 8 observations costs a few tens of µs. Acting happens once per vector step, so the
TF call dominated collection (BENCHMARKS.md, "speed"). Weights never change during a rollout, so the
collector snapshots them once per rollout (``NumpyActor.from_model``) and acts from the copy.

The TF path (``Policy.act``) stays the reference: tests check that both give the same distribution
parameters, values, log-probs, modes and — given the same noise — the same samples. All sampling noise still
comes from the policy's checkpointed ``tf.random.Generator``, drawn for the whole rollout in one call.

Supported: encoders FlattenCast / OneHot / MultiOneHot (and Dict of them), MLP trunks with tanh / relu /
linear activations, every policy head. Anything else (e.g. image encoders) returns ``None`` from
``from_model`` and the caller keeps the TF path.
"""

from __future__ import annotations

import math

import numpy as np

from networks.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical
from networks.encoders import DictEncoder, FlattenCast, MultiOneHot, OneHot
from networks.heads import GaussianHead, ValueHead

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": None,
    None: None,
}


class Unsupported(Exception):
    """The model has a part this module cannot mirror; the caller uses the TF path instead."""


def _encoder_fn(encoder):
    """A NumPy function obs [B, ...] → float32 features [B, F] mirroring a Keras encoder."""
    if isinstance(encoder, FlattenCast):
        return lambda obs: np.asarray(obs, np.float32).reshape(len(obs), -1)
    if isinstance(encoder, OneHot):
        eye = np.eye(encoder.n, dtype=np.float32)
        return lambda obs: eye[np.asarray(obs, np.int64) - encoder.start]
    if isinstance(encoder, MultiOneHot):
        eyes = [np.eye(n, dtype=np.float32) for n in encoder.nvec]

        def multi_one_hot(obs):
            obs = np.asarray(obs, np.int64)
            parts = [eye[obs[:, i] - s] for i, (eye, s) in enumerate(zip(eyes, encoder.start, strict=True))]
            return np.concatenate(parts, axis=-1)

        return multi_one_hot
    if isinstance(encoder, DictEncoder):
        fns = [
            (key, _encoder_fn(sub))
            for key, sub in zip(encoder.observation_keys, encoder.encoders, strict=True)
        ]
        return lambda obs: np.concatenate([fn(obs[key]) for key, fn in fns], axis=-1)
    raise Unsupported(type(encoder).__name__)


def _linear(layer, weights) -> tuple[np.ndarray, np.ndarray, object]:
    """(kernel [in, out], bias [out], activation fn or None) of a ``Linear`` layer."""
    if layer.activation not in _ACTIVATIONS:
        raise Unsupported(f"activation {layer.activation!r}")
    return weights[id(layer.kernel)], weights[id(layer.bias)], _ACTIVATIONS[layer.activation]


def _trunk_fn(encoder, mlp, weights):
    encode = _encoder_fn(encoder)
    layers = [_linear(layer, weights) for layer in mlp.hidden_layers]

    def trunk(obs):
        x = encode(obs)  # [B, F]
        for kernel, bias, activation in layers:
            x = x @ kernel + bias
            if activation is not None:
                x = activation(x)
        return x  # [B, hidden_sizes[-1]]

    return trunk


def _block_diagonal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]), np.float32)
    out[: a.shape[0], : a.shape[1]], out[a.shape[0] :, a.shape[1] :] = a, b
    return out


def _fuse_trunks(model, by_id, head_kernel, head_bias, value_kernel, value_bias, max_width: int = 128):
    """Policy and value trunks as one MLP of side-by-side layers, or None where that does not apply.

    Acting runs once per vector step on a handful of observations, where each NumPy call costs more than
    its arithmetic: two 2-layer trunks plus two heads are 8 matmuls, side by side they are 3 (the first layer's
    kernels concatenated, the others block-diagonal; the zero blocks add exact zeros). Only for flat
    observations, trunks of equal depth and activations, and widths up to ``max_width`` (beyond that the
    zero blocks cost more arithmetic than the calls they save).
    """
    if model.share_trunk:
        return None
    encoders = (model.policy_encoder, model.value_encoder)
    if not all(type(e) is FlattenCast for e in encoders):
        return None
    policy = [_linear(layer, by_id) for layer in model.policy_mlp.hidden_layers]
    value = [_linear(layer, by_id) for layer in model.value_mlp.hidden_layers]
    if not policy or len(policy) != len(value):
        return None
    if any(
        p[2] is not v[2] or max(p[0].shape[1], v[0].shape[1]) > max_width
        for p, v in zip(policy, value, strict=True)
    ):
        return None
    layers = [
        (
            np.concatenate([policy[0][0], value[0][0]], axis=1),
            np.concatenate([policy[0][1], value[0][1]]),
            policy[0][2],
        )
    ]
    for (pk, pb, act), (vk, vb, _) in zip(policy[1:], value[1:], strict=True):
        layers.append((_block_diagonal(pk, vk), np.concatenate([pb, vb]), act))
    return layers, _block_diagonal(head_kernel, value_kernel), np.concatenate([head_bias, value_bias])


class NumpyActor:
    """Policy parameters and values from a frozen NumPy copy of an ``ActorCritic``'s weights.

    Build with ``from_model``; call ``forward(obs) -> (params [B, P], value [B])`` and use the module's
    ``sample`` / ``log_prob`` / ``mode`` for the distribution.
    """

    def __init__(self, model, weights: list[np.ndarray]) -> None:
        by_id = {id(variable): array for variable, array in zip(model.weights, weights, strict=True)}
        self.distribution = model.distribution
        self._policy_trunk = _trunk_fn(model.policy_encoder, model.policy_mlp, by_id)
        self._value_trunk = (
            None if model.share_trunk else _trunk_fn(model.value_encoder, model.value_mlp, by_id)
        )
        head = model.policy_head
        if isinstance(head, GaussianHead):
            self._head_kernel, self._head_bias, _ = _linear(head.mean, by_id)
            self._log_std = by_id[id(head.log_std)]  # [dim]
        else:
            self._head_kernel, self._head_bias, _ = _linear(head.logits, by_id)
            self._log_std = None
        if not isinstance(model.value_head, ValueHead):
            raise Unsupported(type(model.value_head).__name__)
        kernel, bias, _ = _linear(model.value_head.value, by_id)
        self._value_kernel, self._value_bias = kernel[:, 0], bias[0]  # [H], scalar
        self._fused = _fuse_trunks(model, by_id, self._head_kernel, self._head_bias, kernel, bias)

    @classmethod
    def from_model(cls, model, weights: list[np.ndarray] | None = None) -> NumpyActor | None:
        """A snapshot of ``model``, or None if some part of it has no NumPy mirror.

        Args:
            model: an ``ActorCritic``.
            weights: ``model.weights`` as arrays, in order (fetched in one call by the caller); None reads
                them here.
        """
        if weights is None:
            weights = [variable.numpy() for variable in model.weights]
        try:
            return cls(model, weights)
        except (Unsupported, AttributeError):  # AttributeError: a model that is not an ActorCritic
            return None

    def forward(self, obs) -> tuple[np.ndarray, np.ndarray]:
        """obs [B, ...] → (distribution params [B, P] float32, values [B] float32), as ``model(obs)``."""
        if self._fused is not None:
            layers, head_kernel, head_bias = self._fused
            x = np.asarray(obs, np.float32).reshape(len(obs), -1)
            for kernel, bias, activation in layers:
                x = x @ kernel + bias
                if activation is not None:
                    x = activation(x)
            out = x @ head_kernel + head_bias  # [B, P + 1]: policy head, then value
            head, values = out[:, :-1], out[:, -1]
            if self._log_std is not None:
                head = np.concatenate([head, np.broadcast_to(self._log_std, head.shape)], axis=-1)
            return head, values
        features = self._policy_trunk(obs)
        head = features @ self._head_kernel + self._head_bias  # [B, P or dim]
        if self._log_std is not None:
            head = np.concatenate([head, np.broadcast_to(self._log_std, head.shape)], axis=-1)
        value_features = features if self._value_trunk is None else self._value_trunk(obs)
        return head, value_features @ self._value_kernel + self._value_bias


# --- distributions in NumPy, mirroring networks/distributions.py ------------------------------------------


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _categorical_log_prob(logits: np.ndarray, actions: np.ndarray) -> np.ndarray:
    return _log_softmax(logits)[np.arange(len(actions)), actions]


def noise_kind(distribution) -> tuple[str, int]:
    """Which noise ``sample`` needs per env: ("gumbel_uniform" | "uniform" | "normal", width)."""
    if isinstance(distribution, Categorical | MultiCategorical):
        return "gumbel_uniform", distribution.param_size
    if isinstance(distribution, Bernoulli):
        return "uniform", distribution.n
    if isinstance(distribution, DiagGaussian):
        return "normal", distribution.dim
    raise Unsupported(type(distribution).__name__)


def sample(distribution, params: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Actions from params [B, P] and noise [B, width] (see ``noise_kind``); same rule as the TF samplers."""
    if isinstance(distribution, Categorical):
        return np.argmax(params - np.log(-np.log(noise)), axis=-1)  # Gumbel-max
    if isinstance(distribution, MultiCategorical):
        gumbel = params - np.log(-np.log(noise))
        splits = np.cumsum(distribution.nvec)[:-1]
        return np.stack([np.argmax(g, axis=-1) for g in np.split(gumbel, splits, axis=-1)], axis=-1)
    if isinstance(distribution, Bernoulli):
        return noise < 1.0 / (1.0 + np.exp(-params))
    dim = distribution.dim
    return params[:, :dim] + np.exp(params[:, dim:]) * noise


def mode(distribution, params: np.ndarray) -> np.ndarray:
    """The distribution's mode [B, ...]."""
    if isinstance(distribution, Categorical):
        return np.argmax(params, axis=-1)
    if isinstance(distribution, MultiCategorical):
        splits = np.cumsum(distribution.nvec)[:-1]
        return np.stack([np.argmax(lg, axis=-1) for lg in np.split(params, splits, axis=-1)], axis=-1)
    if isinstance(distribution, Bernoulli):
        return params > 0.0
    return params[:, : distribution.dim]


def log_prob(distribution, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """log π(actions) [B] float32."""
    if isinstance(distribution, Categorical):
        return _categorical_log_prob(params, actions)
    if isinstance(distribution, MultiCategorical):
        splits = np.cumsum(distribution.nvec)[:-1]
        parts = np.split(params, splits, axis=-1)
        return sum(_categorical_log_prob(lg, actions[:, i]) for i, lg in enumerate(parts))
    if isinstance(distribution, Bernoulli):
        return np.sum(actions.astype(np.float32) * params - np.logaddexp(0.0, params), axis=-1)
    dim = distribution.dim
    mean, log_std = params[:, :dim], params[:, dim:]
    z = (actions - mean) * np.exp(-log_std)
    return np.sum(-0.5 * np.square(z) - log_std - np.float32(_HALF_LOG_2PI), axis=-1)

"""NumPy functions of tfpg's Keras layers, one dispatch table per kind, for the NumPy mirror (numpy_mirror.py).

Each table maps a layer type to a builder that takes the layer and a weights snapshot and returns a plain NumPy
function (or, for dense layers, the arrays): ``ENCODERS``, ``CORES``, ``ACTIVATIONS``, ``HEADS``. A type missing
from its table raises ``NotMirrored``, whose message names it; ``mirror_support`` turns that into the policy's
reason for acting through TF instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from networks.cores import GRUCore, LSTMCore
from networks.encoders import DictEncoder, FlattenCast, MultiOneHot, OneHot, TupleEncoder
from networks.heads import LOG_STD_BOUNDS, BernoulliHead, CategoricalHead, GaussianHead, MultiCategoricalHead
from networks.numpy_cores import gru_step, lstm_step

Array = np.ndarray
Weights = dict[int, Array]
"""``id(variable)`` → its value in the snapshot."""


class NotMirrored(Exception):
    """A part of the model has no NumPy mirror; the message names it. The policy acts through TF instead."""


def lookup(table: dict, obj, what: str):
    """``table``'s entry for ``type(obj)``, or ``NotMirrored`` naming the ``what`` that has none."""
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
    return lookup(ENCODERS, encoder, "encoder")(encoder, weights)


# --- recurrent cores: (features [B, F], state [B, S], episode_start [B]) → (outputs [B, H], state [B, S]) ---

CORES: dict[type, Callable] = {LSTMCore: lstm_step, GRUCore: gru_step}
"""Core type → its NumPy step (networks/numpy_cores.py), which takes the core's weights in ``core.weights`` order."""


def core_fn(core, weights: Weights) -> Callable:
    """The NumPy step of a Keras core (``CORES``), or ``NotMirrored``."""
    step = lookup(CORES, core, "recurrent core")
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


def mlp_layers(mlp, weights: Weights) -> list[Dense]:
    """The hidden layers of an ``MLP``, in order."""
    return [dense(layer, weights) for layer in mlp.hidden_layers]


def apply_layers(layers: list[Dense], x: Array) -> Array:
    """x [B, in] through ``layers`` → [B, out]."""
    for kernel, bias, activation in layers:
        x = x @ kernel + bias
        if activation is not None:
            x = activation(x)
    return x


# --- heads: features [B, H] → params [B, P] (policy) or values [B] ------------------------------------------


def _logits_head(head, weights: Weights) -> Callable:
    logits = [dense(head.logits, weights)]
    return lambda features: apply_layers(logits, features)


def _gaussian_head(head: GaussianHead, weights: Weights) -> Callable:
    mean = [dense(head.mean, weights)]
    if head.state_dependent_std:
        log_std_layer = [dense(head.log_std_layer, weights)]
        offset = head.log_std_init

        def params(features):
            log_std = np.clip(apply_layers(log_std_layer, features) + offset, *LOG_STD_BOUNDS)
            return np.concatenate([apply_layers(mean, features), log_std], axis=-1)

        return params
    log_std = weights[id(head.log_std)]  # [dim], the same for every state

    def params(features):
        mu = apply_layers(mean, features)
        return np.concatenate([mu, np.broadcast_to(log_std, mu.shape)], axis=-1)

    return params


HEADS: dict[type, Callable[[object, Weights], Callable]] = {
    CategoricalHead: _logits_head,
    MultiCategoricalHead: _logits_head,
    BernoulliHead: _logits_head,
    GaussianHead: _gaussian_head,
}

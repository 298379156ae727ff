"""A NumPy copy of an ``ActorCritic``'s forward pass and of its action distribution, for acting in rollouts.

Why: one ``tf.function`` call costs ~250-450 µs on a small CPU whatever the graph, while a NumPy forward pass
of a 64x64 MLP on 8 observations costs a few tens of µs. Acting happens once per vector step, so the TF call
dominated collection (BENCHMARKS.md, "speed"). Weights never change during a rollout, so the policy builds one
``MirroredNetwork`` per rollout from a weights snapshot and acts from it.

The mirror is a set of dispatch tables, one entry per layer or distribution type it can copy (``ENCODERS``,
``CORES``, ``ACTIVATIONS``, ``HEADS`` in numpy_layers.py, ``DISTRIBUTIONS`` in numpy_distributions.py); this
module assembles a whole network from them. ``mirror_support(model)`` walks the model through those tables once
and returns ``None`` (mirrored) or the reason it is not (e.g. an image encoder): that is the policy's explicit
choice between this path and the TF path. The TF path stays the reference: tests check that both give the same
parameters, values, samples (given the same noise), modes and log-probs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from networks.encoders import FlattenCast, OneHot
from networks.heads import GaussianHead, ValueHead
from networks.numpy_distributions import MirroredDistribution
from networks.numpy_layers import (
    HEADS,
    Array,
    NotMirrored,
    Weights,
    apply_layers,
    core_fn,
    dense,
    encoder_fn,
    lookup,
    mlp_layers,
)


class MirroredNetwork:
    """``ActorCritic.call`` in NumPy, from a frozen copy of its weights: ``forward(obs) -> (params, values)``,
    or ``forward(obs, state, episode_start) -> (params, values, state)`` for a recurrent model.

    Build with ``mirror(model, weights)``, which raises ``NotMirrored`` when some part is not mirrored.
    """

    def __init__(self, model, weights: list[Array]) -> None:
        by_id = {id(variable): array for variable, array in zip(model.weights, weights, strict=True)}
        self.recurrent = bool(getattr(model, "is_recurrent", False))
        self._policy_encoder = encoder_fn(model.policy_encoder, by_id)
        self._policy_mlp = mlp_layers(model.policy_mlp, by_id)
        value_encoder = getattr(model, "value_encoder", None)
        self._value_encoder = None if value_encoder is None else encoder_fn(value_encoder, by_id)
        self._value_mlp = None if model.share_trunk else mlp_layers(model.value_mlp, by_id)
        self._policy_head = lookup(HEADS, model.policy_head, "policy head")(model.policy_head, by_id)
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
        features = apply_layers(self._policy_mlp, self._policy_encoder(obs))  # [B, H]
        params = self._policy_head(features)
        if self._value_mlp is not None:
            features = apply_layers(self._value_mlp, self._value_encoder(obs))
        return params, features @ self._value_kernel + self._value_bias

    def _recurrent_forward(self, obs, state, episode_start) -> tuple[Array, Array, Array]:
        """Encoder → core → MLP → heads, as ``ActorCritic._recurrent_forward`` for one step."""
        split = self._policy_state_size
        policy_out, policy_state = self._policy_core(
            self._policy_encoder(obs), state[:, :split], episode_start
        )
        features = apply_layers(self._policy_mlp, policy_out)  # [B, H]
        params = self._policy_head(features)
        new_state = policy_state
        if self._value_mlp is None:  # one trunk for both heads
            value_features = features
        elif self._value_reads_policy_core:
            value_features = apply_layers(self._value_mlp, policy_out)
        elif self._value_core is not None:
            value_out, value_state = self._value_core(
                self._value_encoder(obs), state[:, split:], episode_start
            )
            value_features = apply_layers(self._value_mlp, value_out)
            new_state = np.concatenate([policy_state, value_state], axis=-1)
        else:  # a feed-forward critic beside the recurrent policy
            value_features = apply_layers(self._value_mlp, self._value_encoder(obs))
        return params, value_features @ self._value_kernel + self._value_bias, new_state


def _block_diagonal(a: Array, b: Array) -> Array:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]), np.float32)
    out[: a.shape[0], : a.shape[1]], out[a.shape[0] :, a.shape[1] :] = a, b
    return out


def _fuse_trunks(model, by_id: Weights, max_width: int = 128) -> Callable | None:
    """Policy and value trunks and heads as one MLP of side-by-side layers, or None where that does not apply.

    Acting runs once per vector step on a handful of observations, where each NumPy call costs more than its
    arithmetic: two 2-layer trunks plus two heads are 8 matmuls, side by side they are 3 (the first layer's
    kernels concatenated, the others block-diagonal; the zero blocks add exact zeros). Only for flat or
    Discrete (one-hot) observations, separate trunks of equal depth and activations, a logits or
    state-independent Gaussian head, and widths up to ``max_width`` (beyond that the zero blocks cost more
    arithmetic than the calls they save). A one-hot row times the first kernel is that kernel's row, so a
    Discrete observation picks its row instead of building the one-hot vector (the same numbers: the other
    products are exact zeros).
    """
    head = model.policy_head
    if model.share_trunk or (isinstance(head, GaussianHead) and head.state_dependent_std):
        return None
    policy, value = mlp_layers(model.policy_mlp, by_id), mlp_layers(model.value_mlp, by_id)
    if not policy or len(policy) != len(value):
        return None
    if any(
        p[2] is not v[2] or max(p[0].shape[1], v[0].shape[1]) > max_width
        for p, v in zip(policy, value, strict=True)
    ):
        return None
    first_kernel = np.concatenate([policy[0][0], value[0][0]], 1)  # [in, H_pi + H_v]
    first_bias, first_activation = np.concatenate([policy[0][1], value[0][1]]), policy[0][2]
    first_layer = _first_layer(model.policy_encoder, model.value_encoder, first_kernel, first_bias)
    if first_layer is None:
        return None
    layers = [
        (_block_diagonal(pk, vk), np.concatenate([pb, vb]), act)
        for (pk, pb, act), (vk, vb, _) in zip(policy[1:], value[1:], strict=True)
    ]
    head_kernel, head_bias, _ = dense(head.mean if isinstance(head, GaussianHead) else head.logits, by_id)
    value_kernel, value_bias, _ = dense(model.value_head.value, by_id)
    layers.append((_block_diagonal(head_kernel, value_kernel), np.concatenate([head_bias, value_bias]), None))
    log_std = by_id[id(head.log_std)] if isinstance(head, GaussianHead) else None

    def forward(obs) -> tuple[Array, Array]:
        x = first_layer(obs)  # [B, H_pi + H_v], before the activation
        if first_activation is not None:
            x = first_activation(x)
        out = apply_layers(layers, x)  # [B, P + 1]: the policy head's params, then the value
        params, values = out[:, :-1], out[:, -1]
        if log_std is not None:
            params = np.concatenate([params, np.broadcast_to(log_std, params.shape)], axis=-1)
        return params, values

    return forward


def _first_layer(policy_encoder, value_encoder, kernel: Array, bias: Array) -> Callable | None:
    """The fused first layer's ``obs -> obs_features @ kernel + bias`` for encoders both trunks share: flatten,
    or one-hot of the same Discrete space (the kernel's row); None for any other pair (not fused)."""
    kinds = {type(policy_encoder), type(value_encoder)}
    if kinds == {FlattenCast}:
        return lambda obs: np.asarray(obs, np.float32).reshape(len(obs), -1) @ kernel + bias
    if kinds != {OneHot} or (policy_encoder.n, policy_encoder.start) != (
        value_encoder.n,
        value_encoder.start,
    ):
        return None
    start = policy_encoder.start
    return lambda obs: kernel[np.asarray(obs, np.int64) - start] + bias


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

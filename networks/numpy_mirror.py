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

from networks.cores import LSTMCore
from networks.encoders import FlattenCast
from networks.heads import GaussianHead, ValueHead
from networks.numpy_cores import sigmoid
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
            self.fused = _fuse_recurrent_trunks(model, by_id)
        else:
            self.fused = _fuse_trunks(model, by_id)

    def forward(self, obs, state=None, episode_start=None) -> tuple[Array, ...]:
        """obs [B, ...] → (distribution params [B, P] float32, values [B] float32), as ``model(obs)``; a
        recurrent model also takes state [B, S] and episode_start [B] and returns the next state [B, S]."""
        if self.recurrent:
            if self.fused is not None:
                return self.fused(obs, state, episode_start)
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
    kernels concatenated, the others block-diagonal; the zero blocks add exact zeros). Only for flat
    observations, separate trunks of equal depth and activations, a logits or state-independent Gaussian head,
    and widths up to ``max_width`` (beyond that the zero blocks cost more arithmetic than the calls they save).
    """
    layers = _side_by_side(model, by_id, max_width, shared_input=True)
    if layers is None or not layers[:-1]:  # no hidden layer: nothing shares an input
        return None
    heads = _split_heads(model, by_id)

    def forward(obs) -> tuple[Array, Array]:
        return heads(apply_layers(layers, np.asarray(obs, np.float32).reshape(len(obs), -1)))

    return forward


def _fuse_recurrent_trunks(model, by_id: Weights, max_width: int = 128) -> Callable | None:
    """Policy and critic LSTMs as one step, their MLPs and heads side by side; None where that does not apply.

    The same saving as ``_fuse_trunks`` for the recurrent preset's shape (a flat observation, an LSTM for the
    policy and one for the critic, ``critic_core="own"``): per step, 2 matmuls for both cores instead of 4
    (the input kernels concatenated, the recurrent kernels block-diagonal over the [h_policy | h_critic] row)
    and each gate's elementwise math once on [B, 2, H] instead of twice on [B, H]. Same gate order, reset rule
    and state layout as ``lstm_step`` (numpy_cores.py): the state is [h, c] of the policy's core, then the
    critic's, so [B, 4H] reads as [B, core, (h, c), H].
    """
    cores = (model.policy_core, model.value_core)
    if not all(type(core) is LSTMCore for core in cores) or cores[0].units != cores[1].units:
        return None
    if 2 * cores[0].units > max_width:
        return None
    layers = _side_by_side(model, by_id, max_width, shared_input=False)
    if layers is None:
        return None
    heads = _split_heads(model, by_id)
    (pk, pu, pb), (vk, vu, vb) = ([by_id[id(v)] for v in core.weights] for core in cores)
    kernel, bias = np.concatenate([pk, vk], 1), np.concatenate([pb, vb])  # [F, 8H], [8H]
    recurrent_kernel = _block_diagonal(pu, vu)  # [2H, 8H]
    units = cores[0].units

    def forward(obs, state, episode_start) -> tuple[Array, Array, Array]:
        batch = len(obs)
        x = np.asarray(obs, np.float32).reshape(batch, -1)
        state = np.where(np.asarray(episode_start, bool)[:, None], np.float32(0.0), state)
        hc = state.reshape(batch, 2, 2, units)  # [B, core, (h, c), H]
        h, c = hc[:, :, 0], hc[:, :, 1]  # [B, 2, H] each
        z = (x @ kernel + h.reshape(batch, 2 * units) @ recurrent_kernel + bias).reshape(batch, 2, 4, units)
        gates = sigmoid(z)  # i, f, o of both cores (g's column is recomputed as tanh below)
        c = gates[:, :, 1] * c + gates[:, :, 0] * np.tanh(z[:, :, 2])
        h = gates[:, :, 3] * np.tanh(c)
        params, values = heads(apply_layers(layers, h.reshape(batch, 2 * units)))
        return params, values, np.stack([h, c], axis=2).reshape(batch, 4 * units)

    return forward


def _side_by_side(model, by_id: Weights, max_width: int, shared_input: bool) -> list | None:
    """The policy and value MLPs and heads as one list of (kernel, bias, activation) layers, or None.

    ``shared_input``: both trunks read the same input (their first kernels are concatenated); else the input is
    [policy features | value features] and every layer is block-diagonal. The last layer computes
    [policy head params | value] (see ``_split_heads``).
    """
    head = model.policy_head
    if model.share_trunk or not all(
        type(e) is FlattenCast for e in (model.policy_encoder, model.value_encoder)
    ):
        return None
    if isinstance(head, GaussianHead) and head.state_dependent_std:
        return None
    policy, value = mlp_layers(model.policy_mlp, by_id), mlp_layers(model.value_mlp, by_id)
    if len(policy) != len(value):
        return None
    if any(
        p[2] is not v[2] or max(p[0].shape[1], v[0].shape[1]) > max_width
        for p, v in zip(policy, value, strict=True)
    ):
        return None
    layers = []
    for n, ((pk, pb, act), (vk, vb, _)) in enumerate(zip(policy, value, strict=True)):
        joined = np.concatenate([pk, vk], 1) if shared_input and n == 0 else _block_diagonal(pk, vk)
        layers.append((joined, np.concatenate([pb, vb]), act))
    head_kernel, head_bias, _ = dense(head.mean if isinstance(head, GaussianHead) else head.logits, by_id)
    value_kernel, value_bias, _ = dense(model.value_head.value, by_id)
    layers.append((_block_diagonal(head_kernel, value_kernel), np.concatenate([head_bias, value_bias]), None))
    return layers


def _split_heads(model, by_id: Weights) -> Callable:
    """[B, P + 1] (head, then value) → (distribution params [B, P'], values [B]); a Gaussian's log_std appended."""
    head = model.policy_head
    log_std = by_id[id(head.log_std)] if isinstance(head, GaussianHead) else None

    def split(out: Array) -> tuple[Array, Array]:
        params, values = out[:, :-1], out[:, -1]
        if log_std is not None:
            params = np.concatenate([params, np.broadcast_to(log_std, params.shape)], axis=-1)
        return params, values

    return split


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

"""What every algorithm's learner shares, composed into PPO, A2C and REINFORCE (no base class).

``LearnerCore`` owns the learner's side of the seam with acting:
    the batch      the policy's rollout schema extended with the algorithm's own fields (advantages, returns),
                   flattened to [T*N] (``batch``) with a fixed signature (``batch_spec``);
    the forward    ``evaluate_actions(minibatch) -> (log_prob, entropy, value)``: one network call per
                   minibatch, as SB3's ``evaluate_actions`` / CleanRL's ``get_action_and_value``;
    the step       ``clip_and_apply``: global-norm clipping and the optimizer step, returning the norm;
    compilation    ``compile``: an update graph as a ``SignatureFunction`` over the batch signature (traced once),
                   compiled ahead of the first env step by ``warm_up``; ``trace_count`` of the update;
    the hand-over  ``snapshot_outputs`` (inside the update: the updated weights and the next rollout's noise) and
                   ``snapshot`` (those tensors as the ``Snapshot`` the collector acts from);
    state          ``checkpoint_items``: the model, the sampling generator and whatever the algorithm tracks
                   (optimizers, schedule variables).
An algorithm file then holds its config's use, its loss and its update graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from agents.algorithms.warmup import SignatureFunction, compile_ahead
from agents.experience.acting import Policy, Snapshot
from agents.experience.schema import SCALAR_F32, Field, Rollout

ADVANTAGE_FIELDS = (
    Field("advantages", SCALAR_F32, source="learner"),
    Field("returns", SCALAR_F32, source="learner"),
)
"""The learner-computed fields of an actor-critic batch: GAE (or Monte-Carlo) advantages and value targets."""


class LearnerCore:
    """The shared learner pieces for one policy and one rollout shape (see the module docstring).

    Args:
        policy: the acting side; its model's variables are what the learner trains.
        num_steps: vector steps per rollout (T).
        num_envs: envs per rollout (N); the batch holds T * N transitions.
        batch_fields: the algorithm's "learner" fields added to the policy's schema.
    """

    def __init__(self, policy: Policy, num_steps: int, num_envs: int, batch_fields=ADVANTAGE_FIELDS) -> None:
        self.policy = policy
        self.model = policy.model
        self.distribution = policy.distribution
        self.generator = policy.generator
        self.schema = policy.schema.extend(*batch_fields)
        self.num_steps, self.num_envs = num_steps, num_envs
        self.batch_size = num_steps * num_envs
        # A recurrent policy's update replays whole env sequences ([N, T, ...] from each env's initial state);
        # a feed-forward one learns from single transitions ([T*N, ...]).
        self.layout = "sequences" if policy.recurrent else "flat"
        self.batch_spec = self.schema.batch_signature(num_steps, num_envs, self.layout)
        self._tracked: dict[str, object] = {}
        self._update: SignatureFunction | None = None
        self._optional: list[SignatureFunction] = []

    # --- data ------------------------------------------------------------------------------------------

    def batch(self, rollout: Rollout, **learner_fields: np.ndarray) -> dict:
        """The flattened learner batch of ``rollout`` (``learner_fields``: the algorithm's, [T, N] each)."""
        return self.schema.batch(rollout, layout=self.layout, **learner_fields)

    # --- inside the compiled update ----------------------------------------------------------------------

    @property
    def batch_units(self) -> int:
        """Rows of the batch's leading axis that minibatches split: transitions (flat) or env sequences."""
        return self.batch_size if self.layout == "flat" else self.num_envs

    def evaluate_actions(self, minibatch: Mapping[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(log π(actions), entropy, V(obs)) of a minibatch under the current weights: [B] each for flat
        transitions, [M, T] for M whole sequences (the losses are masked means, indifferent to the shape).

        With action masking, both are over the actions that were valid when the step was acted (the rollout's
        ``action_mask`` [B, size] or [M, T, size]), not the env's current mask.
        """
        mask = minibatch.get("action_mask")
        if self.layout == "flat":
            out = self.model(minibatch["observations"], training=True)
            params, actions = out["policy"], minibatch["actions"]
        else:
            # Replay each sequence from its initial state, zeroing the state where an episode starts.
            out = self.model.sequence(
                minibatch["observations"], minibatch["initial_states"], minibatch["episode_starts"]
            )
            sequences = tf.shape(out["value"])  # [M, T]
            params = tf.reshape(out["policy"], [-1, out["policy"].shape[-1]])  # [M*T, P]
            actions = minibatch["actions"]
            actions = tf.reshape(actions, [-1, *actions.shape[2:]])
            if mask is not None:
                mask = tf.reshape(mask, [-1, mask.shape[-1]])  # [M*T, size]
        log_prob = self.distribution.log_prob(params, actions, mask)
        entropy = self.distribution.entropy(params, mask)
        if self.layout == "sequences":
            log_prob, entropy = tf.reshape(log_prob, sequences), tf.reshape(entropy, sequences)
        return log_prob, entropy, out["value"]

    @staticmethod
    def clip_and_apply(grads, variables, optimizer, max_norm: float) -> tf.Tensor:
        """Clip ``grads`` to global norm ``max_norm``, apply them; returns the norm before clipping."""
        norm = tf.linalg.global_norm(grads)
        grads, _ = tf.clip_by_global_norm(grads, max_norm, use_norm=norm)
        optimizer.apply(grads, variables)
        return norm

    def snapshot_outputs(self) -> dict:
        """The updated weights and the next rollout's noise, as tensors: the last thing an update returns."""
        return self.policy.snapshot_graph(self.num_steps, self.num_envs)

    @staticmethod
    def snapshot(outputs: dict) -> Snapshot:
        return Snapshot.from_outputs(outputs)

    # --- compilation and state ---------------------------------------------------------------------------

    def compile(
        self, graph_fn: Callable, *extra_specs, optional: bool = False, jit_compile: bool = False
    ) -> SignatureFunction:
        """``graph_fn(batch, *extra)`` compiled over the batch signature and ``extra_specs`` (traced once).

        The first non-optional function is the update (``trace_count``); optional ones (e.g. histogram
        gradients) are compiled ahead only when ``warm_up(optional=True)``.
        """
        function = SignatureFunction(
            graph_fn, [self.batch_spec, *extra_specs], autograph=False, jit_compile=jit_compile
        )
        if optional:
            self._optional.append(function)
        elif self._update is None:
            self._update = function
        else:
            raise ValueError("LearnerCore compiles one update; register other graphs as optional.")
        return function

    def track(self, **items) -> None:
        """Add checkpointed state of the algorithm's (optimizers, schedule variables)."""
        self._tracked.update(items)

    def checkpoint_items(self) -> dict:
        """Everything the learner must save to resume exactly."""
        return {"model": self.model, "generator": self.generator, **self._tracked}

    def warm_up(self, optional: bool = False) -> None:
        """Trace and compile the update (and the optional graphs) now, leaving every variable as it was."""
        functions = [self._update, *(self._optional if optional else [])]
        compile_ahead(functions, self.checkpoint_items())

    def trace_count(self) -> int:
        """Times the compiled update has been traced (1 after the first update, and it must stay 1)."""
        return self._update.experimental_get_tracing_count()

"""Proximal Policy Optimization with a clipped surrogate objective.

Schulman et al., "Proximal Policy Optimization Algorithms" (2017), arXiv:1707.06347, Algorithm 1 and eq. 9,
with the implementation details of Huang et al., "The 37 Implementation Details of PPO" (ICLR blog, 2022):
orthogonal init, per-minibatch advantage normalization, optional value clipping, global grad-norm clipping,
linearly annealed learning rate and clip range, optional target-KL early stop.

The whole update (every epoch, every minibatch) is one ``tf.function`` call holding one ``GradientTape`` per
minibatch, traced once: one Python→graph transition per rollout instead of one per minibatch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from agents.algorithms import losses
from agents.algorithms.advantages import rollout_gae
from agents.algorithms.configs import PPOConfig, sequence_minibatch_error
from agents.algorithms.core import LearnerCore
from agents.algorithms.optimizers import make_optimizer
from agents.experience.acting import Policy, Snapshot
from agents.experience.schema import Rollout

# Order of the metrics vector the compiled update accumulates.
_METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm")


class PPOAgent:
    """PPO's loss and update graph over a ``LearnerCore`` (the policy's network, batch schema, compilation)."""

    def __init__(self, config: PPOConfig, policy: Policy, num_envs: int) -> None:
        self.config = config
        self.core = core = LearnerCore(policy, config.num_steps, num_envs)
        if core.layout == "sequences":
            error = sequence_minibatch_error(config.num_steps, config.minibatch_size, num_envs)
            if error:
                raise ValueError(error)
        if core.batch_size % config.minibatch_size:
            raise ValueError(
                f"minibatch_size={config.minibatch_size} must divide num_steps * num_envs = "
                f"{config.num_steps} * {num_envs} = {core.batch_size}; pick a divisor, e.g. "
                f"--set minibatch_size={_largest_divisor_at_most(core.batch_size, config.minibatch_size)}."
            )
        self.num_minibatches = core.batch_size // config.minibatch_size
        self.optimizer = make_optimizer("adam", config.learning_rate, config.adam_epsilon)
        self.optimizer.build(core.model.trainable_variables)
        self.clip_range = tf.Variable(config.clip_range, dtype=tf.float32, trainable=False, name="clip_range")
        core.track(optimizer=self.optimizer, clip_range=self.clip_range)
        # Schedules enter as inputs (learning rate, clip range) and are assigned in the graph: eager assigns
        # cost ~50 µs each, per update.
        scalar = tf.TensorSpec([], tf.float32)
        self._update = core.compile(self._update_graph, scalar, scalar, jit_compile=config.jit_compile)
        # Histograms only; XLA like the update (a recurrent model's gradient costs ~1/10 of it without).
        self._gradients = core.compile(self._gradients_graph, optional=True, jit_compile=config.jit_compile)
        self._last_batch: dict | None = None

    # --- the update --------------------------------------------------------------------------------------

    def learn(self, rollout: Rollout, progress: float) -> tuple[dict[str, float], Snapshot]:
        """GAE on the rollout, then one PPO update; ``progress`` in [0, 1] is the fraction of training done.

        Returns the update's metrics (Python floats) and the snapshot the next rollout acts from.
        """
        cfg = self.config
        advantages, returns = rollout_gae(rollout, cfg.gamma, cfg.gae_lambda)
        remaining = 1.0 - progress
        lr = cfg.learning_rate * (remaining if cfg.anneal_lr else 1.0)
        clip_range = cfg.clip_range * (remaining if cfg.anneal_clip_range else 1.0)
        batch = self.core.batch(rollout, advantages=advantages, returns=returns)
        self._last_batch = batch  # a reference for histograms(); replaced next update
        # One tensor back from the graph: metric means, epochs run, explained variance (eager TF ops here
        # would cost ~50 µs each).
        results, snapshot = self._update(batch, lr, clip_range)
        results = results.numpy().tolist()
        metrics = dict(zip(_METRICS, results, strict=False))
        metrics["epochs"], metrics["explained_variance"] = results[len(_METRICS) :]
        metrics["learning_rate"] = lr
        metrics["clip_range"] = clip_range
        return metrics, self.core.snapshot(snapshot)

    def _update_graph(self, batch, learning_rate, clip_range):
        cfg = self.config
        self.optimizer.learning_rate.assign(learning_rate)
        self.clip_range.assign(clip_range)
        # Minibatches split the batch's leading axis: B transitions, or (recurrent) B whole env sequences.
        num_mb, B = self.num_minibatches, self.core.batch_units
        mbs = B // num_mb
        target_kl = cfg.target_kl

        # Explicit while loops (no autograph): converting the model, loss and optimizer code with autograph
        # cost ~2-3 s of start-up. No tf.cond per minibatch either: a per-epoch reshuffle behind a cond
        # made the update ~1.5-2x slower on CPU; one gather per epoch beats one per minibatch.
        def epoch(e, sums, done, stop):
            if num_mb == 1:  # one minibatch is the whole batch: its order changes nothing
                shuffled = tf.nest.map_structure(lambda x: x[None], batch)
            else:
                # A fresh permutation per epoch, from the checkpointed generator.  [B]
                perm = tf.argsort(self.core.generator.uniform([B]))
                # The shuffled batch split into minibatches: every leaf [num_mb, mbs, ...].
                shuffled = tf.nest.map_structure(
                    lambda x: tf.reshape(tf.gather(x, perm), [num_mb, mbs, *x.shape[1:]]), batch
                )

            def minibatch(j, sums, done, stop):
                values = self._minibatch_step(tf.nest.map_structure(lambda x: x[j], shuffled))
                if target_kl is not None:  # stop after the first minibatch whose KL overshoots
                    stop = values[3] > 1.5 * target_kl
                return j + 1, sums + values, done + 1, stop

            _, sums, done, stop = tf.while_loop(
                lambda j, _sums, _done, stop: tf.logical_and(j < num_mb, tf.logical_not(stop)),
                minibatch,
                (tf.constant(0), sums, done, stop),
            )
            return e + 1, sums, done, stop

        _, sums, done, _ = tf.while_loop(
            lambda e, _sums, _done, stop: tf.logical_and(e < cfg.update_epochs, tf.logical_not(stop)),
            epoch,
            (tf.constant(0), tf.zeros([len(_METRICS)]), tf.constant(0), tf.constant(False)),
        )
        means = sums / tf.cast(done, tf.float32)
        explained = losses.explained_variance(batch["values"], batch["returns"], batch["valid"])
        # [len(_METRICS) + 2]: metric means, epochs run, explained variance of the rollout's values
        stats = tf.concat([means, [tf.cast(done, tf.float32) / num_mb, explained]], axis=0)
        return stats, self.core.snapshot_outputs()

    def _loss(self, mb) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        """PPO's combined loss (eq. 9, negated): (loss, (pg_loss, v_loss, entropy, log_prob, clip_fraction))."""
        cfg = self.config
        mask = mb["valid"]
        advantages = mb["advantages"]
        if cfg.normalize_advantage:
            advantages = losses.normalize_advantages(advantages, mask)
        log_prob, entropy, value = self.core.evaluate_actions(mb)
        entropy = losses.masked_mean(entropy, mask)
        pg_loss, clip_fraction = losses.clipped_surrogate_loss(
            log_prob, mb["log_probs"], advantages, self.clip_range, mask
        )
        v_loss = losses.value_loss(value, mb["values"], mb["returns"], mask, cfg.clip_range_vf)
        loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
        return loss, (pg_loss, v_loss, entropy, log_prob, clip_fraction)

    def _minibatch_step(self, mb) -> tf.Tensor:
        variables = self.core.model.trainable_variables
        with tf.GradientTape() as tape:
            loss, (pg_loss, v_loss, entropy, log_prob, clip_fraction) = self._loss(mb)
        grad_norm = self.core.clip_and_apply(
            tape.gradient(loss, variables), variables, self.optimizer, self.config.max_grad_norm
        )
        kl = losses.approx_kl(log_prob, mb["log_probs"], mb["valid"])
        return tf.stack([pg_loss, v_loss, entropy, kl, clip_fraction, grad_norm])

    def _gradients_graph(self, batch) -> list[tf.Tensor]:
        variables = self.core.model.trainable_variables
        with tf.GradientTape() as tape:
            loss, _ = self._loss(batch)
        return tape.gradient(loss, variables)

    def histograms(self) -> dict[str, np.ndarray]:
        """Diagnostics of the latest update for TensorBoard: its advantages and value targets (valid rows),
        and the unclipped gradient of the loss on that rollout per variable, at the updated weights."""
        if self._last_batch is None:
            return {}
        batch = self._last_batch
        valid = batch["valid"] > 0
        values = {
            "train/advantages": batch["advantages"][valid],
            "train/value_targets": batch["returns"][valid],
        }
        grads = self._gradients(batch)
        for variable, grad in zip(self.core.model.trainable_variables, grads, strict=True):
            if grad is not None:
                values[f"gradients/{variable.path}"] = grad.numpy()
        return values


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)

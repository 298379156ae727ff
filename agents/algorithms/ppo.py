"""Proximal Policy Optimization with a clipped surrogate objective.

Schulman et al., "Proximal Policy Optimization Algorithms" (2017), arXiv:1707.06347, Algorithm 1 and eq. 9,
with the implementation details of Huang et al., "The 37 Implementation Details of PPO" (ICLR blog, 2022):
orthogonal init, per-minibatch advantage normalization, optional value clipping, global grad-norm clipping,
linearly annealed learning rate and clip range, optional target-KL early stop.

The whole update (every epoch, every minibatch) is one ``tf.function`` call holding one ``GradientTape`` per
minibatch, traced once: one Python→graph transition per rollout instead of one per minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from agents.algorithms import losses
from agents.algorithms.advantages import rollout_gae
from agents.algorithms.warmup import SignatureFunction, compile_ahead
from agents.experience.acting import Policy
from agents.experience.rollout import Rollout

# Order of the metrics vector the compiled update accumulates.
_METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm")


@dataclass
class PPOConfig:
    """PPO hyperparameters (defaults: CleanRL / SB3 defaults for classic control)."""

    num_steps: int = 128
    """Vector-env steps per rollout; a rollout holds num_steps * num_envs transitions."""
    learning_rate: float = 3e-4
    """Adam step size at the start of training."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over total_steps."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (bias/variance trade-off of the advantage estimate)."""
    minibatch_size: int = 64
    """Transitions per gradient step; must divide num_steps * num_envs."""
    update_epochs: int = 10
    """Passes over each rollout."""
    clip_range: float = 0.2
    """Surrogate clipping epsilon at the start of training."""
    anneal_clip_range: bool = False
    """Decay the clip range linearly to 0 over total_steps (RL-Zoo's lin_0.2)."""
    clip_range_vf: float | None = None
    """Clip value predictions to old_value ± this; None disables value clipping."""
    normalize_advantage: bool = True
    """Normalize advantages per minibatch."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss, which is half the mean squared error (CleanRL's convention). SB3's value loss
    is the full MSE, so SB3's / RL Zoo's vf_coef c means 2c here."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    target_kl: float | None = None
    """Stop the update early once a minibatch's approx KL exceeds 1.5 * target_kl; None never stops."""
    adam_epsilon: float = 1e-5
    """Adam's epsilon (1e-5 as in the PPO reference implementation)."""
    jit_compile: bool = False
    """Compile the update with XLA: ~1.5-2x faster updates on CPU but ~3-5 s more start-up, so it pays only
    for long runs or large batches (see BENCHMARKS.md, speed)."""


class PPOAgent:
    """Owns a policy (network + action distribution), an optimizer and the compiled PPO update."""

    def __init__(self, config: PPOConfig, policy: Policy, num_envs: int) -> None:
        self.config = config
        self.policy = policy
        self.batch_size = config.num_steps * num_envs
        if self.batch_size % config.minibatch_size:
            raise ValueError(
                f"minibatch_size={config.minibatch_size} must divide num_steps * num_envs = "
                f"{config.num_steps} * {num_envs} = {self.batch_size}; pick a divisor, e.g. "
                f"--set minibatch_size={_largest_divisor_at_most(self.batch_size, config.minibatch_size)}."
            )
        self.num_minibatches = self.batch_size // config.minibatch_size
        self.optimizer = keras.optimizers.Adam(
            learning_rate=config.learning_rate, epsilon=config.adam_epsilon
        )
        self.optimizer.build(policy.model.trainable_variables)
        self.clip_range = tf.Variable(config.clip_range, dtype=tf.float32, trainable=False, name="clip_range")
        batch_spec = policy.batch_spec(self.batch_size)
        # Schedules enter as inputs (learning rate, clip range) and are assigned in the graph: eager assigns
        # cost ~50 µs each, per update.
        scalar = tf.TensorSpec([], tf.float32)
        self._update = SignatureFunction(
            self._update_graph,
            [batch_spec, scalar, scalar],
            autograph=False,
            jit_compile=config.jit_compile,
        )
        self._gradients = None  # compiled by histograms() or warm_up(histograms=True)
        self._last_batch: dict | None = None

    # --- the update --------------------------------------------------------------------------------------

    def learn(self, rollout: Rollout, progress: float) -> dict[str, float]:
        """GAE on the rollout, then one PPO update; ``progress`` in [0, 1] is the fraction of training done.

        Returns a dict of Python floats (losses, KL, clip fraction, learning rate, ...).
        """
        cfg = self.config
        advantages, returns = rollout_gae(rollout, cfg.gamma, cfg.gae_lambda)
        remaining = 1.0 - progress
        lr = cfg.learning_rate * (remaining if cfg.anneal_lr else 1.0)
        clip_range = cfg.clip_range * (remaining if cfg.anneal_clip_range else 1.0)
        batch = self.policy.flatten_batch(rollout, advantages, returns)
        self._last_batch = batch  # a reference for histograms(); replaced next update
        # One tensor back from the graph: metric means, epochs run, explained variance (eager TF ops here
        # would cost ~50 µs each).
        results, snapshot = self._update(batch, lr, clip_range)
        self.policy.stage_snapshot(snapshot)  # the next rollout acts from these weights without a TF call
        results = results.numpy().tolist()
        metrics = dict(zip(_METRICS, results, strict=False))
        metrics["epochs"], metrics["explained_variance"] = results[len(_METRICS) :]
        metrics["learning_rate"] = lr
        metrics["clip_range"] = clip_range
        return metrics

    def _update_graph(self, batch, learning_rate, clip_range):
        cfg = self.config
        self.optimizer.learning_rate.assign(learning_rate)
        self.clip_range.assign(clip_range)
        num_mb, mbs, B = self.num_minibatches, cfg.minibatch_size, self.batch_size
        target_kl = cfg.target_kl

        # Explicit while loops (no autograph): converting the model, loss and optimizer code with autograph
        # cost ~2-3 s of start-up. No tf.cond per minibatch either: a per-epoch reshuffle behind a cond
        # made the update ~1.5-2x slower on CPU; one gather per epoch beats one per minibatch.
        def epoch(e, sums, done, stop):
            if num_mb == 1:  # one minibatch is the whole batch: its order changes nothing
                shuffled = tf.nest.map_structure(lambda x: x[None], batch)
            else:
                # A fresh permutation per epoch, from the checkpointed generator.  [B]
                perm = tf.argsort(self.policy.generator.uniform([B]))
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
        return stats, self.policy.snapshot_outputs(cfg.num_steps, B // cfg.num_steps)

    def _loss(self, mb) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        """PPO's combined loss (eq. 9, negated): (loss, (pg_loss, v_loss, entropy, log_prob, clip_fraction))."""
        cfg = self.config
        dist = self.policy.distribution
        mask = mb["valid"]
        advantages = mb["advantages"]
        if cfg.normalize_advantage:
            advantages = losses.normalize_advantages(advantages, mask)
        out = self.policy.model(mb["observations"], training=True)
        log_prob = dist.log_prob(out["policy"], mb["actions"])
        entropy = losses.masked_mean(dist.entropy(out["policy"]), mask)
        pg_loss, clip_fraction = losses.clipped_surrogate_loss(
            log_prob, mb["log_probs"], advantages, self.clip_range, mask
        )
        v_loss = losses.value_loss(out["value"], mb["values"], mb["returns"], mask, cfg.clip_range_vf)
        loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
        return loss, (pg_loss, v_loss, entropy, log_prob, clip_fraction)

    def _minibatch_step(self, mb) -> tf.Tensor:
        variables = self.policy.model.trainable_variables
        with tf.GradientTape() as tape:
            loss, (pg_loss, v_loss, entropy, log_prob, clip_fraction) = self._loss(mb)
        grads = tape.gradient(loss, variables)
        grads, grad_norm = tf.clip_by_global_norm(grads, self.config.max_grad_norm)
        self.optimizer.apply(grads, variables)
        kl = losses.approx_kl(log_prob, mb["log_probs"], mb["valid"])
        return tf.stack([pg_loss, v_loss, entropy, kl, clip_fraction, grad_norm])

    def _gradients_graph(self, batch) -> list[tf.Tensor]:
        variables = self.policy.model.trainable_variables
        with tf.GradientTape() as tape:
            loss, _ = self._loss(batch)
        return tape.gradient(loss, variables)

    def histograms(self) -> dict[str, np.ndarray]:
        """Diagnostics of the latest update for TensorBoard: its advantages and value targets (valid rows),
        and the unclipped gradient of the loss on that rollout per variable, at the updated weights."""
        if self._last_batch is None:
            return {}
        batch = self._last_batch
        self._compile_gradients()
        valid = batch["valid"] > 0
        values = {
            "train/advantages": batch["advantages"][valid],
            "train/value_targets": batch["returns"][valid],
        }
        grads = self._gradients(batch)
        for variable, grad in zip(self.policy.model.trainable_variables, grads, strict=True):
            if grad is not None:
                values[f"gradients/{variable.path}"] = grad.numpy()
        return values

    def _compile_gradients(self) -> None:
        if self._gradients is None:  # compiled on first use only: runs that never log histograms never pay
            spec = self.policy.batch_spec(self.batch_size)
            self._gradients = tf.function(self._gradients_graph, input_signature=[spec], autograph=False)

    def warm_up(self, histograms: bool = False) -> None:
        """Trace and compile the update (and the histogram gradients) now, with no effect on the agent's state."""
        functions = [self._update]
        if histograms:
            self._compile_gradients()
            functions.append(self._gradients)
        compile_ahead(functions, self.checkpoint_items(), self.policy)

    def trace_count(self) -> int:
        """Times the compiled update has been traced (1 after the first update, and it must stay 1)."""
        return self._update.experimental_get_tracing_count()

    # --- state -------------------------------------------------------------------------------------------

    def checkpoint_items(self) -> dict:
        """Everything of the agent's that a checkpoint must hold to resume exactly."""
        return {
            "model": self.policy.model,
            "optimizer": self.optimizer,
            "generator": self.policy.generator,
            "clip_range": self.clip_range,
        }


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def make_ppo(config: PPOConfig, policy: Policy, env: gym.vector.VectorEnv) -> PPOAgent:
    """Factory used by the trainer's algorithm registry."""
    return PPOAgent(config, policy, env.num_envs)

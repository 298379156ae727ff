"""Advantage Actor-Critic (A2C): the synchronous variant of A3C.

Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning" (2016), arXiv:1602.01783, Algorithm S3:
n-step returns from short rollouts of parallel envs, one gradient step per rollout on
-log pi(a|s) A + c_v (V - R)^2 - c_e H. As in OpenAI Baselines and Stable-Baselines3, advantages are GAE(lambda)
(Schulman et al., 2016); lambda = 1 gives the paper's n-step advantage. RMSprop is the default optimizer (as in
the paper and SB3), Adam is selectable, and the policy and the value may have separate optimizers.

The update is one ``tf.function`` holding one ``GradientTape`` over the whole [T*N] batch, traced once.
"""

from __future__ import annotations

import tensorflow as tf

from agents.algorithms import losses
from agents.algorithms.advantages import rollout_gae
from agents.algorithms.configs import A2CConfig
from agents.algorithms.core import LearnerCore
from agents.algorithms.optimizers import make_optimizer, policy_and_value_variables
from agents.experience.acting import Policy, Snapshot
from agents.experience.schema import Rollout

_METRICS = ("policy_loss", "value_loss", "entropy", "grad_norm", "explained_variance")


class A2CAgent:
    """A2C's loss and update graph over a ``LearnerCore``, with one or two optimizers."""

    def __init__(self, config: A2CConfig, policy: Policy, num_envs: int) -> None:
        self.config = config
        self.core = core = LearnerCore(policy, config.num_steps, num_envs)

        def make(learning_rate: float):
            return make_optimizer(
                config.optimizer, learning_rate, config.optimizer_epsilon, config.rmsprop_rho
            )

        self.optimizer = make(config.learning_rate)
        self.value_optimizer = None
        if config.separate_optimizers:
            self._policy_vars, self._value_vars = policy_and_value_variables(core.model)
            self.value_optimizer = make(self._value_learning_rate)
            self.optimizer.build(self._policy_vars)
            self.value_optimizer.build(self._value_vars)
            core.track(optimizer=self.optimizer, value_optimizer=self.value_optimizer)
        else:
            self.optimizer.build(core.model.trainable_variables)
            core.track(optimizer=self.optimizer)
        # The learning-rate scale is an input of the graph, not an eager assign: A2C updates every 40 steps,
        # so each eager op (~50 µs) and each TF call is a visible share of training time.
        self._update = core.compile(self._update_graph, tf.TensorSpec([], tf.float32))

    @property
    def _value_learning_rate(self) -> float:
        cfg = self.config
        return cfg.value_learning_rate if cfg.value_learning_rate is not None else cfg.learning_rate

    def learn(self, rollout: Rollout, progress: float) -> tuple[dict[str, float], Snapshot]:
        """GAE on the rollout, then one gradient step; ``progress`` in [0, 1] is the fraction of training done."""
        cfg = self.config
        advantages, returns = rollout_gae(rollout, cfg.gamma, cfg.gae_lambda)
        scale = 1.0 - progress if cfg.anneal_lr else 1.0
        batch = self.core.batch(rollout, advantages=advantages, returns=returns)
        # One tensor back: the loss terms, grad norm and explained variance (computed in the graph).
        values, snapshot = self._update(batch, scale)
        metrics = dict(zip(_METRICS, values.numpy().tolist(), strict=True))
        metrics["learning_rate"] = cfg.learning_rate * scale
        return metrics, self.core.snapshot(snapshot)

    def _update_graph(self, batch, lr_scale):
        cfg = self.config
        self.optimizer.learning_rate.assign(cfg.learning_rate * lr_scale)
        if self.value_optimizer is not None:
            self.value_optimizer.learning_rate.assign(self._value_learning_rate * lr_scale)
        mask = batch["valid"]  # [B]; 0 on autoreset rows
        advantages = batch["advantages"]
        if cfg.normalize_advantage:
            advantages = losses.normalize_advantages(advantages, mask)
        variables = self.core.model.trainable_variables
        with tf.GradientTape() as tape:
            log_prob, entropy, value = self.core.evaluate_actions(batch)  # [B] each
            entropy = losses.masked_mean(entropy, mask)
            pg_loss = losses.policy_gradient_loss(log_prob, advantages, mask)
            v_loss = losses.value_loss(value, batch["values"], batch["returns"], mask)
            loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
        clip_and_apply = self.core.clip_and_apply
        if self.value_optimizer is None:
            grad_norm = clip_and_apply(
                tape.gradient(loss, variables), variables, self.optimizer, cfg.max_grad_norm
            )
        else:  # each optimizer clips its own branch's gradients; the logged norm is over both
            policy_grads, value_grads = tape.gradient(loss, [self._policy_vars, self._value_vars])
            policy_norm = clip_and_apply(policy_grads, self._policy_vars, self.optimizer, cfg.max_grad_norm)
            value_norm = clip_and_apply(
                value_grads, self._value_vars, self.value_optimizer, cfg.max_grad_norm
            )
            grad_norm = tf.sqrt(tf.square(policy_norm) + tf.square(value_norm))
        explained = losses.explained_variance(batch["values"], batch["returns"], mask)
        stats = tf.stack([pg_loss, v_loss, entropy, grad_norm, explained])
        return stats, self.core.snapshot_outputs()

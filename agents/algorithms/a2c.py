"""Advantage Actor-Critic (A2C): the synchronous variant of A3C.

Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning" (2016), arXiv:1602.01783, Algorithm S3:
n-step returns from short rollouts of parallel envs, one gradient step per rollout on
-log pi(a|s) A + c_v (V - R)^2 - c_e H. As in OpenAI Baselines and Stable-Baselines3, advantages are GAE(lambda)
(Schulman et al., 2016); lambda = 1 gives the paper's n-step advantage. RMSprop is the default optimizer (as in
the paper and SB3), Adam is selectable, and the policy and the value may have separate optimizers.

The update is one ``tf.function`` holding one ``GradientTape`` over the whole [T*N] batch, traced once.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import tensorflow as tf

from agents.algorithms import losses
from agents.algorithms.advantages import rollout_gae
from agents.algorithms.optimizers import make_optimizer, policy_and_value_variables
from agents.algorithms.warmup import SignatureFunction, compile_ahead
from agents.experience.acting import Policy
from agents.experience.rollout import Rollout

_METRICS = ("policy_loss", "value_loss", "entropy", "grad_norm")


@dataclass
class A2CConfig:
    """A2C hyperparameters (defaults: Stable-Baselines3's A2C defaults)."""

    num_steps: int = 5
    """Vector-env steps per rollout (the n of n-step returns); one gradient step per rollout."""
    learning_rate: float = 7e-4
    """Step size at the start of training (of the policy optimizer when separate_optimizers)."""
    value_learning_rate: float | None = None
    """Step size of the value optimizer when separate_optimizers; None uses learning_rate."""
    anneal_lr: bool = False
    """Decay the learning rate(s) linearly to 0 over total_steps."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE lambda; 1.0 is the paper's n-step advantage."""
    normalize_advantage: bool = False
    """Normalize advantages over each rollout."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss, which is half the mean squared error (CleanRL's convention). SB3's value loss
    is the full MSE, so SB3's / RL Zoo's vf_coef c means 2c here."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (per optimizer when separate_optimizers)."""
    optimizer: str = "rmsprop"
    """"rmsprop" (paper, SB3) or "adam"."""
    optimizer_epsilon: float = 1e-5
    """Optimizer epsilon, added to the root of the squared-gradient average as in PyTorch/SB3."""
    rmsprop_rho: float = 0.99
    """RMSprop's squared-gradient decay (SB3's alpha)."""
    separate_optimizers: bool = False
    """One optimizer for the policy branch and one for the value branch (needs share_trunk=false)."""


class A2CAgent:
    """Owns a policy, one or two optimizers and the compiled A2C update."""

    def __init__(self, config: A2CConfig, policy: Policy, num_envs: int) -> None:
        self.config = config
        self.policy = policy
        model = policy.model
        self.optimizer = make_optimizer(
            config.optimizer, config.learning_rate, config.optimizer_epsilon, config.rmsprop_rho
        )
        self.value_optimizer = None
        if config.separate_optimizers:
            self._policy_vars, self._value_vars = policy_and_value_variables(model)
            value_lr = (
                config.value_learning_rate if config.value_learning_rate is not None else config.learning_rate
            )
            self.value_optimizer = make_optimizer(
                config.optimizer, value_lr, config.optimizer_epsilon, config.rmsprop_rho
            )
            self.optimizer.build(self._policy_vars)
            self.value_optimizer.build(self._value_vars)
        else:
            self.optimizer.build(model.trainable_variables)
        self._rollout_shape = (config.num_steps, num_envs)
        batch_spec = policy.batch_spec(config.num_steps * num_envs)
        # The learning-rate scale is an input of the graph, not an eager assign: A2C updates every 40 steps,
        # so each eager op (~50 µs) and each TF call is a visible share of training time.
        self._update = SignatureFunction(
            self._update_graph, [batch_spec, tf.TensorSpec([], tf.float32)], autograph=False
        )

    def learn(self, rollout: Rollout, progress: float) -> dict[str, float]:
        """GAE on the rollout, then one gradient step; ``progress`` in [0, 1] is the fraction of training done."""
        cfg = self.config
        advantages, returns = rollout_gae(rollout, cfg.gamma, cfg.gae_lambda)
        scale = 1.0 - progress if cfg.anneal_lr else 1.0
        batch = self.policy.flatten_batch(rollout, advantages, returns)
        # One tensor back: the loss terms, grad norm and explained variance (computed in the graph).
        values, snapshot = self._update(batch, scale)
        self.policy.stage_snapshot(snapshot)  # the next rollout acts from these weights without a TF call
        values = values.numpy().tolist()
        metrics = dict(zip((*_METRICS, "explained_variance"), values, strict=True))
        metrics["learning_rate"] = cfg.learning_rate * scale
        return metrics

    def _update_graph(self, batch, lr_scale) -> tf.Tensor:
        cfg = self.config
        self.optimizer.learning_rate.assign(cfg.learning_rate * lr_scale)
        if self.value_optimizer is not None:
            value_lr = cfg.value_learning_rate if cfg.value_learning_rate is not None else cfg.learning_rate
            self.value_optimizer.learning_rate.assign(value_lr * lr_scale)
        dist = self.policy.distribution
        mask = batch["valid"]  # [B]; 0 on autoreset rows
        advantages = batch["advantages"]
        if cfg.normalize_advantage:
            advantages = losses.normalize_advantages(advantages, mask)
        model = self.policy.model
        with tf.GradientTape() as tape:
            out = model(batch["observations"], training=True)
            log_prob = dist.log_prob(out["policy"], batch["actions"])  # [B]
            entropy = losses.masked_mean(dist.entropy(out["policy"]), mask)
            pg_loss = losses.policy_gradient_loss(log_prob, advantages, mask)
            v_loss = losses.value_loss(out["value"], batch["values"], batch["returns"], mask)
            loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
        if self.value_optimizer is None:
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            grad_norm = tf.linalg.global_norm(grads)
            grads, _ = tf.clip_by_global_norm(grads, cfg.max_grad_norm, use_norm=grad_norm)
            self.optimizer.apply(grads, variables)
        else:
            n_policy = len(self._policy_vars)
            grads = tape.gradient(loss, self._policy_vars + self._value_vars)
            grad_norm = tf.linalg.global_norm(grads)
            policy_grads, _ = tf.clip_by_global_norm(grads[:n_policy], cfg.max_grad_norm)
            value_grads, _ = tf.clip_by_global_norm(grads[n_policy:], cfg.max_grad_norm)
            self.optimizer.apply(policy_grads, self._policy_vars)
            self.value_optimizer.apply(value_grads, self._value_vars)
        explained = losses.explained_variance(batch["values"], batch["returns"], mask)
        stats = tf.stack([pg_loss, v_loss, entropy, grad_norm, explained])
        return stats, self.policy.snapshot_outputs(*self._rollout_shape)

    def warm_up(self, histograms: bool = False) -> None:
        """Trace and compile the update now, with no effect on the agent's state (``histograms``: unused)."""
        compile_ahead([self._update], self.checkpoint_items(), self.policy)

    def trace_count(self) -> int:
        """Times the compiled update has been traced (1 after the first update, and it must stay 1)."""
        return self._update.experimental_get_tracing_count()

    def checkpoint_items(self) -> dict:
        """Everything of the agent's that a checkpoint must hold to resume exactly."""
        items = {"model": self.policy.model, "optimizer": self.optimizer, "generator": self.policy.generator}
        if self.value_optimizer is not None:
            items["value_optimizer"] = self.value_optimizer
        return items


def make_a2c(config: A2CConfig, policy: Policy, env: gym.vector.VectorEnv) -> A2CAgent:
    """Factory used by the algorithm registry."""
    return A2CAgent(config, policy, env.num_envs)

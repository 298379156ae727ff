"""REINFORCE: the Monte-Carlo policy gradient, with reward-to-go and an optional learned baseline.

Williams, "Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement Learning" (1992),
with the reward-to-go (causality) form and a state-value baseline b(s) = V(s) as in Sutton & Barto,
"Reinforcement Learning: An Introduction" (2nd ed., 2018), section 13.4 ("REINFORCE with Baseline"):

    loss = -mean_t log pi(a_t | s_t) (G_t - b(s_t)) + c_v * 0.5 (V(s_t) - G_t)^2 - c_e H

One gradient step per rollout. Episodes that the fixed [T, N] rollout cuts (at its end, or by a time limit)
are completed with V of the next observation when ``bootstrap`` is on, or masked out (rollout end) / ended
(time limit) when it is off; see ``agents.algorithms.advantages.monte_carlo_returns``. Long rollouts (``num_steps`` at
least an episode) keep that cut small.

The update is one ``tf.function`` holding one ``GradientTape`` over the whole [T*N] batch, traced once.
"""

from __future__ import annotations

import tensorflow as tf

from agents.algorithms import losses
from agents.algorithms.advantages import monte_carlo_returns
from agents.algorithms.configs import ReinforceConfig
from agents.algorithms.core import LearnerCore
from agents.algorithms.optimizers import make_optimizer
from agents.experience.acting import Policy, Snapshot
from agents.experience.schema import Rollout

_METRICS = ("policy_loss", "value_loss", "entropy", "grad_norm", "explained_variance")


class ReinforceAgent:
    """REINFORCE's loss and update graph over a ``LearnerCore``; the value head is the baseline."""

    def __init__(self, config: ReinforceConfig, policy: Policy, num_envs: int) -> None:
        self.config = config
        self.core = core = LearnerCore(policy, config.num_steps, num_envs)
        self.optimizer = make_optimizer(config.optimizer, config.learning_rate, config.optimizer_epsilon)
        self.optimizer.build(core.model.trainable_variables)
        core.track(optimizer=self.optimizer)
        self.train_value = config.baseline or config.bootstrap
        self._update = core.compile(self._update_graph, tf.TensorSpec([], tf.float32))

    def learn(self, rollout: Rollout, progress: float) -> tuple[dict[str, float], Snapshot]:
        """Reward-to-go on the rollout, then one gradient step; ``progress`` in [0, 1] is training done."""
        cfg = self.config
        returns, complete = monte_carlo_returns(
            rollout.rewards,
            rollout.terminated,
            rollout.truncated,
            rollout.values,
            rollout.last_values,
            cfg.gamma,
            bootstrap=cfg.bootstrap,
        )
        advantages = returns - rollout.values if cfg.baseline else returns
        lr = cfg.learning_rate * ((1.0 - progress) if cfg.anneal_lr else 1.0)
        batch = self.core.batch(rollout, advantages=advantages, returns=returns)
        batch["valid"] = batch["valid"] * complete.reshape(-1)  # drop rows whose return is cut short
        values, snapshot = self._update(batch, lr)
        metrics = dict(zip(_METRICS, values.numpy().tolist(), strict=True))
        metrics["learning_rate"] = lr
        metrics["complete_fraction"] = float(batch["valid"].sum() / max(rollout.valid.sum(), 1.0))
        return metrics, self.core.snapshot(snapshot)

    def _update_graph(self, batch, learning_rate):
        cfg = self.config
        self.optimizer.learning_rate.assign(learning_rate)
        mask = batch["valid"]  # [B]; 0 on autoreset rows (and on cut episodes without bootstrap)
        advantages = batch["advantages"]
        if cfg.normalize_advantage:
            advantages = losses.normalize_advantages(advantages, mask)
        variables = self.core.model.trainable_variables
        with tf.GradientTape() as tape:
            log_prob, entropy, value = self.core.evaluate_actions(batch)  # [B] each
            entropy = losses.masked_mean(entropy, mask)
            pg_loss = losses.policy_gradient_loss(log_prob, advantages, mask)
            v_loss = losses.value_loss(value, batch["values"], batch["returns"], mask)
            # Without baseline/bootstrap the value is not trained; a 0 weight keeps its gradients defined (zeros).
            vf_coef = cfg.vf_coef if self.train_value else 0.0
            loss = pg_loss + vf_coef * v_loss - cfg.ent_coef * entropy
        grad_norm = self.core.clip_and_apply(
            tape.gradient(loss, variables), variables, self.optimizer, cfg.max_grad_norm
        )
        explained = losses.explained_variance(batch["values"], batch["returns"], mask)
        stats = tf.stack([pg_loss, v_loss, entropy, grad_norm, explained])
        return stats, self.core.snapshot_outputs()

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

from dataclasses import dataclass

import gymnasium as gym
import tensorflow as tf

from agents.algorithms import losses
from agents.algorithms.advantages import monte_carlo_returns
from agents.algorithms.optimizers import make_optimizer
from agents.algorithms.warmup import SignatureFunction, compile_ahead
from agents.experience.acting import Policy
from agents.experience.rollout import Rollout

_METRICS = ("policy_loss", "value_loss", "entropy", "grad_norm")


@dataclass
class ReinforceConfig:
    """REINFORCE hyperparameters."""

    num_steps: int = 512
    """Vector-env steps per rollout; one gradient step per rollout of num_steps * num_envs transitions."""
    learning_rate: float = 1e-3
    """Step size at the start of training."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over total_steps."""
    gamma: float = 0.99
    """Discount factor of the reward-to-go."""
    baseline: bool = True
    """Subtract the learned V(s_t) from the return (REINFORCE with baseline); the value net is trained on G_t."""
    bootstrap: bool = True
    """Complete episodes cut by the rollout end or a time limit with V(next obs); False masks/ends them."""
    normalize_advantage: bool = True
    """Normalize the (baselined) returns over each rollout."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss (used when baseline or bootstrap)."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    optimizer: str = "adam"
    """"adam" or "rmsprop"."""
    optimizer_epsilon: float = 1e-5
    """Optimizer epsilon, added to the root of the second-moment average as in PyTorch/SB3."""


class ReinforceAgent:
    """Owns a policy (its value head is the baseline), an optimizer and the compiled REINFORCE update."""

    def __init__(self, config: ReinforceConfig, policy: Policy, num_envs: int) -> None:
        self.config = config
        self.policy = policy
        self.optimizer = make_optimizer(config.optimizer, config.learning_rate, config.optimizer_epsilon)
        self.optimizer.build(policy.model.trainable_variables)
        self.train_value = config.baseline or config.bootstrap
        batch_spec = policy.batch_spec(config.num_steps * num_envs)
        self._update = SignatureFunction(self._update_graph, [batch_spec])

    def learn(self, rollout: Rollout, progress: float) -> dict[str, float]:
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
        self.optimizer.learning_rate.assign(lr)
        batch = self.policy.flatten_batch(rollout, advantages, returns)
        batch["valid"] = batch["valid"] * complete.reshape(-1)  # drop rows whose return is cut short
        values = self._update(batch)
        metrics = dict(zip(_METRICS, values.numpy().tolist(), strict=True))
        metrics["learning_rate"] = lr
        metrics["complete_fraction"] = float(batch["valid"].sum() / max(rollout.valid.sum(), 1.0))
        metrics["explained_variance"] = float(
            losses.explained_variance(rollout.values.reshape(-1), returns.reshape(-1), batch["valid"])
        )
        return metrics

    def _update_graph(self, batch) -> tf.Tensor:
        cfg = self.config
        dist = self.policy.distribution
        mask = batch["valid"]  # [B]; 0 on autoreset rows (and on cut episodes without bootstrap)
        advantages = batch["advantages"]
        if cfg.normalize_advantage:
            advantages = losses.normalize_advantages(advantages, mask)
        variables = self.policy.model.trainable_variables
        with tf.GradientTape() as tape:
            out = self.policy.model(batch["observations"], training=True)
            log_prob = dist.log_prob(out["policy"], batch["actions"])  # [B]
            entropy = losses.masked_mean(dist.entropy(out["policy"]), mask)
            pg_loss = losses.policy_gradient_loss(log_prob, advantages, mask)
            v_loss = losses.value_loss(out["value"], batch["values"], batch["returns"], mask)
            # Without baseline/bootstrap the value is not trained; a 0 weight keeps its gradients defined (zeros).
            vf_coef = cfg.vf_coef if self.train_value else 0.0
            loss = pg_loss + vf_coef * v_loss - cfg.ent_coef * entropy
        grads = tape.gradient(loss, variables)
        grad_norm = tf.linalg.global_norm(grads)
        grads, _ = tf.clip_by_global_norm(grads, cfg.max_grad_norm, use_norm=grad_norm)
        self.optimizer.apply(grads, variables)
        return tf.stack([pg_loss, v_loss, entropy, grad_norm])

    def warm_up(self, histograms: bool = False) -> None:
        """Trace and compile the update now, with no effect on the agent's state (``histograms``: unused)."""
        compile_ahead([self._update], self.checkpoint_items(), self.policy)

    def trace_count(self) -> int:
        """Times the compiled update has been traced (1 after the first update, and it must stay 1)."""
        return self._update.experimental_get_tracing_count()

    def checkpoint_items(self) -> dict:
        """Everything of the agent's that a checkpoint must hold to resume exactly."""
        return {"model": self.policy.model, "optimizer": self.optimizer, "generator": self.policy.generator}


def make_reinforce(config: ReinforceConfig, policy: Policy, env: gym.vector.VectorEnv) -> ReinforceAgent:
    """Factory used by the algorithm registry."""
    return ReinforceAgent(config, policy, env.num_envs)

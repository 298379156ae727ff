"""Every algorithm's hyperparameters: one dataclass each, with a docstring per field.

They live apart from the algorithms' TensorFlow code so that the CLI, presets and config validation load
without importing TensorFlow (``train_agent.py --help`` answers in well under a second).
"""

from __future__ import annotations

from dataclasses import dataclass


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
    """Transitions per gradient step; must divide num_steps * num_envs. With a recurrent network, minibatches
    are whole env sequences: a multiple k * num_steps with k dividing num_envs."""
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


@dataclass
class A2CConfig:
    """A2C hyperparameters (defaults: Stable-Baselines3's A2C defaults as numbers, one of which weighs differently:
    vf_coef 0.5 here is half of SB3's value-loss weight, because tfpg's value loss is half the MSE; set 1.0 for
    SB3's. The presets that were verified with 0.5 keep it)."""

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


RECURRENT_ALGOS = ("ppo", "a2c")
"""Algorithms whose update replays sequences through a recurrent core."""


def sequence_minibatch_error(num_steps: int, minibatch_size: int, num_envs: int) -> str | None:
    """Why ``minibatch_size`` cannot be made of whole env sequences (recurrent PPO), or None if it can."""
    if minibatch_size % num_steps == 0 and num_envs % (minibatch_size // num_steps) == 0:
        return None
    limit = max(1, minibatch_size // num_steps)
    k = max(d for d in range(1, min(num_envs, limit) + 1) if num_envs % d == 0)
    return (
        f"A recurrent policy's minibatches are whole env sequences of num_steps={num_steps} steps, so "
        f"minibatch_size must be num_steps times a divisor of num_envs={num_envs}; got {minibatch_size}. "
        f"E.g. --set minibatch_size={k * num_steps} ({k} sequences per minibatch)."
    )

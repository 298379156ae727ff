"""Advantage and return estimators: pure NumPy functions over rollouts of shape [T, N].

Generalized Advantage Estimation follows Schulman et al., "High-Dimensional Continuous Control Using
Generalized Advantage Estimation" (2016), eq. 16:

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - terminated_t) - V(s_t)
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},      done_t = terminated_t or truncated_t

Terminated and truncated episodes differ in exactly one place: a terminated step has no future, so its
bootstrap value is dropped; a truncated step was cut by a time limit, so it is bootstrapped from the value
of its final observation. Both stop the recursion, since A_{t+1} belongs to the next episode.

Gymnasium 1.x vector envs autoreset in NEXT_STEP mode: the step after a done returns the reset observation
and is not a transition of any episode. The rollout stores, at that row, the final observation of the
episode that just ended, so ``values[t + 1]`` is V(final observation) — exactly the bootstrap a truncated
step t needs. The reset row itself is flagged invalid and masked out of every loss.
"""

from __future__ import annotations

import numpy as np


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    last_values: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """GAE(lambda) advantages and lambda-returns for a [T, N] rollout.

    Args:
        rewards: [T, N] reward received after the action at row t.
        values: [T, N] V(obs_t) as computed while acting.
        terminated: [T, N] episode ended in a terminal state at row t.
        truncated: [T, N] episode was cut by a time limit at row t.
        last_values: [N] V of the observation that follows row T-1.
        gamma: discount factor.
        gae_lambda: GAE lambda; 1.0 gives Monte-Carlo advantages, 0.0 one-step TD.

    Returns:
        (advantages, returns), both [T, N] float32; returns = advantages + values are the value targets.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    not_terminal = 1.0 - np.asarray(terminated, dtype=np.float64)
    not_done = 1.0 - np.logical_or(terminated, truncated).astype(np.float64)
    num_steps = rewards.shape[0]
    # V(s_{t+1}) for every row: the next row's value, and last_values after the final row.  [T, N]
    next_values = np.concatenate([values[1:], np.asarray(last_values, np.float64)[None]], axis=0)
    deltas = rewards + gamma * next_values * not_terminal - values
    advantages = np.zeros_like(rewards)
    running = np.zeros_like(rewards[0])
    for t in reversed(range(num_steps)):
        running = deltas[t] + gamma * gae_lambda * not_done[t] * running
        advantages[t] = running
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)

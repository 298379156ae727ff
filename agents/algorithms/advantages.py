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


def rollout_gae(rollout, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """``compute_gae`` on the fields of an ``agents.experience.schema.Rollout`` (what PPO and A2C both need)."""
    return compute_gae(
        rollout.rewards,
        rollout.values,
        rollout.terminated,
        rollout.truncated,
        rollout.last_values,
        gamma,
        gae_lambda,
    )


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


def monte_carlo_returns(
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    values: np.ndarray,
    last_values: np.ndarray,
    gamma: float,
    bootstrap: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Discounted reward-to-go G_t = r_t + gamma * G_{t+1} within each episode of a [T, N] rollout.

    REINFORCE (Williams, 1992) weights each log-prob by the return that follows its action ("reward-to-go",
    the causality form of the policy gradient). A fixed [T, N] rollout holds episodes that did not finish in
    it, which plain Monte-Carlo cannot complete; ``bootstrap`` says how to treat them:

    * ``bootstrap=True``: an episode cut by a time limit (truncated at t) continues with V(final observation)
      = ``values[t + 1]`` (the autoreset row, see the module docstring), and one cut by the rollout's end
      continues with ``last_values``. Terminated episodes end with 0. (Equal to GAE's returns at lambda 1.)
    * ``bootstrap=False``: no learned value is used. Truncation is treated as the episode's end (the
      return counts rewards up to the time limit), and rows of an episode still running at the rollout's
      end get ``complete = 0`` so the caller can mask them out (their return would be cut short).

    Args:
        rewards: [T, N] reward after the action at row t.
        terminated: [T, N] episode ended in a terminal state at row t.
        truncated: [T, N] episode was cut by a time limit at row t.
        values: [T, N] V(obs_t) as computed while acting (only read when bootstrapping).
        last_values: [N] V of the observation after row T-1 (only read when bootstrapping).
        gamma: discount factor.
        bootstrap: complete cut episodes with the learned value (True) or mask them (False).

    Returns:
        (returns, complete), both [T, N] float32: the reward-to-go, and 1.0 where the row's return is
        usable (always 1 when bootstrapping; else 1 only where the row's episode ends inside the rollout).
        Autoreset rows get meaningless values; callers mask them with the rollout's ``valid``.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    terminated = np.asarray(terminated, dtype=bool)
    done = np.logical_or(terminated, truncated)
    num_steps = rewards.shape[0]
    values = np.asarray(values, dtype=np.float64)
    # Value of the observation after row t (a truncated episode's final observation sits at row t + 1).  [T, N]
    next_values = np.concatenate([values[1:], np.asarray(last_values, np.float64)[None]], axis=0)
    if bootstrap:
        tail = np.where(terminated, 0.0, next_values)  # what follows an episode's last recorded row
        running = tail[-1]
    else:
        tail = np.zeros_like(rewards)
        running = np.zeros_like(rewards[0])
    returns = np.zeros_like(rewards)
    complete = np.zeros(rewards.shape, dtype=bool)
    ended = np.zeros(rewards.shape[1], dtype=bool)  # [N] some done at a row >= t
    for t in reversed(range(num_steps)):
        running = rewards[t] + gamma * np.where(done[t], tail[t], running)
        returns[t] = running
        ended = np.logical_or(ended, done[t])
        complete[t] = ended
    if bootstrap:
        complete[:] = True
    return returns.astype(np.float32), complete.astype(np.float32)

"""Reward normalization the way Stable-Baselines3's ``VecNormalize`` does it, for NEXT_STEP vector envs.

Each reward is divided by the running standard deviation of the discounted return it belongs to, then
clipped. Per sub-env the return accumulates as ``G ← γ·G + r`` and is **reset to 0 at every episode end,
terminated or truncated**; every step's returns update the running variance (float64) before the rewards
are scaled with it (SB3's order).

Why not Gymnasium's ``NormalizeReward``: its accumulator is ``G·γ·(1 − terminated) + r``, so a truncated
episode's return runs on into the next episode. With time-limit episodes the returns pile up near
``r / (1 − γ)``, their variance keeps shrinking, and the scale drifts (MountainCar-v0, 16 envs, random
actions, 200k steps: std ≈ 6 instead of ≈ 24; ``benchmarks/reward_normalization.py``). It does not clip either.

NEXT_STEP autoreset: the step after a done step ignores the action and returns the reset observation with
reward 0. That row belongs to no episode: it neither adds to the return nor updates the statistics, and its
reward is passed through unscaled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.wrappers.utils import RunningMeanStd


class VecNormalizeReward(VectorWrapper):
    """Scales rewards by the running std of the per-episode discounted return, clipped to ``±clip``.

    ``return_rms`` (a Gymnasium ``RunningMeanStd`` over scalars, float64) holds the statistics that
    ``envs.wrappers.get_normalization_state`` saves under the ``ret_`` keys; ``update_running_mean = False``
    freezes them (evaluation), while rewards are still scaled.

    Args:
        env: A vector env that autoresets in ``AutoresetMode.NEXT_STEP``.
        gamma: Discount of the return, in ``[0, 1]``.
        clip: Bound of the normalized reward (``±clip``), or ``None`` for no clipping. SB3's default is 10.
        epsilon: Added to the variance before the square root.

    Raises:
        ValueError: If ``gamma``, ``clip`` or ``epsilon`` is out of range.
    """

    def __init__(
        self, env: VectorEnv, gamma: float = 0.99, clip: float | None = 10.0, epsilon: float = 1e-8
    ) -> None:
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}.")
        if clip is not None and not clip > 0:
            raise ValueError(f"The reward clip must be positive or None, got {clip}.")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}.")
        super().__init__(env)
        self.gamma = gamma
        self.clip = clip
        self.epsilon = epsilon
        self.return_rms = RunningMeanStd(shape=())
        self.update_running_mean = True
        self.returns = np.zeros(self.num_envs, np.float64)  # [N] discounted return of the running episode
        self._autoreset = np.zeros(self.num_envs, bool)  # [N] the next step is the autoreset row

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Resets the env and starts every return from 0."""
        self.returns[:] = 0.0
        self._autoreset[:] = False
        return super().reset(seed=seed, options=options)

    def step(self, actions):
        """Steps the env; returns its outputs with the rewards normalized (float64)."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        rewards = np.asarray(rewards, np.float64)
        live = ~self._autoreset  # [N] rows that belong to an episode
        self.returns[live] = self.returns[live] * self.gamma + rewards[live]
        if self.update_running_mean and live.any():
            self.return_rms.update(self.returns[live])
        scaled = rewards.copy()
        scaled[live] = self.normalize(rewards[live])
        done = np.logical_or(terminated, truncated)
        self.returns[done] = 0.0
        self._autoreset = done
        return obs, scaled, terminated, truncated, info

    def normalize(self, rewards: np.ndarray) -> np.ndarray:
        """``rewards / sqrt(var + epsilon)``, clipped to ``±clip``, with the current statistics."""
        scaled = np.asarray(rewards, np.float64) / np.sqrt(self.return_rms.var + self.epsilon)
        return scaled if self.clip is None else np.clip(scaled, -self.clip, self.clip)

"""An example of your own env and wrapper for tfpg (README, "Your own envs").

Train on it from any directory, with this file's directory on PYTHONPATH (or this module in an installed
package of yours)::

    PYTHONPATH=docs/examples tfpg-train --env my_envs:GoRight-v0 --env-kwargs size=8 \
        --wrapper my_envs:ScaleReward scale=0.5 --total-steps 20000

``my_envs:GoRight-v0`` makes Gymnasium import ``my_envs`` (which registers ``GoRight-v0`` below) before it
looks the id up; ``--wrapper my_envs:ScaleReward scale=0.5`` wraps every sub-env in ``ScaleReward(env,
scale=0.5)``. Both are saved by name in the run's config.json, so ``tfpg-evaluate``, ``tfpg-export`` and
``tfpg-train --resume`` rebuild the same env in another process.
"""

from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces


class GoRight(gymnasium.Env):
    """A corridor of ``size`` cells: start at the left end, reward 1 for reaching the right end.

    Observation: the position scaled to [0, 1], shape (1,). Actions: 0 left, 1 right. Episodes terminate at
    the right end and are truncated after ``4 * size`` steps (the TimeLimit the registration adds).
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, size: int = 8, render_mode: str | None = None) -> None:
        if size < 2:
            raise ValueError(f"size must be at least 2, got {size}.")
        self.size, self.render_mode = size, render_mode
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.position = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.position / (self.size - 1)], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self._obs(), {}

    def step(self, action):
        self.position = int(np.clip(self.position + (1 if action == 1 else -1), 0, self.size - 1))
        reached = self.position == self.size - 1
        return self._obs(), float(reached), reached, False, {"is_success": reached}

    def render(self) -> np.ndarray:
        """A 16-pixel-high strip: the corridor in grey, the agent in red, the goal in green."""
        frame = np.full((16, 16 * self.size, 3), 200, np.uint8)
        frame[:, -16:] = (60, 180, 60)
        frame[:, 16 * self.position : 16 * (self.position + 1)] = (200, 40, 40)
        return frame


class ScaleReward(gymnasium.RewardWrapper):
    """Multiplies every reward by ``scale`` (a wrapper with a keyword argument, for --wrapper)."""

    def __init__(self, env: gymnasium.Env, scale: float = 1.0) -> None:
        super().__init__(env)
        self.scale = float(scale)

    def reward(self, reward):
        return self.scale * reward


gymnasium.register(id="GoRight-v0", entry_point=GoRight, max_episode_steps=32)

"""Envs for tests/test_user_envs.py, imported by name (``--env user_env_fixtures:BrokenRender-v0``).

Not a test module: pytest puts tests/ on sys.path, subprocesses get it through PYTHONPATH.
"""

from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces


class BrokenRender(gymnasium.Env):
    """Lists ``rgb_array`` among its render modes, but ``render()`` raises: the issue's crash after training.

    Dynamics: reward 1 when the action equals the observed bit, 8-step episodes.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.bit = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.bit = int(self.np_random.integers(2))
        return np.array([self.bit], np.float32), {}

    def step(self, action):
        reward = float(action == self.bit)
        self.bit = int(self.np_random.integers(2))
        return np.array([self.bit], np.float32), reward, False, False, {}

    def render(self):
        raise RuntimeError("this env draws nothing (BrokenRender)")


gymnasium.register(id="BrokenRender-v0", entry_point=BrokenRender, max_episode_steps=8)

"""A test env that only a policy with memory solves, registered under ``tfpg-test/`` on import
(``make_vector_env`` imports this module itself for ``tfpg-test/`` ids, like ``envs.testing``).

``MemoryEnv`` (``MEMORY_ID``): the rewarded action depends on a cue shown ``delay`` steps earlier, so only a
recurrent policy beats chance.
"""

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.testing import NAMESPACE

MEMORY_ID = f"{NAMESPACE}/Memory-v0"
"""Remember a cue for ``MEMORY_DELAY`` steps (see ``MemoryEnv``)."""
MEMORY_DELAY = 10


class MemoryEnv(gymnasium.Env):
    """Cue, wait, answer: the rewarded action is the cue shown ``delay`` steps before the question.

    Observations are Box(3,): step 0 shows the cue ``c`` in {0, 1} as ``[1, 0, 0]`` or ``[0, 1, 0]``; the
    ``delay - 1`` steps after it show ``[0, 0, 0]``; step ``delay`` shows the question ``[0, 0, 1]``, whatever
    the cue. Actions are Discrete(2). Only the answer (the action taken on the question) counts: +1 if it
    equals ``c``, -1 otherwise, then the episode terminates with ``info["is_success"]``. Every other step pays 0.
    The question looks the same for both cues, so a feed-forward policy answers right half of the time at
    best (mean return 0, success 0.5); one that remembers the cue earns 1 per episode.

    Args:
        delay: Steps between the cue and the question (episodes are ``delay + 1`` steps long).
    """

    def __init__(self, delay: int = MEMORY_DELAY) -> None:
        if delay < 1:
            raise ValueError(f"delay must be at least 1, got {delay}.")
        self.delay = int(delay)
        self.observation_space = spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(2)
        self._cue = 0
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._cue = int(self.np_random.integers(2))
        self._steps = 0
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._steps < self.delay:  # waiting: the action does not matter
            self._steps += 1
            return self._observe(), 0.0, False, False, {}
        correct = int(action) == self._cue
        return self._observe(), 1.0 if correct else -1.0, True, False, {"is_success": correct}

    def _observe(self) -> np.ndarray:
        obs = np.zeros(3, np.float32)
        if self._steps == 0:
            obs[self._cue] = 1.0
        elif self._steps == self.delay:
            obs[2] = 1.0
        return obs


def _register_all() -> None:
    # Re-importing (e.g. importlib.reload) must not trigger Gymnasium's "overriding" warnings.
    if MEMORY_ID not in gymnasium.registry:
        gymnasium.register(MEMORY_ID, entry_point=f"{__name__}:MemoryEnv")


_register_all()

"""Action-masking test envs, registered under ``tfpg-test/`` on import (``make_vector_env`` imports this module
itself for ``tfpg-test/`` ids, like ``envs.testing``).

``InvalidActionEnv``: some actions are invalid in each state, and the valid set changes every step. The first four
ids: an invalid action ends the episode with reward -10; Discrete(16) with 12 of the 15 wrong actions invalid in
each state, or MultiDiscrete([6, 6]) with 8 of the 10 wrong entries invalid; 20-step episodes (best return 20).
The mask is in info["action_mask"], or (Dict) an observation key "action_mask" beside "observation". Unmasked PPO
(8 envs x 128 steps) needed ~5k steps before its deterministic play stopped choosing invalid actions on the
Discrete one (one run, seed 0).

The ``SB3_*`` ids have the dynamics of sb3-contrib's InvalidActionEnvDiscrete(dim=80, n_invalid_actions=60) and
InvalidActionEnvMultiDiscrete(dims=[20, 20], n_invalid_actions=30): 100-step identity episodes, reward 1 for the
right action, invalid actions only earn 0 (no penalty, no termination). Mask in info.
"""

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.testing import NAMESPACE

INVALID_ACTION_ID = f"{NAMESPACE}/InvalidAction-v0"
INVALID_ACTION_DICT_ID = f"{NAMESPACE}/InvalidActionDict-v0"
INVALID_ACTION_MULTI_ID = f"{NAMESPACE}/InvalidActionMulti-v0"
INVALID_ACTION_MULTI_DICT_ID = f"{NAMESPACE}/InvalidActionMultiDict-v0"
SB3_INVALID_DISCRETE_ID = f"{NAMESPACE}/InvalidActionEnvDiscrete-v0"
SB3_INVALID_MULTI_DISCRETE_ID = f"{NAMESPACE}/InvalidActionEnvMultiDiscrete-v0"


class InvalidActionEnv(gymnasium.Env):
    """Identity env with action masking: the reward is 1 when the action equals the observed state.

    The state is drawn uniformly every step (Discrete(n), or MultiDiscrete(nvec) when ``nvec`` is a list).
    With it, ``n_invalid_actions`` of the entries of the flat mask ([n], or [sum(nvec)] with one block per
    dimension) are drawn invalid, never the state's own, so the right action is always valid and the valid
    set changes every step. The same dynamics as sb3-contrib's ``InvalidActionEnvDiscrete`` /
    ``InvalidActionEnvMultiDiscrete`` (an identity env: its state is the observation) when
    ``invalid_penalty`` is None, but all randomness comes from ``np_random``, so a seed fixes the episode.

    Args:
        nvec: n (Discrete actions and observations) or a list of sizes (MultiDiscrete).
        n_invalid_actions: Invalid entries of the flat mask per step (at most sum(nvec) - len(nvec)).
        ep_length: Steps until truncation.
        invalid_penalty: None: an invalid action just earns 0. A number: it ends the episode (terminated)
            with reward -invalid_penalty.
        mask_in: ``"info"``: the mask is ``info["action_mask"]`` (bool, also on reset). ``"obs"``: the
            observation is ``{"observation": state, "action_mask": int8 0/1}`` and info has no mask.

    Every step's info also says whether its action was invalid (``info["invalid_action"]``, 1.0 or 0.0): the
    env's own count, for tests that check what a masking agent did without trusting its bookkeeping.
    """

    def __init__(
        self,
        nvec: int | list[int] = 8,
        n_invalid_actions: int = 5,
        ep_length: int = 20,
        invalid_penalty: float | None = 10.0,
        mask_in: str = "info",
    ) -> None:
        if mask_in not in ("info", "obs"):
            raise ValueError(f"mask_in must be 'info' or 'obs', got {mask_in!r}.")
        discrete = isinstance(nvec, int | np.integer)
        self._nvec = np.array([nvec] if discrete else nvec, dtype=np.int64)
        if not 0 <= n_invalid_actions <= self._nvec.sum() - len(self._nvec):
            raise ValueError(
                f"n_invalid_actions={n_invalid_actions} must be in [0, {self._nvec.sum() - len(self._nvec)}] "
                f"for nvec={nvec}: every dimension keeps its right action valid."
            )
        state_space = spaces.Discrete(int(nvec)) if discrete else spaces.MultiDiscrete(self._nvec)
        self.action_space = state_space
        self.observation_space = (
            state_space
            if mask_in == "info"
            else spaces.Dict(
                {"observation": state_space, "action_mask": spaces.MultiBinary(int(self._nvec.sum()))}
            )
        )
        self.n_invalid_actions = n_invalid_actions
        self.ep_length = ep_length
        self.invalid_penalty = invalid_penalty
        self.mask_in = mask_in
        self._offsets = np.concatenate([[0], np.cumsum(self._nvec)[:-1]])  # flat index of each dim's 0
        self._state = np.zeros(len(self._nvec), np.int64)
        self._mask = np.ones(int(self._nvec.sum()), bool)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._steps = 0
        self._draw()
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        chosen = self._offsets + np.asarray(action, np.int64).reshape(-1)  # flat mask indices [D]
        invalid = not self._mask[chosen].all()
        if self.invalid_penalty is not None and invalid:
            return self._observe(), -float(self.invalid_penalty), True, False, self._info(invalid)
        reward = float(np.array_equal(np.asarray(action).reshape(-1), self._state))
        self._steps += 1
        self._draw()
        return self._observe(), reward, False, self._steps >= self.ep_length, self._info(invalid)

    def action_masks(self) -> np.ndarray:
        """The current flat mask, bool [sum(nvec)] (the method name sb3-contrib's MaskablePPO calls)."""
        return self._mask.copy()

    def _draw(self) -> None:
        self._state = self.np_random.integers(0, self._nvec)
        right = self._offsets + self._state
        wrong = np.setdiff1d(np.arange(self._nvec.sum()), right)
        self._mask = np.ones(int(self._nvec.sum()), bool)
        self._mask[self.np_random.choice(wrong, self.n_invalid_actions, replace=False)] = False

    def _observe(self) -> Any:
        discrete = isinstance(self.action_space, spaces.Discrete)
        state = np.int64(self._state[0]) if discrete else self._state.copy()
        if self.mask_in == "obs":
            return {"observation": state, "action_mask": self._mask.astype(np.int8)}
        return state

    def _info(self, invalid: bool | None = None) -> dict[str, Any]:
        info = {"action_mask": self._mask.copy()} if self.mask_in == "info" else {}
        if invalid is not None:  # a step, not a reset
            info["invalid_action"] = float(invalid)
        return info


def _register_all() -> None:
    penalty = {"ep_length": 20, "invalid_penalty": 10.0}
    sb3_like = {"ep_length": 100, "invalid_penalty": None, "mask_in": "info"}
    masked = {
        INVALID_ACTION_ID: {**penalty, "nvec": 16, "n_invalid_actions": 12, "mask_in": "info"},
        INVALID_ACTION_DICT_ID: {**penalty, "nvec": 16, "n_invalid_actions": 12, "mask_in": "obs"},
        INVALID_ACTION_MULTI_ID: {**penalty, "nvec": [6, 6], "n_invalid_actions": 8, "mask_in": "info"},
        INVALID_ACTION_MULTI_DICT_ID: {**penalty, "nvec": [6, 6], "n_invalid_actions": 8, "mask_in": "obs"},
        SB3_INVALID_DISCRETE_ID: {**sb3_like, "nvec": 80, "n_invalid_actions": 60},
        SB3_INVALID_MULTI_DISCRETE_ID: {**sb3_like, "nvec": [20, 20], "n_invalid_actions": 30},
    }
    for env_id, kwargs in masked.items():
        # Re-importing (e.g. importlib.reload) must not trigger Gymnasium's "overriding" warnings.
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=f"{__name__}:InvalidActionEnv", kwargs=kwargs)


_register_all()

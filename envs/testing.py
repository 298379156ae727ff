"""Tiny deterministic Gymnasium envs for tfpg's tests, registered under ``tfpg-test/`` on import.

Families:

* ``SpacesEnv``: one id per observation kind x action kind (see ``test_env_id``). Each step hides a 2-bit
  target ``b`` in the observation; the reward is higher the closer the action is to ``b``, so a policy can
  learn it in a few thousand steps. Episodes terminate by chance (probability ``terminate_prob`` per step)
  and are truncated by Gymnasium's ``TimeLimit`` at ``SPACES_MAX_EPISODE_STEPS``, so both paths occur.
* ``CounterEnv``: fully predictable transitions for checking termination vs truncation and autoreset.
* ``MemoryEnv`` (``MEMORY_ID``): the rewarded action depends on a cue shown ``delay`` steps earlier, so only
  a policy with memory beats chance.
* ``LatencyEnv`` (``LATENCY_ID``): a stand-in for a slow simulator or a remote game server. Each step sleeps
  ``latency_s`` instead of computing, so scaling studies of many env workers need no cores.
* ``InvalidActionEnv``: action masking (its docstring and the ``INVALID_ACTION*`` ids): some actions are
  invalid in each state, and the valid set changes every step.

``make_vector_env`` imports this module itself for ``tfpg-test/`` ids, so callers need not.
"""

import time
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

NAMESPACE = "tfpg-test"
OBS_KINDS = ("vector", "image", "dict", "discrete", "tuple")
ACTION_KINDS = ("discrete", "box", "multidiscrete", "multibinary")
SPACES_MAX_EPISODE_STEPS = 32
COUNTER_ID = f"{NAMESPACE}/Counter-v0"
COIN_ID = f"{NAMESPACE}/Coin-v0"
"""Reports ``is_success`` and an ``info["bonus"]`` per step (see ``CoinEnv``)."""
CONTINUOUS_COIN_ID = f"{NAMESPACE}/ContinuousCoin-v0"
MEMORY_ID = f"{NAMESPACE}/Memory-v0"
"""Remember a cue for ``MEMORY_DELAY`` steps (see ``MemoryEnv``)."""
MEMORY_DELAY = 10
LATENCY_ID = f"{NAMESPACE}/Latency-v0"
LATENCY_MAX_EPISODE_STEPS = 200
# Same dynamics as Counter, but its native vector env resets in the SAME step; only for checking that
# make_vector_env refuses autoreset modes other than NEXT_STEP.
SAME_STEP_COUNTER_ID = f"{NAMESPACE}/SameStepCounter-v0"
# Action-masking envs (InvalidActionEnv). The first four: an invalid action ends the episode with reward -10;
# Discrete(16) with 12 of the 15 wrong actions invalid in each state, or MultiDiscrete([6, 6]) with 8 of the
# 10 wrong entries invalid; 20-step episodes (best return 20). The mask is in info["action_mask"], or (Dict)
# an observation key "action_mask" beside "observation". Unmasked PPO (8 envs x 128 steps) needed ~5k steps
# before its deterministic play stopped choosing invalid actions on the Discrete one (one run, seed 0).
INVALID_ACTION_ID = f"{NAMESPACE}/InvalidAction-v0"
INVALID_ACTION_DICT_ID = f"{NAMESPACE}/InvalidActionDict-v0"
INVALID_ACTION_MULTI_ID = f"{NAMESPACE}/InvalidActionMulti-v0"
INVALID_ACTION_MULTI_DICT_ID = f"{NAMESPACE}/InvalidActionMultiDict-v0"
# The dynamics of sb3-contrib's InvalidActionEnvDiscrete(dim=80, n_invalid_actions=60) and
# InvalidActionEnvMultiDiscrete(dims=[20, 20], n_invalid_actions=30): 100-step identity episodes, reward 1
# for the right action, invalid actions only earn 0 (no penalty, no termination). Mask in info.
SB3_INVALID_DISCRETE_ID = f"{NAMESPACE}/InvalidActionEnvDiscrete-v0"
SB3_INVALID_MULTI_DISCRETE_ID = f"{NAMESPACE}/InvalidActionEnvMultiDiscrete-v0"

_OBS_NAMES = {"vector": "Vector", "image": "Image", "dict": "Dict", "discrete": "Discrete", "tuple": "Tuple"}
_ACTION_NAMES = {
    "discrete": "Discrete",
    "box": "Box",
    "multidiscrete": "MultiDiscrete",
    "multibinary": "MultiBinary",
}
_IMAGE_SHAPE = (8, 8, 3)


def test_env_id(obs_kind: str, action_kind: str) -> str:
    """Returns the registered id of the ``SpacesEnv`` with the given observation and action kinds.

    Args:
        obs_kind: One of ``OBS_KINDS``.
        action_kind: One of ``ACTION_KINDS``.

    Returns:
        An id such as ``"tfpg-test/VectorObs-DiscreteAct-v0"``.

    Raises:
        ValueError: If a kind is unknown.
    """
    _check_kinds(obs_kind, action_kind)
    return f"{NAMESPACE}/{_OBS_NAMES[obs_kind]}Obs-{_ACTION_NAMES[action_kind]}Act-v0"


# Not a test: keeps pytest from collecting it when a test module imports it by name.
test_env_id.__test__ = False  # type: ignore[attr-defined]


def _check_kinds(obs_kind: str, action_kind: str) -> None:
    if obs_kind not in OBS_KINDS:
        raise ValueError(f"Unknown obs_kind {obs_kind!r}; expected one of {OBS_KINDS}.")
    if action_kind not in ACTION_KINDS:
        raise ValueError(f"Unknown action_kind {action_kind!r}; expected one of {ACTION_KINDS}.")


def _observation_space(kind: str) -> spaces.Space:
    if kind == "vector":
        # Two informative features (the target bits as +-1) and two noise features.
        return spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
    if kind == "image":
        return spaces.Box(0, 255, shape=_IMAGE_SHAPE, dtype=np.uint8)
    if kind == "dict":
        # Bit 0 lives in the Box and bit 1 in the Discrete, so a policy must read both.
        return spaces.Dict(
            {"features": spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32), "flag": spaces.Discrete(2)}
        )
    if kind == "tuple":
        # Nested: bit 0 in the Box, bit 1 in a Dict inside the Tuple.
        return spaces.Tuple(
            [spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32), spaces.Dict({"flag": spaces.Discrete(2)})]
        )
    return spaces.Discrete(4)


def _action_space(kind: str) -> spaces.Space:
    if kind == "discrete":
        return spaces.Discrete(4)
    if kind == "box":
        return spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    if kind == "multidiscrete":
        # Three choices per bit (not two) so this differs from MultiBinary.
        return spaces.MultiDiscrete([3, 3])
    return spaces.MultiBinary(2)


def _bits_image(bits: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
    """Channel i is all-white when bit i is set; channel 2 is noise (or black)."""
    image = np.zeros(_IMAGE_SHAPE, dtype=np.uint8)
    image[..., 0] = 255 * bits[0]
    image[..., 1] = 255 * bits[1]
    if noise is not None:
        image[..., 2] = noise
    return image


class SpacesEnv(gymnasium.Env):
    """Guess-the-hidden-bits env with a configurable observation and action space.

    Per-step reward lies in ``[0, 1]`` for the discrete action kinds and ``[-0.5, 1]`` for ``box``; it is 1
    exactly when the action matches the target read off the observation. Random play earns about 0.25
    (discrete), 0.33 (multidiscrete), 0.5 (multibinary) and 0.375 (box) per step.

    Args:
        obs_kind: One of ``OBS_KINDS``.
        action_kind: One of ``ACTION_KINDS``.
        terminate_prob: Chance per step that the episode terminates (independent of the action).
        render_mode: ``None`` or ``"rgb_array"`` (an 8x8x3 picture of the target).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        obs_kind: str = "vector",
        action_kind: str = "discrete",
        terminate_prob: float = 0.05,
        render_mode: str | None = None,
    ) -> None:
        _check_kinds(obs_kind, action_kind)
        self.obs_kind = obs_kind
        self.action_kind = action_kind
        self.terminate_prob = terminate_prob
        self.render_mode = render_mode
        self.observation_space = _observation_space(obs_kind)
        self.action_space = _action_space(action_kind)
        self._bits = np.zeros(2, dtype=np.int64)
        self._noise = np.zeros(2, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._draw()
        return self._observe(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        reward = self._score(action)
        terminated = bool(self.np_random.random() < self.terminate_prob)
        self._draw()
        return self._observe(), reward, terminated, False, {}

    def render(self) -> np.ndarray | None:
        return _bits_image(self._bits) if self.render_mode == "rgb_array" else None

    def _draw(self) -> None:
        # All randomness comes from np_random, so a seed fixes the whole trajectory.
        self._bits = self.np_random.integers(0, 2, size=2)
        self._noise = self.np_random.uniform(-1.0, 1.0, size=2).astype(np.float32)

    def _observe(self) -> Any:
        signs = (2 * self._bits - 1).astype(np.float32)
        if self.obs_kind == "vector":
            return np.concatenate([signs, self._noise])
        if self.obs_kind == "image":
            noise = ((self._noise[0] + 1.0) * 127.5).astype(np.uint8)
            return _bits_image(self._bits, noise)
        if self.obs_kind == "dict":
            return {"features": np.array([signs[0], self._noise[0]], dtype=np.float32), "flag": self._bits[1]}
        if self.obs_kind == "tuple":
            return (np.array([signs[0], self._noise[0]], dtype=np.float32), {"flag": self._bits[1]})
        return np.int64(2 * self._bits[0] + self._bits[1])

    def _score(self, action: Any) -> float:
        if self.action_kind == "discrete":
            return float(int(action) == 2 * self._bits[0] + self._bits[1])
        if self.action_kind == "box":
            target = self._bits - 0.5  # in {-0.5, 0.5}, inside the [-1, 1] bounds
            clipped = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
            return float(1.0 - np.mean(np.abs(clipped - target)))
        return float(np.mean(np.asarray(action) == self._bits))


class CounterEnv(gymnasium.Env):
    """Predictable env: observation = steps taken this episode, reward = 1 per step.

    It terminates on step ``terminate_at``; truncation comes from Gymnasium's ``TimeLimit`` when made with
    ``max_episode_steps``. The action (``Discrete(2)``) is ignored.

    Args:
        terminate_at: Step on which the episode terminates, or ``None`` to never terminate.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, terminate_at: int | None = 5, render_mode: str | None = None) -> None:
        self.terminate_at = terminate_at
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._steps = 0
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._steps += 1
        terminated = self.terminate_at is not None and self._steps >= self.terminate_at
        return self._observe(), 1.0, terminated, False, {}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return np.full(_IMAGE_SHAPE, min(self._steps, 255), dtype=np.uint8)

    def _observe(self) -> np.ndarray:
        return np.array([self._steps], dtype=np.float32)


class CoinEnv(gymnasium.Env):
    """Custom-metrics env: 4-step episodes, ``info["is_success"]`` at the end (success iff the last action is
    "high"), ``info["bonus"] = 2.0`` on every step. ``continuous=True`` gives a Box(-1, 1, (1,)) action space
    ("high" = positive) instead of Discrete(2) ("high" = 1).
    """

    def __init__(self, continuous: bool = False) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(2)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._steps = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._steps += 1
        done = self._steps == 4
        info: dict[str, Any] = {"bonus": 2.0}
        if done:
            info["is_success"] = bool(np.asarray(action).reshape(-1)[0] > 0.5 - 0.5 * self._continuous)
        return np.zeros(2, np.float32), 1.0, done, False, info

    @property
    def _continuous(self) -> bool:
        return isinstance(self.action_space, spaces.Box)


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


class LatencyEnv(gymnasium.Env):
    """Slow-simulator stand-in: every ``step`` (and ``reset``) sleeps ``latency_s`` seconds, then answers at once.

    The task is trivial and learnable: the observation is uniform noise (floats in [-1, 1], or a uint8 image
    when ``obs_shape`` has 3 dims); action 1 earns reward 1 when its first element is "high" (> 0, or > 127), action
    0 when it is not (random play: 0.5 a step). Episodes are truncated by Gymnasium's ``TimeLimit`` at
    ``LATENCY_MAX_EPISODE_STEPS``. Sleeping releases the CPU, so W workers stepping such envs show how the
    framework's own overheads scale, not how many cores the machine has; ``obs_shape`` sizes the model (e.g.
    ``[17]`` like MuJoCo, ``[84, 84, 4]`` like Atari) for timing updates.

    Args:
        latency_s: Seconds each step and reset sleeps (e.g. 0.001-0.005, a real simulator's step time).
        obs_shape: Observation shape: 1 dim = float32 vector, 3 dims = uint8 HxWxC image.
    """

    def __init__(self, latency_s: float = 0.002, obs_shape: tuple[int, ...] | list[int] = (4,)) -> None:
        if not latency_s >= 0:
            raise ValueError(f"latency_s must be a non-negative number of seconds, got {latency_s!r}.")
        shape = tuple(int(n) for n in obs_shape)
        if len(shape) not in (1, 3) or min(shape) < 1:
            raise ValueError(f"obs_shape must be [D] or [H, W, C] with positive sizes, got {obs_shape!r}.")
        self.latency_s = float(latency_s)
        self._image = len(shape) == 3
        if self._image:
            self.observation_space = spaces.Box(0, 255, shape=shape, dtype=np.uint8)
        else:
            self.observation_space = spaces.Box(-1.0, 1.0, shape=shape, dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self._obs = self._draw()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        time.sleep(self.latency_s)
        self._obs = self._draw()
        return self._obs, {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        time.sleep(self.latency_s)
        high = self._obs.flat[0] > (127 if self._image else 0)
        reward = float(int(action) == int(high))
        self._obs = self._draw()
        return self._obs, reward, False, False, {}

    def _draw(self) -> np.ndarray:
        shape = self.observation_space.shape
        if self._image:
            return self.np_random.integers(0, 256, size=shape, dtype=np.uint8)
        return self.np_random.uniform(-1.0, 1.0, size=shape).astype(np.float32)


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


def _same_step_counter_vector_env(num_envs: int, **kwargs: Any) -> SyncVectorEnv:
    """Vector entry point for ``SAME_STEP_COUNTER_ID``."""
    return SyncVectorEnv(
        [lambda: CounterEnv(**kwargs) for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP
    )


def _register_all() -> None:
    # Re-importing (e.g. importlib.reload) must not trigger Gymnasium's "overriding" warnings.
    def register(env_id: str, **spec: Any) -> None:
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, **spec)

    for obs_kind in OBS_KINDS:
        for action_kind in ACTION_KINDS:
            register(
                test_env_id(obs_kind, action_kind),
                entry_point=f"{__name__}:SpacesEnv",
                max_episode_steps=SPACES_MAX_EPISODE_STEPS,
                kwargs={"obs_kind": obs_kind, "action_kind": action_kind},
            )
    register(COUNTER_ID, entry_point=f"{__name__}:CounterEnv")
    register(COIN_ID, entry_point=f"{__name__}:CoinEnv")
    register(MEMORY_ID, entry_point=f"{__name__}:MemoryEnv")
    register(LATENCY_ID, entry_point=f"{__name__}:LatencyEnv", max_episode_steps=LATENCY_MAX_EPISODE_STEPS)
    register(CONTINUOUS_COIN_ID, entry_point=f"{__name__}:CoinEnv", kwargs={"continuous": True})
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
        register(env_id, entry_point=f"{__name__}:InvalidActionEnv", kwargs=kwargs)
    register(
        SAME_STEP_COUNTER_ID,
        entry_point=f"{__name__}:CounterEnv",
        vector_entry_point=f"{__name__}:_same_step_counter_vector_env",
    )


_register_all()

"""Tiny deterministic Gymnasium envs for tfpg's tests, registered under ``tfpg-test/`` on import.

Families:

* ``SpacesEnv``: one id per observation kind x action kind (see ``test_env_id``). Each step hides a 2-bit
  target ``b`` in the observation; the reward is higher the closer the action is to ``b``, so a policy can
  learn it in a few thousand steps. Episodes terminate by chance (probability ``terminate_prob`` per step)
  and are truncated by Gymnasium's ``TimeLimit`` at ``SPACES_MAX_EPISODE_STEPS``, so both paths occur.
* ``CounterEnv``: fully predictable transitions for checking termination vs truncation and autoreset.
* ``LatencyEnv`` (``LATENCY_ID``): a stand-in for a slow simulator or a remote game server. Each step sleeps
  ``latency_s`` instead of computing, so scaling studies of many env workers need no cores.

Two more families share the namespace in their own modules: ``envs.testing_masks`` (action masking,
``InvalidActionEnv``) and ``envs.testing_memory`` (``MemoryEnv``, for recurrent policies).

``make_vector_env`` imports all three modules itself for ``tfpg-test/`` ids, so callers need not.
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
LATENCY_ID = f"{NAMESPACE}/Latency-v0"
LATENCY_MAX_EPISODE_STEPS = 200
# Same dynamics as Counter, but its native vector env resets in the SAME step; only for checking that
# make_vector_env refuses autoreset modes other than NEXT_STEP.
SAME_STEP_COUNTER_ID = f"{NAMESPACE}/SameStepCounter-v0"

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
    register(LATENCY_ID, entry_point=f"{__name__}:LatencyEnv", max_episode_steps=LATENCY_MAX_EPISODE_STEPS)
    register(CONTINUOUS_COIN_ID, entry_point=f"{__name__}:CoinEnv", kwargs={"continuous": True})
    register(
        SAME_STEP_COUNTER_ID,
        entry_point=f"{__name__}:CounterEnv",
        vector_entry_point=f"{__name__}:_same_step_counter_vector_env",
    )


_register_all()

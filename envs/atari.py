"""Pixel environments: Atari (ALE) and MinAtar registration, and the standard Atari preprocessing.

The standard pipeline (Mnih et al., 2015, "Human-level control through deep reinforcement learning"; Machado et
al., 2018, "Revisiting the Arcade Learning Environment") as tfpg builds it, innermost first:

    ALE env (frameskip=1, v5 sticky actions)  ─▶  AtariPreprocessing: up to 30 no-op steps at reset, the action
    repeated 4 frames with the last two max-pooled, 84x84 grayscale  ─▶  FrameStackObservation(4): uint8
    [4, 84, 84] (channels first, oldest frame first)
    ── vectorized (sync/async), or ALE's native ``AtariVectorEnv`` doing all of the above in C++ ──
    RecordEpisodeStatistics (raw game score and length)  ─▶  LifeLossTerminal (training only)  ─▶
    reward sign (training only)

Both training-only parts sit above the episode statistics, so ``info["episode"]`` always reports whole games
with their raw score, and evaluation envs (built without them) score what the game scores.

Nothing here downloads anything: the ROMs ship inside the ale-py wheel.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.wrappers.vector import TransformReward

ATARI_PREFIX = "ALE/"
MINATAR_PREFIX = "MinAtar/"
INSTALL_HINT = "pip install -e '.[atari]'"

NOOP_MAX = 30
FRAME_SKIP = 4
SCREEN_SIZE = 84
ATARI_FPS = 60  # the console's frame rate


def bare_id(env_id: str) -> str:
    """``"ale_py:ALE/Pong-v5"`` → ``"ALE/Pong-v5"`` (Gymnasium's ``module:id`` form imports the module itself)."""
    return env_id.split(":", 1)[-1]


def is_atari(env_id: str) -> bool:
    """An Arcade Learning Environment id (``ALE/<Game>-v5``)."""
    return bare_id(env_id).startswith(ATARI_PREFIX)


def register_pixel_envs(env_id: str) -> None:
    """Registers the ALE or MinAtar ids when ``env_id`` is one of them (neither registers on its own).

    Raises:
        ImportError: The package is not installed; the message gives the install command.
    """
    bare = bare_id(env_id)
    if bare.startswith(ATARI_PREFIX):
        ale_py = _import("ale_py", env_id)
        gymnasium.register_envs(ale_py)
    elif bare.startswith(MINATAR_PREFIX) and not any(
        name.startswith(MINATAR_PREFIX) for name in gymnasium.registry
    ):
        _import("minatar.gym", env_id).register_envs()


def _import(module: str, env_id: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{env_id} needs the {module.split('.')[0]} package, which is not installed ({err}). "
            f"Install tfpg's Atari/MinAtar extra: {INSTALL_HINT}"
        ) from err


def atari_make_vec_args(
    env_id: str, vectorization: str, frame_stack: int
) -> tuple[str, dict[str, Any], list]:
    """How to ask ``gymnasium.make_vec`` for the preprocessed env.

    Args:
        env_id: An ``ALE/...`` id.
        vectorization: ``"vector_entry_point"`` (ALE's C++ ``AtariVectorEnv``), ``"sync"``/``"async"``
            (Gymnasium's wrappers in each sub-env) or ``"auto"`` (the native one: one C++ loop for all
            envs; no sync-vs-native measurement is recorded yet).
        frame_stack: Frames per observation.

    Returns:
        ``(vectorization_mode, env kwargs, per-env wrappers)``.
    """
    if not is_atari(env_id):
        raise ValueError(
            f"atari_wrappers=true needs an ALE/... env id, got {env_id!r}; MinAtar and other pixel envs need no "
            f"Atari preprocessing (set atari_wrappers=false)."
        )
    if frame_stack < 1:
        raise ValueError(f"frame_stack must be at least 1, got {frame_stack}.")
    if vectorization in ("auto", "vector_entry_point"):
        # The same pipeline in C++. Its own reward clipping, life-loss and FIRE-reset are off: the first two
        # are done above the episode statistics (training only), the third is not part of the standard chain.
        native = dict(
            frameskip=FRAME_SKIP,
            noop_max=NOOP_MAX,
            maxpool=True,
            img_height=SCREEN_SIZE,
            img_width=SCREEN_SIZE,
            grayscale=True,
            stack_num=frame_stack,
            episodic_life=False,
            reward_clipping=False,
            use_fire_reset=False,
        )
        return "vector_entry_point", native, []
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    def preprocess(env: gymnasium.Env) -> gymnasium.Env:
        env = AtariPreprocessing(env, noop_max=NOOP_MAX, frame_skip=FRAME_SKIP, screen_size=SCREEN_SIZE)
        return FrameStackObservation(env, frame_stack)  # [stack, 84, 84] uint8

    # AtariPreprocessing skips frames itself and refuses an env that already does.
    return vectorization, {"frameskip": 1}, [preprocess]


class LifeLossTerminal(VectorWrapper):
    """Training only: losing a life ends the learner's episode while the game goes on (DQN's "episodic life").

    Put it above ``RecordEpisodeStatistics``: the statistics then still see whole games. The env under it must
    report ``info["lives"]`` (every ALE env does). After a life-loss terminal, the next step is an emulated
    NEXT_STEP autoreset row, as after any done: the policy's action is replaced by NOOP (action 0 in every
    ALE action set), its reward reported as 0 and no done, and its observation (the game after the lost life)
    starts the learner's next episode. Shapes: actions, rewards and flags are [N].
    """

    def __init__(self, env: VectorEnv):
        super().__init__(env)
        self._lives = np.zeros(self.num_envs, np.int64)
        self._restart = np.zeros(self.num_envs, bool)  # [N] this step is an emulated autoreset row

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._lives = self._read_lives(info)
        self._restart = np.zeros(self.num_envs, bool)
        return obs, info

    def step(self, actions):
        restart = self._restart
        if restart.any():
            actions = np.array(actions, copy=True)
            actions[restart] = 0
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        lives = self._read_lives(info)
        lost = (lives < self._lives) & ~(terminated | truncated) & ~restart
        self._lives, self._restart = lives, lost
        rewards = np.where(restart, np.zeros_like(rewards), rewards)
        return obs, rewards, terminated | lost, truncated, info

    def _read_lives(self, info: dict) -> np.ndarray:
        if "lives" not in info:
            raise ValueError(
                "terminal_on_life_loss=true needs an env that reports info['lives'] (the ALE envs do); this "
                "one does not. Set terminal_on_life_loss=false."
            )
        return np.asarray(info["lives"], np.int64).copy()


def check_atari_options(
    env_id: str, vectorization: str, atari_wrappers: bool, terminal_on_life_loss: bool
) -> None:
    """Refuses Atari options that cannot apply to ``env_id``, before any env is built.

    Raises:
        ValueError: The option, what it needs, and what to set instead.
    """
    if terminal_on_life_loss and not is_atari(env_id):
        raise ValueError(
            f"terminal_on_life_loss=true needs an ALE/... env (it reads info['lives']), got {env_id!r}; "
            f"set terminal_on_life_loss=false."
        )
    if is_atari(env_id) and vectorization == "vector_entry_point" and not atari_wrappers:
        raise ValueError(
            "ALE's native vector env (vectorization=vector_entry_point) always preprocesses its frames, with "
            "its own reward clipping; set atari_wrappers=true (the same preprocessing, rewards clipped only for "
            "training) or vectorization=sync for the raw frames."
        )


def training_wrappers(env: VectorEnv, terminal_on_life_loss: bool, sign_reward: bool) -> VectorEnv:
    """Adds the training-only parts above the episode statistics (see the module docstring)."""
    if terminal_on_life_loss:
        env = LifeLossTerminal(env)
    if sign_reward:
        env = TransformReward(env, np.sign)  # -1, 0 or +1 per step: one scale of updates for every game
    return env

"""Builds the Gymnasium vector environments that tfpg trains and evaluates on."""

import difflib
import importlib
from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers.vector import (
    NormalizeObservation,
    NormalizeReward,
    RecordEpisodeStatistics,
    TransformObservation,
)

from envs.modes import VECTORIZATION_MODES

_TEST_NAMESPACE = "tfpg-test/"
_NAMESPACES = {_TEST_NAMESPACE: "envs.testing", "tfpg/": "envs.partially_observed"}
"""Id prefix → the module that registers those ids on import."""


def make_vector_env(
    env_id: str,
    num_envs: int,
    seed: int | None = None,
    *,
    vectorization: str = "auto",
    normalize_obs: bool = False,
    normalize_reward: bool = False,
    gamma: float = 0.99,
    clip_obs: float | None = 10.0,
    env_kwargs: dict | None = None,
    render_mode: str | None = None,
    wrappers: list | None = None,
) -> VectorEnv:
    """Makes a vector env with episode statistics and optional observation/reward normalization.

    Wrappers, innermost first: ``RecordEpisodeStatistics`` (so ``info["episode"]`` and its
    ``info["_episode"]`` mask report raw returns and lengths), then ``NormalizeObservation`` plus a clip to
    ``[-clip_obs, clip_obs]``, then ``NormalizeReward``. The env always uses ``AutoresetMode.NEXT_STEP``: the
    step after a done step ignores the action and returns the reset observation with reward 0.

    Seeding: ``seed`` seeds the action and observation spaces here. The sub-envs are seeded by the caller's
    first ``env.reset(seed=seed)`` (Gymnasium gives sub-env ``i`` the seed ``seed + i``); later resets
    must pass no seed, or episodes would repeat. ``reset_seeded`` does both in one call.

    Args:
        env_id: A registered Gymnasium id (``tfpg-test/...`` and ``tfpg/...`` ids register themselves).
        num_envs: Number of sub-environments.
        seed: Seed for the spaces' samplers, or ``None`` to leave them unseeded.
        vectorization: ``"auto"`` (the env's native vector env when its spec has a ``vector_entry_point``,
            else ``"sync"``), ``"sync"``, ``"async"`` or ``"vector_entry_point"``.
        normalize_obs: Normalize observations by running mean and variance; needs a ``Box`` space.
        normalize_reward: Scale rewards by the running std of the discounted return.
        gamma: Discount of the return whose std ``normalize_reward`` divides by.
        clip_obs: Clip normalized observations to ``[-clip_obs, clip_obs]``; ``None`` disables clipping.
        env_kwargs: Keyword arguments for the env constructor (``max_episode_steps`` sets a time limit).
        render_mode: Passed to the env, e.g. ``"rgb_array"``.
        wrappers: ``env -> env`` functions applied to every sub-env, innermost first (``envs.user``
            builds them from import paths); with ``"auto"`` vectorization they make it ``"sync"``.

    Returns:
        The wrapped vector environment (not yet reset).

    Raises:
        ValueError: If ``vectorization`` or ``clip_obs`` is invalid, the env does not autoreset in
            ``NEXT_STEP`` mode, or ``normalize_obs`` is asked of a non-``Box`` observation space.
        gymnasium.error.UnregisteredEnv: If ``env_id`` is not registered (message suggests close ids).
    """
    if vectorization not in VECTORIZATION_MODES:
        raise ValueError(f"Unknown vectorization {vectorization!r}; expected one of {VECTORIZATION_MODES}.")
    if clip_obs is not None and clip_obs <= 0:
        raise ValueError(f"clip_obs must be positive or None, got {clip_obs}.")
    for prefix, module in _NAMESPACES.items():
        if env_id.startswith(prefix):
            importlib.import_module(module)  # registers that namespace's ids

    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        # Only when set: envs whose constructor lacks a render_mode argument still work.
        kwargs["render_mode"] = render_mode
    mode = None if vectorization == "auto" else vectorization
    if wrappers and mode is None:
        mode = "sync"  # a native vector env cannot wrap its sub-envs
    if wrappers:
        kwargs["wrappers"] = list(wrappers)
    try:
        env = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    except gymnasium.error.UnregisteredEnv as error:
        raise type(error)(_unknown_id_message(env_id, error)) from error

    _check_next_step_autoreset(env, env_id)
    env = RecordEpisodeStatistics(env)
    if normalize_obs:
        env = _normalize_observations(env, env_id, clip_obs)
    if normalize_reward:
        env = NormalizeReward(env, gamma=gamma)
    if seed is not None:
        env.action_space.seed(seed)
        env.single_action_space.seed(seed)
        env.observation_space.seed(seed)
    return env


def reset_seeded(env: VectorEnv, seed: int | None) -> tuple[Any, dict[str, Any]]:
    """Seeds the spaces and every sub-env (sub-env ``i`` gets ``seed + i``), then resets.

    Call once at the start of a run; later resets should pass no seed.

    Args:
        env: A vector env, e.g. from ``make_vector_env``.
        seed: The run's seed; ``None`` resets without seeding.

    Returns:
        The ``(observations, infos)`` of ``env.reset``.
    """
    if seed is not None:
        env.action_space.seed(seed)
        env.single_action_space.seed(seed)
        env.observation_space.seed(seed)
    return env.reset(seed=seed)


def _unknown_id_message(env_id: str, error: Exception) -> str:
    close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=3, cutoff=0.6)
    hint = f" Close matches: {', '.join(close)}." if close else ""
    own = (
        " Your own env: name the module that registers it, --env your_module:YourEnv-v0 (README, Your own envs)."
        if ":" not in env_id
        else ""
    )
    return f"Unknown environment id {env_id!r}: {error}{hint}{own}"


def _check_next_step_autoreset(env: VectorEnv, env_id: str) -> None:
    mode = env.metadata.get("autoreset_mode")
    if mode != AutoresetMode.NEXT_STEP:
        env.close()
        raise ValueError(
            f"{env_id} ({type(env).__name__}) autoresets in mode {mode!r}, but tfpg's rollouts assume "
            f"AutoresetMode.NEXT_STEP (the step after a done step returns the reset observation with "
            f"reward 0). Try vectorization='sync', which always uses NEXT_STEP."
        )


def _normalize_observations(env: VectorEnv, env_id: str, clip_obs: float | None) -> VectorEnv:
    space = env.single_observation_space
    if not isinstance(space, Box):
        env.close()
        raise ValueError(
            f"normalize_obs=True needs a Box observation space, but {env_id} has {space}: a running "
            f"mean and variance are only defined for arrays. Flatten it first (e.g. "
            f"gymnasium.wrappers.vector.FlattenObservation, which one-hot encodes Discrete parts) or pass "
            f"normalize_obs=False."
        )
    env = NormalizeObservation(env)
    if clip_obs is None:
        return env

    def clip(observations: np.ndarray) -> np.ndarray:
        return np.clip(observations, -clip_obs, clip_obs)

    # NormalizeObservation emits float32; the clipped space must say so and carry the new bounds.
    clipped_space = Box(-clip_obs, clip_obs, shape=space.shape, dtype=np.float32)
    return TransformObservation(env, clip, single_observation_space=clipped_space)

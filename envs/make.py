"""Builds the Gymnasium vector environments that tfpg trains and evaluates on."""

import difflib
import importlib
from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv
from gymnasium.wrappers.vector import TransformObservation

from envs import atari, pool
from envs.lean import LeanEpisodeStatistics, LeanNormalizeObservation, LeanSyncVectorEnv
from envs.modes import VECTORIZATION_MODES
from envs.normalize import VecNormalizeReward
from envs.wrappers import ActionMaskToInfo

_TEST_NAMESPACE = "tfpg-test/"
_NAMESPACES = {
    _TEST_NAMESPACE: ("envs.testing", "envs.testing_masks", "envs.testing_memory"),
    "tfpg/": ("envs.partially_observed",),
}
"""Id prefix → the modules that register those ids on import."""


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
    clip_reward: float | None = 10.0,
    env_kwargs: dict | None = None,
    render_mode: str | None = None,
    wrappers: list | None = None,
    action_mask_key: str | None = None,
    atari_wrappers: bool = False,
    frame_stack: int = 4,
    terminal_on_life_loss: bool = False,
    sign_reward: bool = False,
) -> VectorEnv:
    """Makes a vector env with episode statistics and optional observation/reward normalization.

    Wrappers, innermost first: the Atari preprocessing when asked (``envs/atari.py``) and the user's
    ``wrappers`` in each sub-env, ``ActionMaskToInfo`` when ``action_mask_key`` names a key of a Dict
    observation, ``RecordEpisodeStatistics`` (so ``info["episode"]`` and its ``info["_episode"]`` mask report
    raw returns and lengths; ``envs.lean``'s cheaper version, as the sync vector env is), then the
    training-only life-loss terminal and reward sign, then
    ``NormalizeObservation`` plus a clip to ``[-clip_obs, clip_obs]``, then ``VecNormalizeReward`` (SB3's rule:
    the return is reset at every episode end, truncations included; normalized rewards clipped to
    ``[-clip_reward, clip_reward]``). The env always uses ``AutoresetMode.NEXT_STEP``: the step after a done
    step ignores the action and returns the reset observation with reward 0.

    Seeding: ``seed`` seeds the action and observation spaces here. The sub-envs are seeded by the caller's
    first ``env.reset(seed=seed)`` (Gymnasium gives sub-env ``i`` the seed ``seed + i``); later resets
    must pass no seed, or episodes would repeat. ``reset_seeded`` does both in one call.

    Args:
        env_id: A registered Gymnasium id (``tfpg-test/...`` and ``tfpg/...`` ids register themselves).
        num_envs: Number of sub-environments.
        seed: Seed for the spaces' samplers, or ``None`` to leave them unseeded.
        vectorization: ``"auto"`` (the env's native vector env when its spec has a ``vector_entry_point``,
            else ``"sync"``), ``"sync"``, ``"async"``, ``"vector_entry_point"`` or ``"envpool"`` (EnvPool's
            C++ envs, seeded here with ``seed``; see ``envs/pool.py``).
        normalize_obs: Normalize observations by running mean and variance; needs a ``Box`` space.
        normalize_reward: Scale rewards by the running std of the discounted per-episode return.
        gamma: Discount of the return whose std ``normalize_reward`` divides by.
        clip_obs: Clip normalized observations to ``[-clip_obs, clip_obs]``; ``None`` disables clipping.
        clip_reward: Clip normalized rewards to ``[-clip_reward, clip_reward]``; ``None`` disables clipping.
        env_kwargs: Keyword arguments for the env constructor (``max_episode_steps`` sets a time limit).
        render_mode: Passed to the env, e.g. ``"rgb_array"``.
        wrappers: ``env -> env`` functions applied to every sub-env, innermost first (``envs.user``
            builds them from import paths); with ``"auto"`` vectorization they make it ``"sync"``.
        action_mask_key: If the observation space is a Dict with this key, the action mask it holds moves
            into ``info[action_mask_key]`` before anything else sees the observation (``ActionMaskToInfo``).
        atari_wrappers: The standard Atari preprocessing (no-op reset, frame skip 4 with max-pooling, 84x84
            grayscale, frame stack); needs an ``ALE/...`` id. ``"auto"`` vectorization uses ALE's native vector
            env for it. ``ALE/`` and ``MinAtar/`` ids register themselves (their packages are the ``atari`` extra).
        frame_stack: Frames per observation with ``atari_wrappers``.
        terminal_on_life_loss: A lost life ends the episode for the learner (training envs only; ALE ids).
        sign_reward: Rewards become their sign (training envs only); episode statistics stay raw.

    Returns:
        The wrapped vector environment (not yet reset).

    Raises:
        ValueError: If ``env_kwargs`` do not fit the env's constructor, a module it needs is missing,
            ``vectorization``, ``clip_obs`` or ``clip_reward`` is invalid, the env does not autoreset in
            ``NEXT_STEP`` mode, ``normalize_obs`` is asked of a non-``Box`` observation space, or an Atari option
            is asked of an env that is not an ALE env.
        gymnasium.error.UnregisteredEnv: If ``env_id`` is not registered (message suggests close ids).
        ImportError: An ``ALE/`` or ``MinAtar/`` id without its package (the message gives the install command).
    """
    if vectorization not in VECTORIZATION_MODES:
        raise ValueError(f"Unknown vectorization {vectorization!r}; expected one of {VECTORIZATION_MODES}.")
    if clip_obs is not None and clip_obs <= 0:
        raise ValueError(f"clip_obs must be positive or None, got {clip_obs}.")
    if clip_reward is not None and not clip_reward > 0:
        raise ValueError(f"clip_reward must be positive or None, got {clip_reward}.")
    atari.check_atari_options(env_id, vectorization, atari_wrappers, terminal_on_life_loss)
    _register_namespace(env_id)

    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        # Only when set: envs whose constructor lacks a render_mode argument still work.
        kwargs["render_mode"] = render_mode
    if vectorization == "envpool":
        if wrappers:
            raise ValueError(
                "--wrapper applies to each sub-env, which envpool does not expose: use sync or async."
            )
        env = pool.make_envpool(env_id, num_envs, seed, kwargs, atari_wrappers, frame_stack)
    else:
        if wrappers and vectorization == "auto":
            vectorization = "sync"  # a native vector env cannot wrap its sub-envs
        sub_wrappers = []
        if atari_wrappers:
            vectorization, preprocessing, sub_wrappers = atari.atari_make_vec_args(
                env_id, vectorization, frame_stack
            )
            kwargs = {**preprocessing, **kwargs}
        elif atari.is_atari(env_id) and vectorization == "auto":
            vectorization = "sync"  # raw frames, as registered: ALE's native vector env always preprocesses
        env = _make_vec(
            env_id, num_envs, vectorization, kwargs, [*sub_wrappers, *(wrappers or [])], env_kwargs
        )

    _check_next_step_autoreset(env, env_id)
    space = env.single_observation_space
    if isinstance(space, gymnasium.spaces.Dict) and action_mask_key in space.spaces:
        env = ActionMaskToInfo(env, action_mask_key)
    env = LeanEpisodeStatistics(env)
    env = atari.training_wrappers(env, terminal_on_life_loss, sign_reward)
    if normalize_obs:
        env = _normalize_observations(env, env_id, clip_obs)
    if normalize_reward:
        env = VecNormalizeReward(env, gamma=gamma, clip=clip_reward)
    if seed is not None:
        env.action_space.seed(seed)
        env.single_action_space.seed(seed)
        env.observation_space.seed(seed)
    return env


def _make_vec(
    env_id: str, num_envs: int, vectorization: str, kwargs: dict, wrappers: list, env_kwargs: dict | None
) -> VectorEnv:
    mode = None if vectorization == "auto" else vectorization
    if wrappers:
        kwargs = {**kwargs, "wrappers": wrappers}
    try:
        env = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    except gymnasium.error.UnregisteredEnv as error:
        raise type(error)(_unknown_id_message(env_id, error)) from error
    except TypeError as error:  # e.g. env_kwargs the constructor does not take
        raise ValueError(
            f"{env_id} cannot be made with env_kwargs {env_kwargs or {}}: {error}. Check the env's "
            f"constructor arguments (gymnasium.spec({env_id!r}) lists its defaults)."
        ) from error
    except ModuleNotFoundError as error:  # "module:EnvId" ids, or an env's own optional dependency
        raise ValueError(
            f"{env_id} cannot be made: {error}. Install the package that provides it."
        ) from error
    # Gymnasium's sync env, exactly: its sub-envs behind a cheaper step (envs/lean.py).
    return LeanSyncVectorEnv.taking_over(env) if type(env) is SyncVectorEnv else env


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


def own_time_limit(env_id: str, env_kwargs: dict | None = None) -> int | None:
    """The episode step limit an env has without tfpg's help: ``env_kwargs["max_episode_steps"]`` if given,
    else its registration's ``max_episode_steps`` (for ALE games, which have none, their frame limit
    ``max_num_frames_per_episode``, in emulator frames); ``None`` when it has none (e.g. CliffWalking-v1) or
    the id is unknown (``make_vector_env`` then says so).
    """
    limit = (env_kwargs or {}).get("max_episode_steps")
    if limit is not None:
        return limit if limit > 0 else None  # -1 tells Gymnasium not to apply its TimeLimit
    try:
        _register_namespace(env_id)
        if ":" in env_id:  # "module:EnvId": gymnasium.spec does not import the module (gymnasium.make does)
            importlib.import_module(env_id.partition(":")[0])
        spec = gymnasium.spec(atari.bare_id(env_id))
    except (ImportError, gymnasium.error.Error):
        return None  # make_vector_env reports a missing module or extra, or an unknown id
    if spec.max_episode_steps is not None:
        return spec.max_episode_steps
    # ALE games end themselves after max_num_frames_per_episode emulator frames (108,000 in v5: 30 minutes);
    # their vector env takes no max_episode_steps, so this limit is theirs, in frames.
    frames = {**spec.kwargs, **(env_kwargs or {})}.get("max_num_frames_per_episode")
    return frames if frames and frames > 0 else None


def _register_namespace(env_id: str) -> None:
    """Registers the ids of ``env_id``'s family when tfpg must do it: its own test and partially observed envs, ALE
    and MinAtar (ImportError, with the install command, when that extra is missing)."""
    for prefix, modules in _NAMESPACES.items():
        if env_id.startswith(prefix):
            for module in modules:
                importlib.import_module(module)
    atari.register_pixel_envs(env_id)


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
    env = LeanNormalizeObservation(env)
    if clip_obs is None:
        return env

    def clip(observations: np.ndarray) -> np.ndarray:
        return np.clip(observations, -clip_obs, clip_obs)

    # NormalizeObservation emits float32; the clipped space must say so and carry the new bounds.
    clipped_space = Box(-clip_obs, clip_obs, shape=space.shape, dtype=np.float32)
    return TransformObservation(env, clip, single_observation_space=clipped_space)

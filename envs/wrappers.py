"""Save, restore and freeze the running statistics of the normalization wrappers; and
``ActionMaskToInfo``, which takes an action mask out of a Dict observation.

The statistics are part of a trained agent (its inputs were scaled by them), so they go into checkpoints
as plain arrays, and evaluation envs freeze them. Observations: Gymnasium's ``NormalizeObservation``
(``obs_`` keys). Rewards: tfpg's ``VecNormalizeReward`` (``envs/normalize.py``), or Gymnasium's
``NormalizeReward`` in an env a user wrapped by hand; both keep a scalar ``return_rms`` (``ret_`` keys), so
checkpoints written before tfpg had its own wrapper load unchanged.
"""

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorObservationWrapper, VectorWrapper
from gymnasium.vector.utils import batch_space
from gymnasium.wrappers.utils import RunningMeanStd
from gymnasium.wrappers.vector import NormalizeObservation, NormalizeReward

from envs.normalize import VecNormalizeReward

# Key prefix -> (wrapper classes, attribute holding its RunningMeanStd).
_NORMALIZERS = {
    "obs": ((NormalizeObservation,), "obs_rms"),
    "ret": ((VecNormalizeReward, NormalizeReward), "return_rms"),
}
_ALL_NORMALIZERS = tuple(cls for classes, _ in _NORMALIZERS.values() for cls in classes)
_STATS = ("mean", "var", "count")


def find_wrapper(env: VectorEnv, cls: type | tuple[type, ...]) -> VectorWrapper | None:
    """Returns the outermost wrapper of type ``cls`` (or one of them) in ``env``'s chain, or ``None``."""
    while True:
        if isinstance(env, cls):
            return env
        if not isinstance(env, VectorWrapper):
            return None
        env = env.env


def get_normalization_state(env: VectorEnv) -> dict[str, np.ndarray]:
    """Returns copies of the normalization statistics in ``env``'s wrapper chain.

    Args:
        env: A vector env, possibly wrapped in ``NormalizeObservation`` and/or a reward normalizer.

    Returns:
        ``obs_mean``, ``obs_var``, ``obs_count`` if observations are normalized and ``ret_mean``,
        ``ret_var``, ``ret_count`` if rewards are (counts are 0-d float64 arrays); empty if neither.
    """
    state = {}
    for prefix, (classes, attr) in _NORMALIZERS.items():
        wrapper = find_wrapper(env, classes)
        if wrapper is None:
            continue
        rms: RunningMeanStd = getattr(wrapper, attr)
        state[f"{prefix}_mean"] = np.array(rms.mean, copy=True)
        state[f"{prefix}_var"] = np.array(rms.var, copy=True)
        state[f"{prefix}_count"] = np.array(rms.count, dtype=np.float64)
    return state


def set_normalization_state(env: VectorEnv, state: dict[str, np.ndarray]) -> None:
    """Writes statistics from ``get_normalization_state`` back into ``env``'s wrappers.

    Everything is checked before anything is written, so a failed call leaves ``env`` unchanged.

    Args:
        env: A vector env with the same normalization wrappers (and observation shape) as the source.
        state: The dict returned by ``get_normalization_state``.

    Raises:
        ValueError: If a key is unknown, a wrapper and its keys do not come together, or a shape differs;
            the message names the key and the shapes.
    """
    known = {f"{prefix}_{stat}" for prefix in _NORMALIZERS for stat in _STATS}
    unknown = sorted(set(state) - known)
    if unknown:
        raise ValueError(f"Unknown normalization state keys {unknown}; expected a subset of {sorted(known)}.")

    updates = []  # (RunningMeanStd, mean, var, count), applied only once all are valid
    for prefix, (classes, attr) in _NORMALIZERS.items():
        keys = [f"{prefix}_{stat}" for stat in _STATS]
        given = [key for key in keys if key in state]
        wrapper = find_wrapper(env, classes)
        if wrapper is None:
            if given:
                raise ValueError(f"State has {given} but the env has no {classes[0].__name__} wrapper.")
            continue
        missing = [key for key in keys if key not in state]
        if missing:
            raise ValueError(f"The env has a {type(wrapper).__name__} wrapper but the state lacks {missing}.")
        rms: RunningMeanStd = getattr(wrapper, attr)
        expected = {"mean": np.shape(rms.mean), "var": np.shape(rms.var), "count": ()}
        values = {}
        for stat, key in zip(_STATS, keys, strict=True):
            value = np.asarray(state[key])
            if value.shape != expected[stat]:
                raise ValueError(f"{key} has shape {value.shape} but the env expects {expected[stat]}.")
            values[stat] = value
        updates.append((rms, values))

    for rms, values in updates:
        # Keep the wrapper's own dtype (float32 for observations) so normalized outputs match exactly.
        rms.mean = values["mean"].astype(np.asarray(rms.mean).dtype, copy=True)
        rms.var = values["var"].astype(np.asarray(rms.var).dtype, copy=True)
        rms.count = float(values["count"])


def freeze_normalization(env: VectorEnv, frozen: bool = True) -> None:
    """Stops (or resumes) updating the running statistics of every normalization wrapper in ``env``.

    A frozen env still normalizes, with fixed statistics, as evaluation needs. Envs without normalization
    wrappers are left as they are.

    Args:
        env: A vector env, possibly wrapped in ``NormalizeObservation`` and/or a reward normalizer.
        frozen: ``True`` to freeze, ``False`` to resume updating.
    """
    while True:
        if isinstance(env, _ALL_NORMALIZERS):
            env.update_running_mean = not frozen
        if not isinstance(env, VectorWrapper):
            return
        env = env.env


def observation_transform(env: VectorEnv):
    """The observation processing of ``env``'s vector wrappers (normalization, clip), as a function of a batch.

    Applies each ``VectorObservationWrapper``'s ``observations`` in the order the env applies them, with the
    wrappers' current statistics: freeze them first (``freeze_normalization``) to get exactly what a frozen
    evaluation env feeds the policy. The function holds the wrappers, not the env's processes, so it keeps
    working after ``env.close()``.

    Args:
        env: a vector env from ``make_vector_env``.

    Returns:
        ``batch -> batch`` (identity when the env has no observation wrappers).
    """
    chain = []  # outermost first
    while isinstance(env, VectorWrapper):
        if isinstance(env, VectorObservationWrapper):
            chain.append(env)
        env = env.env

    def transform(observations):
        for wrapper in reversed(chain):
            observations = wrapper.observations(observations)
        return observations

    return transform


def strip_observation_space(space: spaces.Dict, key: str) -> spaces.Space:
    """A Dict observation space without ``key``; a Dict left with a single key becomes that key's space.

    Raises:
        ValueError: ``key`` is the only key (nothing would be left to observe).
    """
    rest = {k: v for k, v in space.spaces.items() if k != key}
    if not rest:
        raise ValueError(
            f"The observation space {space} holds nothing but the action mask {key!r}; the network needs "
            f"something else to observe."
        )
    return next(iter(rest.values())) if len(rest) == 1 else spaces.Dict(rest)


class ActionMaskToInfo(VectorWrapper):
    """Moves an action mask from a Dict observation into ``info[key]`` (with presence flags ``info["_" + key]``).

    Why at the env: everything after it — observation normalization (which needs a Box), the network, the
    rollout buffers, evaluation, export — sees a plain observation, and the acting side reads every mask from
    ``info`` the same way. The common ``{"observation": ..., "action_mask": ...}`` layout becomes the bare
    ``observation``; a mask in ``info`` already under ``key`` is replaced by the observation's.

    Args:
        env: A vector env whose single observation space is a Dict with ``key``.
        key: The mask's key.
    """

    def __init__(self, env: VectorEnv, key: str) -> None:
        super().__init__(env)
        space = env.single_observation_space
        if not isinstance(space, spaces.Dict) or key not in space.spaces:
            raise ValueError(
                f"ActionMaskToInfo needs a Dict observation space with the key {key!r}, got {space}."
            )
        self.key = key
        self.single_observation_space = strip_observation_space(space, key)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def _move(self, obs: dict, info: dict) -> tuple[Any, dict]:
        info = dict(info)
        info[self.key] = obs[self.key]  # [N, size]
        info["_" + self.key] = np.ones(self.num_envs, bool)
        rest = {k: v for k, v in obs.items() if k != self.key}
        return (next(iter(rest.values())) if len(rest) == 1 else rest), info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        return self._move(*self.env.reset(seed=seed, options=options))

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        obs, info = self._move(obs, info)
        return obs, rewards, terminated, truncated, info


def moved_action_mask_key(env: VectorEnv) -> str | None:
    """The key an ``ActionMaskToInfo`` in ``env``'s chain moves into ``info``, or None."""
    wrapper = find_wrapper(env, ActionMaskToInfo)
    return None if wrapper is None else wrapper.key

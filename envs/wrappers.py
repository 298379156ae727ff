"""Save, restore and freeze the running statistics of Gymnasium's normalization wrappers.

The statistics are part of a trained agent (its inputs were scaled by them), so they go into checkpoints
as plain arrays, and evaluation envs freeze them.
"""

import numpy as np
from gymnasium.vector import VectorEnv, VectorObservationWrapper, VectorWrapper
from gymnasium.wrappers.utils import RunningMeanStd
from gymnasium.wrappers.vector import NormalizeObservation, NormalizeReward

# Key prefix -> (wrapper class, attribute holding its RunningMeanStd).
_NORMALIZERS = {
    "obs": (NormalizeObservation, "obs_rms"),
    "ret": (NormalizeReward, "return_rms"),
}
_STATS = ("mean", "var", "count")


def _find(env: VectorEnv, cls: type) -> VectorWrapper | None:
    """Returns the outermost wrapper of type ``cls`` in ``env``'s chain, or ``None``."""
    while True:
        if isinstance(env, cls):
            return env
        if not isinstance(env, VectorWrapper):
            return None
        env = env.env


def get_normalization_state(env: VectorEnv) -> dict[str, np.ndarray]:
    """Returns copies of the normalization statistics in ``env``'s wrapper chain.

    Args:
        env: A vector env, possibly wrapped in ``NormalizeObservation`` and/or ``NormalizeReward``.

    Returns:
        ``obs_mean``, ``obs_var``, ``obs_count`` if observations are normalized and ``ret_mean``,
        ``ret_var``, ``ret_count`` if rewards are (counts are 0-d float64 arrays); empty if neither.
    """
    state = {}
    for prefix, (cls, attr) in _NORMALIZERS.items():
        wrapper = _find(env, cls)
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
    for prefix, (cls, attr) in _NORMALIZERS.items():
        keys = [f"{prefix}_{stat}" for stat in _STATS]
        given = [key for key in keys if key in state]
        wrapper = _find(env, cls)
        if wrapper is None:
            if given:
                raise ValueError(f"State has {given} but the env has no {cls.__name__} wrapper.")
            continue
        missing = [key for key in keys if key not in state]
        if missing:
            raise ValueError(f"The env has a {cls.__name__} wrapper but the state lacks {missing}.")
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
        env: A vector env, possibly wrapped in ``NormalizeObservation`` and/or ``NormalizeReward``.
        frozen: ``True`` to freeze, ``False`` to resume updating.
    """
    while True:
        if isinstance(env, NormalizeObservation | NormalizeReward):
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

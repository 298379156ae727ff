"""Gymnasium spaces as JSON configs, TF specs and dummy batches.

Networks are saved as `.keras` files, whose configs must be JSON; these helpers turn the observation and
action spaces a model was built for into plain dicts and back, and give the `tf.TensorSpec`s used as
`tf.function` input signatures.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import tensorflow as tf

SUPPORTED_SPACES = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")


def _unsupported(space: Any, supported: tuple[str, ...] = SUPPORTED_SPACES) -> ValueError:
    return ValueError(f"Unsupported space {space!r}; supported spaces are: {', '.join(supported)}.")


def _encode_bound(bound: np.ndarray) -> Any:
    """A Box bound as JSON: one scalar when uniform (an 84x84x3 image needs one number), else a nested list.

    Infinities become the strings "inf"/"-inf" because JSON has no infinity.
    """

    def scalar(x: float | int) -> float | int | str:
        if isinstance(x, float) and not math.isfinite(x):
            return "inf" if x > 0 else "-inf"
        return x

    flat = bound.reshape(-1)
    if flat.size > 0 and np.all(flat == flat[0]):
        return scalar(flat[0].item())
    nested = bound.tolist()

    def walk(x: Any) -> Any:
        return [walk(v) for v in x] if isinstance(x, list) else scalar(x)

    return walk(nested)


def _decode_bound(value: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    def walk(x: Any) -> Any:
        if isinstance(x, list):
            return [walk(v) for v in x]
        return float(x) if isinstance(x, str) else x

    return np.broadcast_to(np.asarray(walk(value), dtype=dtype), shape).copy()


def space_to_config(space: gym.Space) -> dict[str, Any]:
    """Describes a space as a JSON-serializable dict.

    Args:
        space: A Box, Discrete, MultiDiscrete, MultiBinary, or a (nested) Dict or Tuple of these.

    Returns:
        A dict with a "type" key and the fields needed to rebuild the space with `space_from_config`.

    Raises:
        ValueError: If the space type is not supported.
    """
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": np.dtype(space.dtype).name,
            "low": _encode_bound(space.low),
            "high": _encode_bound(space.high),
        }
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": space.dtype.name}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "nvec": space.nvec.tolist(),
            "start": space.start.tolist(),
            "dtype": space.dtype.name,
        }
    if isinstance(space, gym.spaces.MultiBinary):
        n = space.n
        return {"type": "MultiBinary", "n": int(n) if np.isscalar(n) else [int(d) for d in n]}
    if isinstance(space, gym.spaces.Dict):
        # A list of pairs, not a mapping, so that no reader re-sorts the keys.
        return {"type": "Dict", "spaces": [[key, space_to_config(sub)] for key, sub in space.spaces.items()]}
    if isinstance(space, gym.spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_config(sub) for sub in space.spaces]}
    raise _unsupported(space)


def space_from_config(config: dict[str, Any]) -> gym.Space:
    """Rebuilds a space from `space_to_config` output.

    Args:
        config: A dict produced by `space_to_config` (possibly after a JSON round trip).

    Returns:
        The equivalent Gymnasium space.

    Raises:
        ValueError: If the "type" is not supported.
    """
    kind = config.get("type")
    if kind == "Box":
        shape = tuple(config["shape"])
        dtype = np.dtype(config["dtype"])
        low = _decode_bound(config["low"], shape, dtype)
        high = _decode_bound(config["high"], shape, dtype)
        return gym.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if kind == "Discrete":
        return gym.spaces.Discrete(
            config["n"], start=config.get("start", 0), dtype=config.get("dtype", "int64")
        )
    if kind == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(
            np.asarray(config["nvec"]), dtype=config.get("dtype", "int64"), start=config.get("start")
        )
    if kind == "MultiBinary":
        n = config["n"]
        return gym.spaces.MultiBinary(n if isinstance(n, int) else list(n))
    if kind == "Dict":
        return gym.spaces.Dict([(key, space_from_config(sub)) for key, sub in config["spaces"]])
    if kind == "Tuple":
        return gym.spaces.Tuple([space_from_config(sub) for sub in config["spaces"]])
    raise _unsupported(config)


def as_space(space_or_config: gym.Space | dict[str, Any]) -> gym.Space:
    """Accepts either a space or its config (what `from_config` passes) and returns the space."""
    if isinstance(space_or_config, gym.Space):
        return space_or_config
    return space_from_config(space_or_config)


def observation_spec(space: gym.Space) -> tf.TensorSpec | dict[str, Any] | tuple[Any, ...]:
    """The spec of a batch of observations as a Gymnasium vector env returns them.

    Args:
        space: The single-env observation space.

    Returns:
        `tf.TensorSpec([None, *space.shape], space.dtype)` (e.g. Discrete → int64 `[None]`, MultiBinary →
        int8), or a dict (Dict space) or tuple (Tuple space) of such specs, nested as the space is.

    Raises:
        ValueError: If the space type is not supported.
    """
    if isinstance(space, gym.spaces.Dict):
        return {key: observation_spec(sub) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(observation_spec(sub) for sub in space.spaces)
    if isinstance(
        space, gym.spaces.Box | gym.spaces.Discrete | gym.spaces.MultiDiscrete | gym.spaces.MultiBinary
    ):
        return tf.TensorSpec([None, *space.shape], tf.as_dtype(space.dtype))
    raise _unsupported(space)


def action_spec(space: gym.Space) -> tf.TensorSpec:
    """The spec of a batch of actions as the matching distribution samples them.

    Args:
        space: The single-env action space.

    Returns:
        Discrete → int32 `[None]`; MultiDiscrete → int32 `[None, D]`; MultiBinary → int32 `[None, n]`;
        Box → float32 `[None, d]`. Discrete actions are indices in `[0, n)`, not shifted by `space.start`.

    Raises:
        ValueError: If the space is unsupported or not one-dimensional.
    """
    if isinstance(space, gym.spaces.Discrete):
        return tf.TensorSpec([None], tf.int32)
    if isinstance(space, gym.spaces.MultiDiscrete | gym.spaces.MultiBinary | gym.spaces.Box):
        if len(space.shape) != 1:
            raise ValueError(f"Action space {space!r} must be one-dimensional, got shape {space.shape}.")
        dtype = tf.float32 if isinstance(space, gym.spaces.Box) else tf.int32
        return tf.TensorSpec([None, space.shape[0]], dtype)
    raise _unsupported(space, ("Box", "Discrete", "MultiDiscrete", "MultiBinary"))


def dummy_observation(space: gym.Space, batch_size: int) -> np.ndarray | dict[str, Any] | tuple[Any, ...]:
    """A batch of valid placeholder observations, e.g. to build a model.

    Args:
        space: The single-env observation space.
        batch_size: Leading batch dimension.

    Returns:
        Zeros clipped into the space (`space.low` where 0 is out of bounds, `start` for Discrete) with the
        dtype of `observation_spec`, or a dict / tuple of such arrays for a Dict / Tuple space.

    Raises:
        ValueError: If the space type is not supported.
    """
    if isinstance(space, gym.spaces.Dict):
        return {key: dummy_observation(sub, batch_size) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(dummy_observation(sub, batch_size) for sub in space.spaces)
    if isinstance(space, gym.spaces.Box):
        one = np.clip(np.zeros(space.shape), space.low, space.high)
    elif isinstance(space, gym.spaces.Discrete):
        one = np.asarray(space.start)
    elif isinstance(space, gym.spaces.MultiDiscrete):
        one = space.start
    elif isinstance(space, gym.spaces.MultiBinary):
        one = np.zeros(space.shape)
    else:
        raise _unsupported(space)
    return np.broadcast_to(one.astype(space.dtype), (batch_size, *space.shape)).copy()

"""Export a trained policy as a TensorFlow SavedModel that needs neither tfpg nor Gymnasium to run.

The exported ``tf.Module`` takes raw observations, exactly as the env returns them: the training env's
observation normalization (mean/variance and the clip) is baked in as constants, and Box actions come out
clipped to the action bounds, as the env receives them. Signatures:
    serving_default(observations) -> {"actions"}   deterministic (the distribution's mode)
    sample(observations)          -> {"actions"}   stochastic (a generator saved with the model)
    value(observations)           -> {"value"}     V(s)
Load with ``tf.saved_model.load(DIR).signatures["serving_default"](observations=obs)``.

A recurrent policy's signatures also take ``state`` [B, S] (float32) and ``episode_start`` [B] (bool: True
where ``observations`` is an episode's first; the state is zeroed first) and the action signatures return the
next ``state``; ``initial_state(batch)`` -> {"state"} gives the zeros to start from. Step it as the agent does:
``out = sig(observations=obs, state=state, episode_start=start); state = out["state"]``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import tensorflow as tf
from gymnasium.vector import VectorWrapper
from gymnasium.wrappers.vector import NormalizeObservation

from agents.run.building import Run


class ExportedPolicy(tf.Module):
    """A run's policy with its observation normalization baked in; see the module docstring."""

    def __init__(self, run: Run, seed: int = 0) -> None:
        super().__init__(name="tfpg_policy")
        raw_space = _raw_observation_space(run.env)
        if isinstance(raw_space, gym.spaces.Dict):
            raise ValueError(
                f"Export supports array observation spaces; {run.config.run.env_id} has a Dict space "
                f"({raw_space}). Use the checkpoint with tfpg instead."
            )
        self.model = run.policy.model
        self.generator = tf.random.Generator.from_seed(seed)
        self._distribution = run.policy.distribution
        self._input_dtype = run.policy.obs_spec.dtype
        self._normalization = _normalization_constants(run)
        action_space = run.policy.action_space
        self._action_bounds = (
            (tf.constant(action_space.low, tf.float32), tf.constant(action_space.high, tf.float32))
            if isinstance(action_space, gym.spaces.Box)
            else None
        )
        spec = tf.TensorSpec([None, *raw_space.shape], tf.as_dtype(raw_space.dtype), name="observations")
        self.recurrent = run.policy.recurrent
        signature = [spec]
        if self.recurrent:  # + the state before the step and where episodes start
            self.state_size = run.policy.state_size
            signature += [
                tf.TensorSpec([None, self.state_size], tf.float32, name="state"),
                tf.TensorSpec([None], tf.bool, name="episode_start"),
            ]
            self.initial_state = tf.function(
                self._initial_state, input_signature=[tf.TensorSpec([], tf.int32, name="batch")]
            )
        self.deterministic = tf.function(self._deterministic, input_signature=signature)
        self.sample = tf.function(self._sample, input_signature=signature)
        self.value = tf.function(self._value, input_signature=signature)

    def _inputs(self, obs: tf.Tensor) -> tf.Tensor:
        """Raw observations [B, ...] → what the network saw in training (Gymnasium's formula and dtypes)."""
        if self._normalization is None:
            return tf.cast(obs, self._input_dtype)
        mean, var, epsilon, low, high = self._normalization
        x = tf.cast((tf.cast(obs, tf.float64) - mean) / tf.sqrt(var + epsilon), tf.float32)
        return tf.cast(tf.clip_by_value(x, low, high), self._input_dtype)

    def _to_env(self, actions: tf.Tensor) -> dict[str, tf.Tensor]:
        if self._action_bounds is not None:
            actions = tf.clip_by_value(actions, *self._action_bounds)
        return {"actions": actions}

    def _actions(self, actions, out) -> dict[str, tf.Tensor]:
        result = self._to_env(actions)
        if self.recurrent:
            result["state"] = out["state"]
        return result

    def _deterministic(self, obs, *recurrent):
        out = self.model(self._inputs(obs), *recurrent, training=False)
        return self._actions(self._distribution.mode(out["policy"]), out)

    def _sample(self, obs, *recurrent):
        out = self.model(self._inputs(obs), *recurrent, training=False)
        return self._actions(self._distribution.sample(out["policy"], self.generator), out)

    def _value(self, obs, *recurrent):
        return {"value": self.model(self._inputs(obs), *recurrent, training=False)["value"]}

    def _initial_state(self, batch):
        return {"state": tf.zeros(tf.stack([batch, self.state_size]), tf.float32)}


def _raw_observation_space(env):
    """What the registered env returns, before tfpg's observation normalization (not ``env.unwrapped``'s: an
    env's own vector wrappers, e.g. tfpg/CartPoleNoVel-v1's hidden velocities, are part of it)."""
    inner = env
    while isinstance(inner, VectorWrapper):
        if isinstance(inner, NormalizeObservation):
            return inner.env.single_observation_space
        inner = inner.env
    return env.single_observation_space


def _normalization_constants(run: Run):
    """(mean, var, epsilon, clip low, clip high) of the training env's observation normalizer, or None."""
    state = run.normalization.state()
    if "obs_mean" not in state:
        return None
    env, epsilon = run.env, None
    while epsilon is None and isinstance(env, VectorWrapper):
        epsilon = env.epsilon if isinstance(env, NormalizeObservation) else None
        env = env.env
    space = run.policy.observation_space  # the clipped Box the normalizer's output is bounded to
    return (
        tf.constant(state["obs_mean"], tf.float64),
        tf.constant(state["obs_var"], tf.float64),
        tf.constant(float(epsilon), tf.float64),
        tf.constant(np.asarray(space.low, np.float32)),
        tf.constant(np.asarray(space.high, np.float32)),
    )


def export_saved_model(
    run: Run, out_dir: str | os.PathLike, seed: int = 0, metadata: dict | None = None
) -> Path:
    """Write the SavedModel into ``out_dir`` (which must not exist or be empty), atomically.

    Also writes ``out_dir/tfpg_export.json`` (env id, spaces, signatures, ``metadata``).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(
            f"{out_dir} already exists and is not empty; pick a new --out (nothing is overwritten)."
        )
    module = ExportedPolicy(run, seed)
    signatures = {
        "serving_default": module.deterministic.get_concrete_function(),
        "sample": module.sample.get_concrete_function(),
        "value": module.value.get_concrete_function(),
    }
    if module.recurrent:
        signatures["initial_state"] = module.initial_state.get_concrete_function()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        tf.saved_model.save(module, str(tmp), signatures=signatures)
        info = {
            "env_id": run.config.run.env_id,
            "algo": run.config.run.algo,
            "observation_space": str(_raw_observation_space(run.env)),
            "action_space": str(run.policy.action_space),
            "observation_normalization_baked_in": module._normalization is not None,
            "signatures": {
                "serving_default": "deterministic actions",
                "sample": "sampled actions",
                "value": "V(s)",
                **({"initial_state": "zeros [batch, state_size]"} if module.recurrent else {}),
            },
            **({"recurrent_state_size": module.state_size} if module.recurrent else {}),
            **(metadata or {}),
        }
        (tmp / "tfpg_export.json").write_text(json.dumps(info, indent=2) + "\n")
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir

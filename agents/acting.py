"""The acting side shared by every algorithm: network + action distribution + RNG, compiled once.

``Policy`` turns NumPy observations from a vector env into NumPy actions through ``tf.function``s whose
``input_signature`` has a free batch dimension, so each traces exactly once whatever the number of envs.
All sampling randomness comes from one ``tf.random.Generator`` that checkpoints with the agent.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.rollout import Rollout
from networks import ActorCritic, action_spec, observation_spec


def _cast_like(obs, spec):
    """NumPy observations in the dtype the compiled signature expects (normalizers return float64)."""
    if isinstance(spec, dict):
        return {key: np.asarray(obs[key], dtype=spec[key].dtype.as_numpy_dtype) for key in spec}
    return np.asarray(obs, dtype=spec.dtype.as_numpy_dtype)


class Policy:
    """Compiled acting functions around an ``ActorCritic`` model."""

    def __init__(
        self, model: ActorCritic, observation_space: gym.Space, action_space: gym.Space, seed: int
    ) -> None:
        self.model = model
        self.observation_space = observation_space
        self.action_space = action_space
        self.distribution = model.distribution
        self.generator = tf.random.Generator.from_seed(seed)
        self.obs_spec = observation_spec(observation_space)
        self.action_spec = action_spec(action_space)
        self.action_dtype = self.action_spec.dtype.as_numpy_dtype
        self._sample = tf.function(self._sample_graph, input_signature=[self.obs_spec])
        self._mode = tf.function(self._mode_graph, input_signature=[self.obs_spec])
        self._value = tf.function(self._value_graph, input_signature=[self.obs_spec])

    def _sample_graph(self, obs):
        out = self.model(obs, training=False)
        actions = self.distribution.sample(out["policy"], self.generator)
        return actions, self.distribution.log_prob(out["policy"], actions), out["value"]

    def _mode_graph(self, obs):
        return self.distribution.mode(self.model(obs, training=False)["policy"])

    def _value_graph(self, obs):
        return self.model(obs, training=False)["value"]

    def act(self, obs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sampled actions [N, ...], their log-probs [N] and values [N] for a batch of observations."""
        actions, log_probs, values = self._sample(_cast_like(obs, self.obs_spec))
        return actions.numpy(), log_probs.numpy(), values.numpy()

    def predict(self, obs, deterministic: bool = True) -> np.ndarray:
        """Actions only: the distribution's mode when deterministic, a sample otherwise."""
        if deterministic:
            return self._mode(_cast_like(obs, self.obs_spec)).numpy()
        return self.act(obs)[0]

    def value(self, obs) -> np.ndarray:
        """V(obs) [N]."""
        return self._value(_cast_like(obs, self.obs_spec)).numpy()

    def trace_counts(self) -> dict[str, int]:
        """How many times each compiled acting function has been traced (1 each after first use)."""
        return {
            "sample": self._sample.experimental_get_tracing_count(),
            "mode": self._mode.experimental_get_tracing_count(),
            "value": self._value.experimental_get_tracing_count(),
        }

    # --- batches for the learner -------------------------------------------------------------------------

    def batch_spec(self, batch_size: int) -> dict:
        """Fixed-shape signature of a flattened rollout batch of ``batch_size`` transitions."""

        def fixed(spec: tf.TensorSpec) -> tf.TensorSpec:
            return tf.TensorSpec([batch_size, *spec.shape[1:]], spec.dtype)

        scalar = tf.TensorSpec([batch_size], tf.float32)
        return {
            "observations": tf.nest.map_structure(fixed, self.obs_spec),
            "actions": fixed(self.action_spec),
            "log_probs": scalar,
            "values": scalar,
            "advantages": scalar,
            "returns": scalar,
            "valid": scalar,
        }

    def flatten_batch(self, rollout: Rollout, advantages: np.ndarray, returns: np.ndarray) -> dict:
        """[T, N, ...] rollout arrays → [T*N, ...] arrays matching ``batch_spec``."""

        def flat(x: np.ndarray) -> np.ndarray:
            return x.reshape(-1, *x.shape[2:])

        return {
            "observations": _cast_like(tf.nest.map_structure(flat, rollout.observations), self.obs_spec),
            "actions": flat(rollout.actions),
            "log_probs": flat(rollout.log_probs),
            "values": flat(rollout.values),
            "advantages": flat(advantages),
            "returns": flat(returns),
            "valid": flat(rollout.valid),
        }

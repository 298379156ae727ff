"""The acting side shared by every algorithm: network + action distribution + RNG, compiled once.

``Policy`` turns NumPy observations from a vector env into NumPy actions through ``tf.function``s whose
``input_signature`` has a free batch dimension, so each traces exactly once whatever the number of envs.
All sampling randomness comes from one ``tf.random.Generator`` that checkpoints with the agent.

``act``/``predict``/``value`` are the TF reference path. Rollouts act faster through ``rollout_actor``: a
NumPy snapshot of the current weights (see numpy_acting.py) plus the rollout's sampling noise, drawn from
the same generator in one compiled call. ``RolloutCollector`` takes that snapshot by itself when handed
``Policy.act``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.experience.rollout import Rollout
from networks import ActorCritic, action_spec, observation_spec
from networks import numpy_mirror as numpy_acting

_TINY = float(np.finfo(np.float32).tiny)  # as in networks/distributions.py: keeps log(u) finite


def _cast_like(obs, spec):
    """NumPy observations in the dtype the compiled signature expects (normalizers return float64)."""
    if isinstance(spec, dict):
        return {key: _cast_like(obs[key], spec[key]) for key in spec}
    if isinstance(spec, tuple):
        return tuple(_cast_like(part, part_spec) for part, part_spec in zip(obs, spec, strict=True))
    return np.asarray(obs, dtype=spec.dtype.as_numpy_dtype)


class RolloutActor:
    """Acts for one rollout from a NumPy snapshot of the policy, with noise drawn up front.

    ``act`` and ``value`` have the signatures of ``Policy.act`` / ``Policy.value``; only valid while the
    weights it was built from are unchanged (the collector builds one per rollout).
    """

    def __init__(
        self, policy: Policy, actor: numpy_acting.NumpyActor, noise: np.ndarray, num_steps: int, num_envs: int
    ):
        self._policy, self._actor = policy, actor
        self._shape = (num_steps, num_envs)
        self._noise = noise  # [T, N, width]
        self._t = 0

    def act(self, obs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._t == len(self._noise):  # asked for more steps than planned: draw another rollout's worth
            self._noise, self._t = self._policy.draw_noise(self._shape), 0
        noise = self._noise[self._t]  # [N, width]
        self._t += 1
        dist = self._actor.distribution
        params, values = self._actor.forward(_cast_like(obs, self._policy.obs_spec))
        actions = numpy_acting.sample(dist, params, noise).astype(self._policy.action_dtype)
        log_probs = numpy_acting.log_prob(dist, params, actions)
        return actions, log_probs.astype(np.float32), values.astype(np.float32)

    def value(self, obs) -> np.ndarray:
        return self._actor.forward(_cast_like(obs, self._policy.obs_spec))[1].astype(np.float32)


class Policy:
    """Compiled acting functions around an ``ActorCritic`` model.

    Attributes:
        numpy_acting: Let ``rollout_actor`` act from a NumPy snapshot (True, the default) or always use the
            TF path (False, e.g. to compare the two).
    """

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
        self._sample = tf.function(self._sample_graph, input_signature=[self.obs_spec], autograph=False)
        self._mode = tf.function(self._mode_graph, input_signature=[self.obs_spec], autograph=False)
        self._value = tf.function(self._value_graph, input_signature=[self.obs_spec], autograph=False)
        self.numpy_acting = True
        try:
            self._noise_kind = numpy_acting.noise_kind(self.distribution)
        except numpy_acting.Unsupported:
            self._noise_kind = None
        self._snapshot = tf.function(
            self._snapshot_graph, input_signature=[tf.TensorSpec([2], tf.int32)], autograph=False
        )
        self._staged = None  # (noise, weights) handed over by the learner's update; see stage_snapshot

    def _sample_graph(self, obs):
        out = self.model(obs, training=False)
        actions = self.distribution.sample(out["policy"], self.generator)
        return actions, self.distribution.log_prob(out["policy"], actions), out["value"]

    def _mode_graph(self, obs):
        return self.distribution.mode(self.model(obs, training=False)["policy"])

    def _value_graph(self, obs):
        return self.model(obs, training=False)["value"]

    def _noise_graph(self, shape):
        kind, width = self._noise_kind
        shape = tf.concat([shape, [width]], axis=0)
        if kind == "normal":
            return self.generator.normal(shape)
        if kind == "gumbel_uniform":  # as categorical_sample draws it
            return self.generator.uniform(shape, minval=_TINY, maxval=1.0)
        return self.generator.uniform(shape)

    def _snapshot_graph(self, shape):
        # One call per rollout fetches both the noise and every weight (each separate read costs ~100 µs).
        return self._noise_graph(shape), [tf.identity(v) for v in self.model.weights]

    def draw_noise(self, shape: tuple[int, int]) -> np.ndarray:
        """Sampling noise [T, N, width] for ``numpy_acting.sample``, from the checkpointed generator."""
        return self._snapshot(np.asarray(shape, np.int32))[0].numpy()

    def rollout_actor(self, num_steps: int, num_envs: int) -> RolloutActor | None:
        """A fast actor for the next ``num_steps`` vector steps, or None where only the TF path works."""
        staged, self._staged = self._staged, None
        if not self.numpy_acting or self._noise_kind is None:
            return None
        if staged is not None and tuple(staged[0].shape[:2]) == (num_steps, num_envs):
            noise, weights = staged
        else:
            noise, weights = self._snapshot(np.asarray((num_steps, num_envs), np.int32))
        actor = numpy_acting.NumpyActor.from_model(self.model, [w.numpy() for w in weights])
        if actor is None:
            return None
        return RolloutActor(self, actor, noise.numpy(), num_steps, num_envs)

    def snapshot_outputs(self, num_steps: int, num_envs: int):
        """For an agent's compiled update, after its optimizer step: the next rollout's noise [T, N, width]
        and the updated weights, or None where this policy cannot act from NumPy.

        Returned by the update and handed to ``stage_snapshot``, they spare every rollout a TF call of its
        own (~0.3-0.5 ms; A2C collects 2,500 rollouts per 100k steps). The draw comes from the same generator
        and in the same order as ``rollout_actor``'s own would.
        """
        if self._noise_kind is None:
            return None
        return self._snapshot_graph(tf.constant([num_steps, num_envs], tf.int32))

    def stage_snapshot(self, snapshot) -> None:
        """Keep ``snapshot_outputs``' result for the next ``rollout_actor`` call (used once, if its shape fits).

        Valid only while the weights are those it holds: agents stage it right after their own update, and
        ``drop_staged`` forgets it when weights change another way (a checkpoint restore).
        """
        self._staged = snapshot

    def drop_staged(self) -> None:
        """Forget a staged snapshot (the weights changed outside the agent's update)."""
        self._staged = None

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
        """How many times each compiled acting function has been traced (at most 1 each, ever)."""
        return {
            "sample": self._sample.experimental_get_tracing_count(),
            "mode": self._mode.experimental_get_tracing_count(),
            "value": self._value.experimental_get_tracing_count(),
            "snapshot": self._snapshot.experimental_get_tracing_count(),
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

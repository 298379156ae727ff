"""The acting side: a ``Policy`` maps observations to actions, and gives the collector one ``Actor`` per rollout.

``Policy`` holds the ``ActorCritic`` network, its action distribution and the sampling ``tf.random.Generator``
(checkpointed with the agent). Its compiled TF functions (``act``/``predict``/``value``; free batch dimension,
each traced once) are the reference path, used by evaluation and wherever no NumPy mirror exists.

The seam with the learner is a ``Snapshot``: the weights after an update plus the sampling noise of the next
rollout, both produced inside the learner's compiled update (``Policy.snapshot_graph``) so that no extra TF
call happens per rollout. ``Policy.actor(snapshot, T, N)`` turns it into an actor, choosing the path once and
explicitly (``networks.numpy_mirror.mirror_support``):
    ``MirrorActor``  acts from a NumPy copy of the snapshot's weights with the noise drawn up front (fast: one
                     TF call costs more than a small MLP's whole forward pass in NumPy);
    ``TFActor``      calls the compiled TF sampler (image encoders and anything else the mirror lacks).
The collector only calls ``act`` and ``finish``; it never looks inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.experience.schema import ArraySpec, rollout_schema
from networks import ActorCritic, action_spec, observation_spec
from networks.numpy_mirror import MirroredDistribution, mirror, mirror_support

_TINY = float(np.finfo(np.float32).tiny)  # as in networks/distributions.py: keeps log(u) finite


class Actor(Protocol):
    """Acts for one rollout of a vector env; returns the schema's "actor" fields as NumPy arrays."""

    def act(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        """Per-step fields for the N envs (at least actions, log_probs, values).

        ``episode_start`` [N] bool is True where ``obs`` is the first observation of an episode.
        """
        ...

    def finish(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        """Per-env fields after the last step (at least last_values: V of the next observation)."""
        ...


@dataclass
class Snapshot:
    """What the learner hands the acting side after an update: all it needs to act as the learner would."""

    weights: list[np.ndarray]
    """``model.weights`` as arrays, in order."""
    noise: np.ndarray | None = None
    """[T, N, width] sampling noise of the next rollout, from the policy's generator (None: draw it later)."""

    @classmethod
    def from_outputs(cls, outputs: dict) -> Snapshot:
        """From ``Policy.snapshot_graph``'s tensors as a compiled update returned them."""
        noise = outputs.get("noise")
        return cls([w.numpy() for w in outputs["weights"]], None if noise is None else noise.numpy())


def _cast_like(obs, spec):
    """NumPy observations in the dtype the compiled signature expects (normalizers return float64)."""
    if isinstance(spec, dict):
        return {key: np.asarray(obs[key], dtype=spec[key].dtype.as_numpy_dtype) for key in spec}
    return np.asarray(obs, dtype=spec.dtype.as_numpy_dtype)


class Policy:
    """Compiled acting functions around an ``ActorCritic`` model, and the actors of its rollouts.

    Attributes:
        schema: the rollout schema of this policy's rollouts (observation and action specs included).
        mirror_reason: None when rollouts act through the NumPy mirror, else why they use the TF path.
        use_mirror: act from the NumPy mirror when it exists (True) or always through TF (False, e.g. to
            compare the two).
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
        self.schema = rollout_schema(
            observation_space, ArraySpec(self.action_spec.shape[1:], self.action_dtype)
        )
        self.mirror_reason = mirror_support(model)
        self.use_mirror = self.mirror_reason is None
        self._noise_kind = MirroredDistribution(self.distribution).noise_kind if self.use_mirror else None
        self._sample = tf.function(self._sample_graph, input_signature=[self.obs_spec], autograph=False)
        self._mode = tf.function(self._mode_graph, input_signature=[self.obs_spec], autograph=False)
        self._value = tf.function(self._value_graph, input_signature=[self.obs_spec], autograph=False)
        self._snapshot = tf.function(
            self._snapshot_graph, input_signature=[tf.TensorSpec([2], tf.int32)], autograph=False
        )

    # --- the TF reference path ---------------------------------------------------------------------------

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

    # --- snapshots and rollout actors --------------------------------------------------------------------

    def snapshot_graph(self, num_steps, num_envs) -> dict:
        """Inside a compiled update, after its optimizer step: the updated weights and, for the NumPy mirror,
        the next rollout's noise [T, N, width] (``Snapshot.from_outputs`` reads them).

        Drawing both in the update spares every rollout a TF call of its own (~0.3-0.5 ms; A2C collects 2,500
        rollouts per 100k steps). The draw comes from the policy's generator, as ``snapshot``'s own would.
        """
        return self._snapshot_graph(tf.stack([num_steps, num_envs]))

    def _snapshot_graph(self, shape) -> dict:
        # One call fetches every weight (each separate read costs ~100 µs) and the noise.
        outputs = {"weights": [tf.identity(v) for v in self.model.weights]}
        if self._noise_kind is not None:
            outputs["noise"] = self._noise_graph(shape)
        return outputs

    def _noise_graph(self, shape):
        kind, width = self._noise_kind
        shape = tf.concat([shape, [width]], axis=0)
        if kind == "normal":
            return self.generator.normal(shape)
        if kind == "gumbel_uniform":  # as categorical_sample draws it
            return self.generator.uniform(shape, minval=_TINY, maxval=1.0)
        return self.generator.uniform(shape)

    def snapshot(self, num_steps: int, num_envs: int) -> Snapshot:
        """The current weights and a rollout's noise in one TF call (when no update has handed one over)."""
        return Snapshot.from_outputs(self._snapshot(np.asarray((num_steps, num_envs), np.int32)))

    def actor(self, snapshot: Snapshot | None, num_steps: int, num_envs: int) -> Actor:
        """The actor for the next ``num_steps`` vector steps of ``num_envs`` envs.

        ``snapshot`` must hold the model's current weights (the update that produced them, or ``None`` to take
        them now).
        """
        if not self.use_mirror:
            return TFActor(self)
        if snapshot is None or snapshot.noise is None or snapshot.noise.shape[:2] != (num_steps, num_envs):
            snapshot = self.snapshot(num_steps, num_envs)
        network, distribution = mirror(self.model, snapshot.weights)
        return MirrorActor(self, network, distribution, snapshot.noise)

    def trace_counts(self) -> dict[str, int]:
        """How many times each compiled acting function has been traced (at most 1 each, ever)."""
        return {
            "sample": self._sample.experimental_get_tracing_count(),
            "mode": self._mode.experimental_get_tracing_count(),
            "value": self._value.experimental_get_tracing_count(),
            "snapshot": self._snapshot.experimental_get_tracing_count(),
        }


class MirrorActor:
    """Acts from a NumPy mirror of a snapshot, with the rollout's noise drawn up front."""

    def __init__(self, policy: Policy, network, distribution, noise: np.ndarray) -> None:
        self._policy = policy
        self._network, self._distribution = network, distribution
        self._noise = noise  # [T, N, width]
        self._t = 0

    def act(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        if self._t == len(self._noise):  # asked for more steps than planned: draw another rollout's worth
            self._noise, self._t = self._policy.snapshot(*self._noise.shape[:2]).noise, 0
        noise = self._noise[self._t]  # [N, width]
        self._t += 1
        params, values = self._network.forward(_cast_like(obs, self._policy.obs_spec))
        actions = self._distribution.sample(params, noise).astype(self._policy.action_dtype)
        log_probs = self._distribution.log_prob(params, actions)
        return {"actions": actions, "log_probs": log_probs, "values": values}

    def finish(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        return {"last_values": self._network.forward(_cast_like(obs, self._policy.obs_spec))[1]}


class TFActor:
    """Acts through the policy's compiled TF functions (the live model holds the snapshot's weights)."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def act(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        actions, log_probs, values = self._policy.act(obs)
        return {"actions": actions, "log_probs": log_probs, "values": values}

    def finish(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        return {"last_values": self._policy.value(obs)}

"""The acting side: a ``Policy`` maps observations to actions, and gives the collector one ``Actor`` per rollout.

``Policy`` holds the ``ActorCritic`` network, its action distribution and the sampling ``tf.random.Generator``
(checkpointed with the agent). Its compiled TF functions (``act``/``predict``/``value``; free batch dimension,
each traced once) are the reference path, used by evaluation and wherever no NumPy mirror exists.

The seam with the learner is a ``Snapshot``: the weights after an update plus the sampling noise of the next
rollout, both produced inside the learner's compiled update (``Policy.snapshot_graph``) so that no extra TF
call happens per rollout. ``Policy.actor(snapshot, T, N)`` turns it into an actor, choosing the path once and
explicitly (``networks.numpy_mirror.mirror_support``; the actors are in agents/experience/actors.py):
    ``MirrorActor``  acts from a NumPy copy of the snapshot's weights with the noise drawn up front (fast: one
                     TF call costs more than a small MLP's whole forward pass in NumPy);
    ``TFActor``      calls the compiled TF sampler (image encoders and anything else the mirror lacks).
The collector only calls ``act`` and ``finish``; it never looks inside.

Action masking (``action_masks``, see agents/experience/masks.py): both actors read the env's mask off each
step's ``info``, sample only valid actions with it and return it as the per-step field ``action_mask``, which
``Policy`` adds to its schema; the learner's ``evaluate_actions`` then uses that behaviour-time mask. The
compiled TF functions take the mask as a second input (fixed signature, traced once).

A recurrent policy (an ``ActorCritic`` with an LSTM/GRU core) carries one state [N, S] per env from step to step
and from one rollout's actor to the next (``StateCarry``, held by the policy), zeroed where ``episode_start`` is
True (the core does it before the step reads the state). Its schema adds two fields (``recurrent_fields``): the
collector's ``episode_starts`` [T, N] and the actor's ``initial_states`` [N, S] (the state before row 0, from
``finish``), from which the update replays each env's sequence. In-flight states are not checkpointed, like the
envs: a resumed run starts new episodes from zero states.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.experience.actors import Actor, MirrorActor, StateCarry, TFActor, cast_like, num_envs
from agents.experience.masks import ActionMasks
from agents.experience.schema import ArraySpec, Field, rollout_schema
from networks import ActorCritic, action_spec, observation_spec
from networks.numpy_cores import one_blas_thread
from networks.numpy_distributions import MirroredDistribution
from networks.numpy_mirror import mirror, mirror_support

_TINY = float(np.finfo(np.float32).tiny)  # as in networks/distribution_math.py: keeps log(u) finite


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


def recurrent_fields(state_size: int) -> tuple[Field, Field]:
    """The two fields a recurrent policy's rollouts add: where episodes start, and each env's initial state."""
    return (
        # True where the observation is an episode's first (the core zeroes the state before reading it).
        Field("episode_starts", ArraySpec((), bool), source="env"),
        # The carried state before row 0 (before row 0's own reset, if any): where the update's replay starts.
        Field("initial_states", ArraySpec((state_size,), np.float32), per_step=False),
    )


class Policy:
    """Compiled acting functions around an ``ActorCritic`` model, and the actors of its rollouts.

    Attributes:
        schema: the rollout schema of this policy's rollouts (observation and action specs included).
        mirror_reason: None when rollouts act through the NumPy mirror, else why they use the TF path.
        use_mirror: act from the NumPy mirror when it exists (True) or always through TF (False, e.g. to
            compare the two).
        action_masks: reads each step's action mask from the env's info (None: no masking).
    """

    def __init__(
        self,
        model: ActorCritic,
        observation_space: gym.Space,
        action_space: gym.Space,
        seed: int,
        action_masks: ActionMasks | None = None,
    ) -> None:
        self.model = model
        self.observation_space = observation_space
        self.action_space = action_space
        self.distribution = model.distribution
        self.generator = tf.random.Generator.from_seed(seed)
        self.obs_spec = observation_spec(observation_space)
        self.obs_dtypes = tf.nest.map_structure(
            lambda spec: np.dtype(spec.dtype.as_numpy_dtype), self.obs_spec
        )
        """``obs_spec``'s dtypes as NumPy dtypes (``cast_like`` takes them; looked up once, not per step)."""
        self.action_spec = action_spec(action_space)
        self.action_dtype = self.action_spec.dtype.as_numpy_dtype
        self.schema = rollout_schema(
            observation_space, ArraySpec(self.action_spec.shape[1:], self.action_dtype)
        )
        self.action_masks = action_masks
        self.recurrent = bool(getattr(model, "is_recurrent", False))
        self.state_size = model.state_size if self.recurrent else 0
        self._carry: StateCarry | None = None  # the rollouts' envs' states, handed from actor to actor
        mask_spec, recurrent_spec = [], []  # the compiled functions' extra inputs after the observations
        if action_masks is not None:
            # The env's mask at acting time, bool [size] per env and step; the update evaluates under it.
            self.schema = self.schema.extend(Field("action_mask", ArraySpec((action_masks.size,), bool)))
            mask_spec = [tf.TensorSpec([None, action_masks.size], tf.bool)]
        if self.recurrent:
            self.schema = self.schema.extend(*recurrent_fields(self.state_size))
            # state [N, S] before the step and episode_start [N]
            recurrent_spec = [
                tf.TensorSpec([None, self.state_size], tf.float32),
                tf.TensorSpec([None], tf.bool),
            ]
        self.mirror_reason = mirror_support(model)
        self.use_mirror = self.mirror_reason is None
        self._noise_kind = MirroredDistribution(self.distribution).noise_kind if self.use_mirror else None
        if self.recurrent and self.use_mirror:
            one_blas_thread()  # a core's matmuls are big enough for OpenBLAS to spawn threads (numpy_cores.py)
        signature = [self.obs_spec, *mask_spec, *recurrent_spec]
        self._sample = tf.function(self._sample_graph, input_signature=signature, autograph=False)
        self._mode = tf.function(self._mode_graph, input_signature=signature, autograph=False)
        self._value = tf.function(
            self._value_graph, input_signature=[self.obs_spec, *recurrent_spec], autograph=False
        )
        self._snapshot = tf.function(
            self._snapshot_graph, input_signature=[tf.TensorSpec([2], tf.int32)], autograph=False
        )

    # --- the TF reference path ---------------------------------------------------------------------------

    # The compiled functions take (obs, [mask], [state, episode_start]): the mask when masking is on, the
    # state and episode starts for a recurrent model, which also returns the state after the step last.

    def _split(self, extra: tuple) -> tuple:
        """(mask or None, recurrent inputs ()/(state, episode_start)) from the compiled functions' extras."""
        if self.action_masks is None:
            return None, extra
        return extra[0], extra[1:]

    def _sample_graph(self, obs, *extra):
        mask, recurrent = self._split(extra)
        out = self.model(obs, *recurrent, training=False)
        actions = self.distribution.sample(out["policy"], self.generator, mask)
        state = (out["state"],) if recurrent else ()
        return actions, self.distribution.log_prob(out["policy"], actions, mask), out["value"], *state

    def _mode_graph(self, obs, *extra):
        mask, recurrent = self._split(extra)
        out = self.model(obs, *recurrent, training=False)
        mode = self.distribution.mode(out["policy"], mask)
        return (mode, out["state"]) if recurrent else mode

    def _value_graph(self, obs, *recurrent):
        return self.model(obs, *recurrent, training=False)["value"]

    def _mask_inputs(self, action_mask) -> tuple:
        """() without masking; else (mask bool [N, size],), which must then be given."""
        if self.action_masks is None:
            return ()
        if action_mask is None:
            raise ValueError(
                f"This policy masks actions (action_mask={self.action_masks.source}): pass the env's "
                f"info (or action_mask, bool [N, {self.action_masks.size}]) with the observations."
            )
        return (np.asarray(action_mask, bool),)

    def _recurrent_inputs(self, obs, state, episode_start) -> tuple:
        """() for a feed-forward policy; else (state, episode_start) as NumPy, defaults filled in.

        ``state=None`` is every env at an episode start: zeros, and ``episode_start`` all True unless given.
        """
        if not self.recurrent:
            if state is not None:
                raise ValueError(
                    "A feed-forward policy takes no state; recurrent=none in its network config."
                )
            return ()
        n = len(tf.nest.flatten(obs)[0])
        if state is None:
            state = np.zeros((n, self.state_size), np.float32)
            episode_start = np.ones(n, bool) if episode_start is None else episode_start
        elif episode_start is None:
            episode_start = np.zeros(n, bool)
        state = np.asarray(state, np.float32)
        if state.shape != (n, self.state_size):
            raise ValueError(
                f"state must be [{n}, {self.state_size}] (batch, state_size) for {n} observations, "
                f"got {state.shape}; start from policy.initial_state({n})."
            )
        return state, np.asarray(episode_start, bool).reshape(n)

    def _inputs(self, obs, action_mask, state, episode_start) -> list:
        """The compiled sample/mode functions' arguments (see ``_split``)."""
        return [
            cast_like(obs, self.obs_dtypes),
            *self._mask_inputs(action_mask),
            *self._recurrent_inputs(obs, state, episode_start),
        ]

    def initial_state(self, num_envs: int) -> np.ndarray:
        """Zeros [num_envs, state_size] (state_size 0 for a feed-forward policy): the state at episode starts."""
        return np.zeros((num_envs, self.state_size), np.float32)

    def action_mask(self, obs, info: dict | None, where: str) -> np.ndarray | None:
        """The env's action mask bool [N, size] for ``obs`` from its step's ``info`` (None without masking)."""
        if self.action_masks is None or info is None:
            return None
        return self.action_masks(info, num_envs(obs), where)

    def act(
        self, obs, action_mask: np.ndarray | None = None, state=None, episode_start=None
    ) -> tuple[np.ndarray, ...]:
        """Sampled actions [N, ...], their log-probs [N] and values [N] for a batch of observations.

        ``action_mask`` (bool [N, size], True = valid) is required when the policy masks actions. A recurrent
        policy also takes ``state`` [N, S] and ``episode_start`` [N] (see ``_recurrent_inputs`` for the
        defaults) and returns the state after the step as a fourth array.
        """
        outputs = self._sample(*self._inputs(obs, action_mask, state, episode_start))
        return tuple(x.numpy() for x in outputs)

    def predict(
        self,
        obs,
        deterministic: bool = True,
        info: dict | None = None,
        action_mask: np.ndarray | None = None,
        state=None,
        episode_start=None,
    ):
        """Actions only: the distribution's mode when deterministic, a sample otherwise.

        A masking policy needs the valid actions: ``action_mask`` (bool [N, size]) or the ``info`` of the env
        step that returned ``obs`` (the mask is read from it as in training). A recurrent policy returns
        ``(actions, state)``; see ``act`` for its extra arguments.
        """
        if action_mask is None:
            action_mask = self.action_mask(obs, info, "a prediction step")
        if not deterministic:
            out = self.act(obs, action_mask, state, episode_start)
            return (out[0], out[3]) if self.recurrent else out[0]
        out = self._mode(*self._inputs(obs, action_mask, state, episode_start))
        return (out[0].numpy(), out[1].numpy()) if self.recurrent else out.numpy()

    def value(self, obs, state=None, episode_start=None) -> np.ndarray:
        """V(obs) [N] (a recurrent policy: given ``state`` and ``episode_start``, as in ``act``)."""
        inputs = self._recurrent_inputs(obs, state, episode_start)
        return self._value(cast_like(obs, self.obs_dtypes), *inputs).numpy()

    def predictor(self, num_envs: int, deterministic: bool = True):
        """``predict(obs, episode_start, info=None) -> actions`` for ``num_envs`` envs of their own (evaluation,
        videos); ``info`` is the env's info of the step that returned ``obs`` (a masking policy reads its mask).

        A recurrent policy's predictor keeps those envs' states, apart from the training rollouts' states.
        """
        if not self.recurrent:
            return lambda obs, episode_start, info=None: self.predict(obs, deterministic, info)
        carry = StateCarry(num_envs, self.state_size)

        def predict(obs, episode_start, info=None):
            actions, carry.state = self.predict(
                obs, deterministic, info, state=carry.state, episode_start=episode_start
            )
            return actions

        return predict

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
        carry = None
        if self.recurrent:  # the same envs' states go on from the previous rollout's actor
            if self._carry is None or len(self._carry.state) != num_envs:
                self._carry = StateCarry(num_envs, self.state_size)
            carry = self._carry
        if not self.use_mirror:
            return TFActor(self, carry)
        if snapshot is None or snapshot.noise is None or snapshot.noise.shape[:2] != (num_steps, num_envs):
            snapshot = self.snapshot(num_steps, num_envs)
        network, distribution = mirror(self.model, snapshot.weights)
        return MirrorActor(self, network, distribution, snapshot.noise, carry)

    def trace_counts(self) -> dict[str, int]:
        """How many times each compiled acting function has been traced (at most 1 each, ever)."""
        return {
            "sample": self._sample.experimental_get_tracing_count(),
            "mode": self._mode.experimental_get_tracing_count(),
            "value": self._value.experimental_get_tracing_count(),
            "snapshot": self._snapshot.experimental_get_tracing_count(),
        }

"""The actor-critic network: observations → {"policy": distribution params, "value": V(s)}.

Separate policy and value networks (the default) follow the PPO paper's continuous-control setup (Schulman
et al., 2017); a shared trunk follows its Atari setup. The network returns raw outputs only; sampling and
log-probs go through `model.distribution` (see distributions.py).

With a recurrent core (``recurrent="lstm"|"gru"``, cores.py) each trunk is encoder → core → MLP, as in
sb3-contrib's RecurrentActorCriticPolicy, and the state is an explicit input and output: ``model(obs, state,
episode_start)`` acts one step, ``model.sequence(...)`` replays [B, T] sequences for the update. The value
trunk has its own core (``critic_core="own"``, sb3-contrib's default ``enable_critic_lstm``), reads the policy
core's output (``"shared"``) or has none (``"none"``, a feed-forward critic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import keras
import tensorflow as tf

from networks.cores import make_core
from networks.distributions import make_distribution
from networks.encoders import make_encoder
from networks.heads import ValueHead, make_policy_head
from networks.layers import MLP, build_chain
from networks.spaces import as_space, observation_spec, space_to_config

CRITIC_CORES = ("own", "shared", "none")


@keras.saving.register_keras_serializable(package="tfpg")
class ActorCritic(keras.Model):
    """Policy and value network for one observation space and one action space.

    The model is built in `__init__` (its input shapes follow from the observation space), so its
    variables exist before the first call, e.g. for an optimizer or a checkpoint.

    Args:
        observation_space: The single-env observation space, or its `space_to_config` dict.
        action_space: The single-env action space, or its `space_to_config` dict.
        hidden_sizes: Hidden layer widths of each MLP trunk.
        activation: Keras activation name of the MLP trunks.
        share_trunk: If True, one encoder + MLP feeds both heads; if False, the policy and the value
            each have their own encoder + MLP.
        log_std_init: Initial log_std of a Gaussian policy (Box actions).
        squash_actions: Box actions from a tanh-squashed Gaussian inside the bounds (else a Gaussian
            whose samples the env clips).
        state_dependent_std: The Gaussian's log_std is a function of the state (else a free vector).
        cnn: Image encoder architecture (`networks.encoders.CONV_ARCHITECTURES` key, or "auto").
        channels: Image channel axis: "first", "last" or "auto" (see `networks.encoders.image_layout`).
        recurrent: "none" (feed-forward), "lstm" or "gru": a core between each encoder and its MLP.
        recurrent_size: Hidden units of each core.
        critic_core: With separate trunks and a core: the value trunk's own core ("own"), the policy core's
            output with its gradient stopped ("shared", as sb3-contrib's shared_lstm), or no core ("none").
            With ``share_trunk`` the one trunk, core included, serves both heads.
        **kwargs: Base `keras.Model` arguments (name, ...).

    Attributes:
        distribution: `make_distribution(action_space)`, which reads the "policy" output.
        state_size: Width S of the recurrent state [B, S] (policy core's, then value core's); 0 if none.
    """

    def __init__(
        self,
        observation_space: gym.Space | dict[str, Any],
        action_space: gym.Space | dict[str, Any],
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "tanh",
        share_trunk: bool = False,
        log_std_init: float = 0.0,
        squash_actions: bool = False,
        state_dependent_std: bool = False,
        cnn: str = "auto",
        channels: str = "auto",
        recurrent: str = "none",
        recurrent_size: int = 256,
        critic_core: str = "own",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.observation_space = as_space(observation_space)
        self.action_space = as_space(action_space)
        self.hidden_sizes = tuple(int(units) for units in hidden_sizes)
        self.activation = activation
        self.share_trunk = bool(share_trunk)
        self.log_std_init = float(log_std_init)
        self.squash_actions = bool(squash_actions)
        self.state_dependent_std = bool(state_dependent_std)
        self.cnn, self.channels = cnn, channels
        self.recurrent = recurrent
        self.recurrent_size = int(recurrent_size)
        if critic_core not in CRITIC_CORES:
            raise ValueError(f"critic_core must be one of {CRITIC_CORES}, got {critic_core!r}.")
        self.critic_core = critic_core
        self.distribution = make_distribution(self.action_space, squash=self.squash_actions)

        # With a shared trunk the "policy" encoder/MLP is the only trunk and also feeds the value head.
        self.policy_encoder = make_encoder(
            self.observation_space, name="policy_encoder", cnn=cnn, channels=channels
        )
        self.policy_core = make_core(recurrent, self.recurrent_size, name="policy_core")
        self.policy_mlp = MLP(self.hidden_sizes, activation, name="policy_mlp")
        self.value_encoder = None
        self.value_core = None
        self.value_mlp = None
        # The value trunk reads the policy core's output when it shares the core ("shared").
        self.value_reads_policy_core = self.policy_core is not None and critic_core == "shared"
        if not self.share_trunk:
            if not self.value_reads_policy_core:
                self.value_encoder = make_encoder(
                    self.observation_space, name="value_encoder", cnn=cnn, channels=channels
                )
            if critic_core == "own":
                self.value_core = make_core(recurrent, self.recurrent_size, name="value_core")
            self.value_mlp = MLP(self.hidden_sizes, activation, name="value_mlp")
        self.policy_head = make_policy_head(
            self.action_space,
            self.log_std_init,
            name="policy_head",
            state_dependent_std=self.state_dependent_std,
        )
        self.value_head = ValueHead(name="value_head")

        spec = observation_spec(self.observation_space)
        self.build(tf.nest.map_structure(lambda s: tuple(s.shape), spec))

    @property
    def is_recurrent(self) -> bool:
        return self.policy_core is not None

    @property
    def state_size(self) -> int:
        return sum(core.state_size for core in self._cores())

    def _cores(self) -> list:
        return [core for core in (self.policy_core, self.value_core) if core is not None]

    def initial_state(self, batch_size: int) -> tf.Tensor:
        """Zeros [batch_size, state_size]: every env's state at an episode start."""
        return tf.zeros([batch_size, self.state_size], tf.float32)

    def build(self, input_shape) -> None:
        policy_chain = [self.policy_encoder, *self._core_chain(self.policy_core), self.policy_mlp]
        trunk_shape = build_chain(policy_chain, input_shape)
        build_chain([self.policy_head], trunk_shape)
        if not self.share_trunk:
            if self.value_reads_policy_core:
                core_shape = (None, self.policy_core.units)
                trunk_shape = build_chain([self.value_mlp], core_shape)
            else:
                value_chain = [self.value_encoder, *self._core_chain(self.value_core), self.value_mlp]
                trunk_shape = build_chain(value_chain, input_shape)
        build_chain([self.value_head], trunk_shape)

    @staticmethod
    def _core_chain(core) -> list:
        # build_chain needs a layer with one output shape; a core's first output is its features.
        return [] if core is None else [_FeaturesOf(core)]

    def call(self, obs, state=None, episode_start=None, training=None) -> dict[str, tf.Tensor]:
        """Maps a batch of observations (one step per env) to raw outputs.

        Args:
            obs: [B, *obs_shape] tensor, or a dict of them for a Dict space, with `observation_spec` dtypes.
            state: Recurrent models only: [B, state_size] float32, the state before this step (None, with
                episode_start None: every row starts an episode).
            episode_start: Recurrent models only: [B] bool or float, 1 where obs starts an episode (the
                state is zeroed first).
            training: Unused; kept for the Keras signature.

        Returns:
            {"policy": [B, P] float32 distribution params, "value": [B] float32}, plus "state" [B, S] (the
            state after this step) for a recurrent model.
        """
        if not self.is_recurrent:
            policy_features = self.policy_mlp(self.policy_encoder(obs))  # [B, hidden_sizes[-1]]
            # A Python branch on a config flag: each model traces only one of the two paths.
            value_features = policy_features if self.share_trunk else self.value_mlp(self.value_encoder(obs))
            return {"policy": self.policy_head(policy_features), "value": self.value_head(value_features)}
        if state is None and episode_start is None:  # every row starts an episode (also Keras's save trace)
            batch = tf.shape(tf.nest.flatten(obs)[0])[0]
            state, episode_start = self.initial_state(batch), tf.ones([batch], tf.bool)
        self._check_state(state, episode_start)
        return self._recurrent_forward(obs, state, episode_start, sequence_shape=None)

    def sequence(self, obs, state, episode_start) -> dict[str, tf.Tensor]:
        """Replays sequences through a recurrent model (the update's call).

        Args:
            obs: [B, T, *obs_shape] (or a dict of them), B sequences of T steps.
            state: [B, state_size] float32, each sequence's state before its first step.
            episode_start: [B, T] bool or float, 1 where a step starts an episode (state zeroed first).

        Returns:
            {"policy": [B, T, P], "value": [B, T], "state": [B, S] after the last step}.
        """
        self._check_state(state, episode_start)
        first = tf.nest.flatten(obs)[0]
        sequence_shape = tf.shape(first)[:2]  # [B, T]
        flat_obs = tf.nest.map_structure(lambda x: tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0)), obs)
        return self._recurrent_forward(flat_obs, state, episode_start, sequence_shape)

    def _check_state(self, state, episode_start) -> None:
        if not self.is_recurrent:
            raise ValueError("sequence() and state inputs need a recurrent model (recurrent='lstm'|'gru').")
        if state is None or episode_start is None:
            raise ValueError(
                "A recurrent ActorCritic needs state [B, state_size] and episode_start; "
                "use model.initial_state(B) and all-True episode_start at the first step."
            )

    def _recurrent_forward(self, flat_obs, state, episode_start, sequence_shape):
        """Encoder → core → MLP → heads; obs [B*T, ...] flat when ``sequence_shape`` = [B, T], else [B, ...]."""
        policy_size = self.policy_core.state_size
        policy_state, value_state = state[:, :policy_size], state[:, policy_size:]

        def through_core(encoder, core, core_state):
            features = encoder(flat_obs)  # [B*T, F] or [B, F]
            if sequence_shape is not None:
                features = tf.reshape(features, tf.concat([sequence_shape, [-1]], 0))  # [B, T, F]
            out, new_state = core(features, core_state, episode_start)
            if sequence_shape is not None:
                out = tf.reshape(out, [-1, core.units])  # [B*T, H]
            return out, new_state

        policy_out, policy_state = through_core(self.policy_encoder, self.policy_core, policy_state)
        policy_features = self.policy_mlp(policy_out)
        new_states = [policy_state]
        if self.share_trunk:
            value_features = policy_features
        elif self.value_reads_policy_core:
            value_features = self.value_mlp(tf.stop_gradient(policy_out))
        elif self.value_core is not None:
            value_out, value_state = through_core(self.value_encoder, self.value_core, value_state)
            value_features = self.value_mlp(value_out)
            new_states.append(value_state)
        else:
            value_features = self.value_mlp(self.value_encoder(flat_obs))
        outputs = {"policy": self.policy_head(policy_features), "value": self.value_head(value_features)}
        if sequence_shape is not None:
            outputs = {
                key: tf.reshape(x, tf.concat([sequence_shape, tf.shape(x)[1:]], 0))
                for key, x in outputs.items()
            }
        outputs["state"] = tf.concat(new_states, axis=-1) if len(new_states) > 1 else new_states[0]
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "observation_space": space_to_config(self.observation_space),
            "action_space": space_to_config(self.action_space),
            "hidden_sizes": list(self.hidden_sizes),
            "activation": self.activation,
            "share_trunk": self.share_trunk,
            "log_std_init": self.log_std_init,
            "squash_actions": self.squash_actions,
            "state_dependent_std": self.state_dependent_std,
            "cnn": self.cnn,
            "channels": self.channels,
            "recurrent": self.recurrent,
            "recurrent_size": self.recurrent_size,
            "critic_core": self.critic_core,
        }


class _FeaturesOf:
    """Adapts a core to ``build_chain``: builds it from the features' shape, reports its features' shape."""

    def __init__(self, core) -> None:
        self.core = core

    @property
    def built(self) -> bool:
        return self.core.built

    def build(self, input_shape) -> None:
        self.core.build(input_shape)

    def compute_output_shape(self, input_shape):
        return self.core.compute_output_shape(input_shape)[0]

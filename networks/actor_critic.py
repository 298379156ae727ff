"""The actor-critic network: observations → {"policy": distribution params, "value": V(s)}.

Separate policy and value networks (the default) follow the PPO paper's continuous-control setup (Schulman
et al., 2017); a shared trunk follows its Atari setup. The network returns raw outputs only; sampling and
log-probs go through `model.distribution` (see distributions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import keras
import tensorflow as tf

from networks.distributions import make_distribution
from networks.encoders import make_encoder
from networks.heads import ValueHead, make_policy_head
from networks.layers import MLP, build_chain
from networks.spaces import as_space, observation_spec, space_to_config


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
        **kwargs: Base `keras.Model` arguments (name, ...).

    Attributes:
        distribution: `make_distribution(action_space)`, which reads the "policy" output.
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
        self.distribution = make_distribution(self.action_space, squash=self.squash_actions)

        # With a shared trunk the "policy" encoder/MLP is the only trunk and also feeds the value head.
        self.policy_encoder = make_encoder(
            self.observation_space, name="policy_encoder", cnn=cnn, channels=channels
        )
        self.policy_mlp = MLP(self.hidden_sizes, activation, name="policy_mlp")
        self.value_encoder = None
        self.value_mlp = None
        if not self.share_trunk:
            self.value_encoder = make_encoder(
                self.observation_space, name="value_encoder", cnn=cnn, channels=channels
            )
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

    def build(self, input_shape) -> None:
        trunk_shape = build_chain([self.policy_encoder, self.policy_mlp], input_shape)
        build_chain([self.policy_head], trunk_shape)
        if not self.share_trunk:
            trunk_shape = build_chain([self.value_encoder, self.value_mlp], input_shape)
        build_chain([self.value_head], trunk_shape)

    def call(self, obs, training=None) -> dict[str, tf.Tensor]:
        """Maps a batch of observations to raw outputs.

        Args:
            obs: [B, *obs_shape] tensor, or a dict of them for a Dict space, with `observation_spec` dtypes.
            training: Unused; kept for the Keras signature.

        Returns:
            {"policy": [B, P] float32 distribution params, "value": [B] float32}.
        """
        policy_features = self.policy_mlp(self.policy_encoder(obs))  # [B, hidden_sizes[-1]]
        # A Python branch on a config flag: each model traces only one of the two paths.
        value_features = policy_features if self.share_trunk else self.value_mlp(self.value_encoder(obs))
        return {"policy": self.policy_head(policy_features), "value": self.value_head(value_features)}

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
        }

"""Construction shared by the trainer, evaluation tools and rollout workers: envs and policy from a config."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.config import ResolvedConfig
from agents.experience.acting import Policy
from envs import make_vector_env
from networks import ActorCritic


def make_env(config: ResolvedConfig, num_envs: int, seed: int, **overrides) -> gym.vector.VectorEnv:
    """A vector env as the run's config describes it (sub-env i is seeded ``seed + i`` at its first reset).

    ``overrides`` replace ``make_vector_env`` arguments (e.g. ``render_mode``, ``vectorization``).
    """
    rc = config.run
    kwargs = dict(
        vectorization=rc.vectorization,
        normalize_obs=rc.normalize_obs,
        normalize_reward=rc.normalize_reward,
        gamma=getattr(config.agent, "gamma", 0.99),
        env_kwargs=rc.env_kwargs or None,
    )
    kwargs.update(overrides)
    return make_vector_env(rc.env_id, num_envs, seed=seed, **kwargs)


def make_policy(config: ResolvedConfig, env: gym.vector.VectorEnv, seed: int) -> Policy:
    """The run's ActorCritic network (weights built) wrapped in a compiled ``Policy`` sampling from ``seed``."""
    net = config.network
    model = ActorCritic(
        env.single_observation_space,
        env.single_action_space,
        hidden_sizes=tuple(net.hidden_sizes),
        activation=net.activation,
        share_trunk=net.share_trunk,
        log_std_init=net.log_std_init,
        squash_actions=net.squash_actions,
        state_dependent_std=net.state_dependent_std,
        recurrent=net.recurrent,
        recurrent_size=net.recurrent_size,
        critic_core=net.critic_core,
    )
    policy = Policy(model, env.single_observation_space, env.single_action_space, seed=seed)
    sample = env.single_observation_space.sample()
    policy.value(tf.nest.map_structure(lambda x: np.asarray(x)[None], sample))  # builds the weights
    return policy

"""Partially observed versions of standard envs, registered under ``tfpg/`` on import.

``tfpg/CartPoleNoVel-v1`` is CartPole-v1 with the two velocities hidden: the observation is the cart
position and the pole angle only (RL Zoo's CartPoleNoVel, the benchmark of sb3-contrib's RecurrentPPO). A
policy must infer the velocities from the history, so a feed-forward network does poorly and a recurrent
one can reach 500. Same dynamics, rewards, termination and 500-step time limit as CartPole-v1; its native
vector env (CartPole's, NEXT_STEP autoreset) is used by ``vectorization="auto"``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv
from gymnasium.vector import VectorEnv, VectorObservationWrapper
from gymnasium.vector.utils import batch_space

NAMESPACE = "tfpg"
CARTPOLE_NOVEL_ID = f"{NAMESPACE}/CartPoleNoVel-v1"
VISIBLE = np.array([0, 2])
"""CartPole's observation is [x, x_dot, theta, theta_dot]; x and theta stay visible."""


def _visible_space(space: spaces.Box) -> spaces.Box:
    return spaces.Box(space.low[VISIBLE], space.high[VISIBLE], dtype=space.dtype)


class HideVelocity(gymnasium.ObservationWrapper):
    """Keeps only ``VISIBLE`` components of a CartPole observation: [4] → [2]."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.observation_space = _visible_space(env.observation_space)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[VISIBLE]


class HideVelocityVector(VectorObservationWrapper):
    """``HideVelocity`` for a vector env: [N, 4] → [N, 2]."""

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        self.single_observation_space = _visible_space(env.single_observation_space)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: np.ndarray) -> np.ndarray:
        return observations[:, VISIBLE]


def make_cartpole_novel(**kwargs: Any) -> gymnasium.Env:
    """Entry point: ``CartPoleEnv`` without velocities (the 500-step limit comes from the registration)."""
    return HideVelocity(CartPoleEnv(**kwargs))


def make_cartpole_novel_vector(num_envs: int, **kwargs: Any) -> VectorEnv:
    """Vector entry point: CartPole's native vector env (NEXT_STEP autoreset) without velocities."""
    kwargs.setdefault("max_episode_steps", 500)
    return HideVelocityVector(CartPoleVectorEnv(num_envs=num_envs, **kwargs))


def _register_all() -> None:
    if CARTPOLE_NOVEL_ID not in gymnasium.registry:
        gymnasium.register(
            CARTPOLE_NOVEL_ID,
            entry_point=f"{__name__}:make_cartpole_novel",
            vector_entry_point=f"{__name__}:make_cartpole_novel_vector",
            max_episode_steps=500,
            reward_threshold=475.0,
        )


_register_all()

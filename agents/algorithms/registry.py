"""Algorithm registry: name → (config dataclass, factory). The trainer and the CLI know algorithms only here.

An agent built by a factory ``factory(config, policy, env)`` must provide:
    learn(rollout, progress: float) -> dict[str, float]   one update from a [T, N] rollout; progress in [0, 1]
    checkpoint_items() -> dict                              trackables a tf.train.Checkpoint must hold
    trace_count() -> int                                    traces of its compiled update (stays 1)
    warm_up(histograms: bool) -> None                       compile its update ahead, state unchanged
and its config dataclass must have ``num_steps`` (rollout length per env) and ``gamma``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import gymnasium as gym

from agents.algorithms.a2c import A2CConfig, make_a2c
from agents.algorithms.ppo import PPOConfig, make_ppo
from agents.algorithms.reinforce import ReinforceConfig, make_reinforce
from agents.experience.acting import Policy
from agents.experience.rollout import Rollout


class Agent(Protocol):
    """What the trainer needs of an agent (see module docstring)."""

    def learn(self, rollout: Rollout, progress: float) -> dict[str, float]: ...

    def checkpoint_items(self) -> dict[str, Any]: ...

    def trace_count(self) -> int: ...

    def warm_up(self, histograms: bool = False) -> None: ...


class Algorithm(NamedTuple):
    config: type
    factory: Callable[[Any, Policy, gym.vector.VectorEnv], Agent]


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm(PPOConfig, make_ppo),
    "a2c": Algorithm(A2CConfig, make_a2c),
    "reinforce": Algorithm(ReinforceConfig, make_reinforce),
}

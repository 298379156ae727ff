"""Algorithm registry: name → (config dataclass, agent class). The trainer and the CLI know algorithms only here.

TensorFlow-free: agent classes are named as ``module:Class`` and imported when an agent is built, so the CLI and
config resolution never load TensorFlow. An agent class is constructed as ``Agent(config, policy, num_envs)``
and provides:
    learn(rollout, progress: float) -> (metrics, snapshot)   one update from a [T, N] rollout; progress in [0, 1];
                                                             snapshot: the ``Snapshot`` for the next rollout
    core                                                     its ``LearnerCore`` (compile-ahead, trace count,
                                                             checkpoint items)
    histograms() -> dict[str, np.ndarray]                    optional: what only the update knows
Its config dataclass must have ``num_steps`` (rollout length per env) and ``gamma``.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from agents.algorithms.configs import A2CConfig, PPOConfig, ReinforceConfig


class Algorithm(NamedTuple):
    config: type
    agent: str
    """``module:Class`` of the agent."""


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm(PPOConfig, "agents.algorithms.ppo:PPOAgent"),
    "a2c": Algorithm(A2CConfig, "agents.algorithms.a2c:A2CAgent"),
    "reinforce": Algorithm(ReinforceConfig, "agents.algorithms.reinforce:ReinforceAgent"),
}


def make_agent(name: str, config, policy, num_envs: int) -> Any:
    """Build algorithm ``name``'s agent for ``policy`` acting on ``num_envs`` envs."""
    module, cls = ALGORITHMS[name].agent.split(":")
    return getattr(importlib.import_module(module), cls)(config, policy, num_envs)

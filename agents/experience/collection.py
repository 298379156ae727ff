"""Where rollouts come from: one interface, two backends (in-process default, Ray workers).

Both return ``(rollout [T, num_envs, ...], finished episodes, extra time/ scalars)`` from ``collect(policy)``, so
no algorithm and almost nothing in the trainer knows which backend runs.
"""

from __future__ import annotations

from typing import Protocol

from agents.experience.acting import Policy
from agents.experience.rollout import EpisodeStats, Rollout, RolloutCollector


class Collection(Protocol):
    def collect(self, policy: Policy) -> tuple[Rollout, EpisodeStats, dict[str, float]]: ...

    def close(self) -> None: ...


class InProcessCollection:
    """The default backend: the learner steps its own vector env between updates."""

    def __init__(self, env, num_steps: int, seed: int, action_dtype, info_keys: tuple[str, ...] = ()) -> None:
        self.collector = RolloutCollector(env, num_steps, seed, action_dtype, info_keys)

    def collect(self, policy: Policy) -> tuple[Rollout, EpisodeStats, dict[str, float]]:
        rollout, episodes = self.collector.collect(policy.act, policy.value)
        return rollout, episodes, {}

    def close(self) -> None:
        """Nothing to release: the env belongs to the run."""


def make_collection(config, env, policy: Policy, seed: int) -> Collection:
    """The backend ``config.run.backend`` names; ``env`` is the learner's env, ``seed`` the first env's seed."""
    if config.run.backend == "ray":
        from agents.experience.ray_backend import RayRolloutCollector

        return RayRolloutCollector(config, env, seed)
    return InProcessCollection(
        env, config.agent.num_steps, seed, policy.action_dtype, tuple(config.run.info_keys)
    )

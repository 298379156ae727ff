"""Where rollouts come from: one interface, two backends (in-process default, Ray workers).

Both take the learner's latest ``Snapshot`` (or None before the first update) and return
``(rollout [T, num_envs, ...], finished episodes, extra time/ scalars)``, so no algorithm and almost nothing in
the trainer knows which backend runs.
"""

from __future__ import annotations

from typing import Protocol

from agents.experience.acting import Policy, Snapshot
from agents.experience.collector import EpisodeStats, RolloutCollector
from agents.experience.schema import Rollout


class Collection(Protocol):
    def collect(self, snapshot: Snapshot | None) -> tuple[Rollout, EpisodeStats, dict[str, float]]: ...

    def close(self) -> None: ...


class InProcessCollection:
    """The default backend: the learner steps its own vector env between updates."""

    def __init__(
        self, env, policy: Policy, num_steps: int, seed: int, info_keys: tuple[str, ...] = ()
    ) -> None:
        self.policy = policy
        self.collector = RolloutCollector(env, policy.schema, num_steps, seed, info_keys)

    def collect(self, snapshot: Snapshot | None) -> tuple[Rollout, EpisodeStats, dict[str, float]]:
        actor = self.policy.actor(snapshot, self.collector.num_steps, self.collector.num_envs)
        rollout, episodes = self.collector.collect(actor)
        return rollout, episodes, {}

    def close(self) -> None:
        """Nothing to release: the env belongs to the run."""


def make_collection(config, env, policy: Policy, seed: int) -> Collection:
    """The backend ``config.run.backend`` names; ``env`` is the learner's env, ``seed`` the first env's seed."""
    if config.run.backend == "ray":
        from agents.experience.ray_backend import RayRolloutCollector

        return RayRolloutCollector(config, env, policy, seed)
    return InProcessCollection(env, policy, config.agent.num_steps, seed, tuple(config.run.info_keys))

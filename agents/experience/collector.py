"""The loop that fills a rollout [T, N, ...] from a Gymnasium vector env, and what it saw besides.

The collector knows nothing of the algorithm or the network: per vector step it calls the ``Actor`` it was
given (``agents.experience.acting``) and records what the actor returned and what the env returned, into
buffers the rollout schema allocates. It relies on Gymnasium 1.x's NEXT_STEP autoreset: after a done step, the
next ``step()`` ignores its action and returns the reset observation. That row is stored (so the buffer keeps
its fixed [T, N] shape and ``values[t]`` there is V(final observation), the bootstrap a truncated episode
needs) but flagged ``valid = 0`` so no loss ever learns from it.

"env" fields the collector fills (``ENV_FIELDS``): observations, rewards, terminated, truncated, valid, and
``episode_starts`` if a schema declares it (True where the observation is an episode's first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from agents.experience.schema import Rollout, RolloutSchema, write_step

ENV_FIELDS = ("observations", "rewards", "terminated", "truncated", "valid", "episode_starts")


@dataclass
class EpisodeStats:
    """What one collection saw besides the transitions: finished episodes, env info values, phase times."""

    returns: list[float] = field(default_factory=list)
    """Raw (unnormalized) returns of the episodes that finished."""
    lengths: list[int] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    """``info["is_success"]`` of finished episodes, for envs that report it."""
    info_sums: dict[str, float] = field(default_factory=dict)
    """Sums (and ``info_counts``) of the requested ``info`` keys over the steps where the env set them."""
    info_counts: dict[str, int] = field(default_factory=dict)
    env_s: float = 0.0
    """Seconds inside ``env.step``."""
    act_s: float = 0.0
    """Seconds computing actions (policy forward pass and sampling)."""

    def merge(self, other: EpisodeStats) -> None:
        """Fold another collection's stats into this one (e.g. several Ray workers')."""
        self.returns += other.returns
        self.lengths += other.lengths
        self.successes += other.successes
        for key, value in other.info_sums.items():
            self.info_sums[key] = self.info_sums.get(key, 0.0) + value
            self.info_counts[key] = self.info_counts.get(key, 0) + other.info_counts[key]
        self.env_s = max(self.env_s, other.env_s)  # workers run in parallel: the slowest one counts
        self.act_s = max(self.act_s, other.act_s)

    def record(self, info: dict, num_envs: int, info_keys: tuple[str, ...]) -> None:
        """Take one vector step's ``info``: finished episodes (``RecordEpisodeStatistics``) and info keys."""
        if "_episode" in info:
            done_mask = info["_episode"]
            self.returns.extend(np.asarray(info["episode"]["r"])[done_mask].tolist())
            self.lengths.extend(np.asarray(info["episode"]["l"])[done_mask].tolist())
            if "is_success" in info:
                has = done_mask & info["_is_success"]
                self.successes.extend(np.asarray(info["is_success"], np.float64)[has].tolist())
        for key in info_keys:
            if key in info:
                present = info.get(f"_{key}", np.ones(num_envs, bool))
                self.info_sums[key] = self.info_sums.get(key, 0.0) + float(np.sum(info[key][present]))
                self.info_counts[key] = self.info_counts.get(key, 0) + int(np.sum(present))

    def scalars(self) -> dict[str, float]:
        """``rollout/`` and ``time/`` scalars for the logger."""
        out = {"time/env_step_s": self.env_s, "time/act_s": self.act_s}
        if self.returns:
            out["rollout/episode_return"] = float(np.mean(self.returns))
            out["rollout/episode_length"] = float(np.mean(self.lengths))
        if self.successes:
            out["rollout/success_rate"] = float(np.mean(self.successes))
        for key, total in self.info_sums.items():
            out[f"rollout/info/{key}"] = total / self.info_counts[key]
        return out


def env_action_transform(action_space: gym.Space) -> Callable[[np.ndarray], np.ndarray]:
    """What the env receives for a sampled action: Box actions are clipped to the bounds (the buffer keeps
    the unclipped sample so its log-prob stays exact); other spaces pass through."""
    if isinstance(action_space, gym.spaces.Box):
        low, high = action_space.low, action_space.high
        return lambda action: np.clip(action, low, high)
    return lambda action: action


class RolloutCollector:
    """Steps a vector env with an actor and returns fixed-shape rollouts.

    The collector carries the current observation, its info and the per-env "previous step was done" flags
    from one rollout to the next, so episodes span rollout boundaries correctly.

    Args:
        env: the vector env (NEXT_STEP autoreset).
        schema: the rollout schema; its "env" fields must be among ``ENV_FIELDS``.
        num_steps: vector steps per rollout (T).
        seed: seed of the first ``env.reset`` (sub-env i gets seed + i).
        info_keys: env ``info`` keys to average per rollout (custom metrics).
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        schema: RolloutSchema,
        num_steps: int,
        seed: int | None,
        info_keys: tuple[str, ...] = (),
    ) -> None:
        unknown = set(schema.names(source="env")) - set(ENV_FIELDS)
        if unknown:
            raise ValueError(
                f"The collector cannot fill env fields {sorted(unknown)}; it knows {ENV_FIELDS}."
            )
        self.env = env
        self.schema = schema
        self.info_keys = tuple(info_keys)
        self.num_steps = num_steps
        self.num_envs = env.num_envs
        self._to_env = env_action_transform(env.single_action_space)
        self._step_fields = schema.names(source="actor", per_step=True)
        self._end_fields = schema.names(source="actor", per_step=False)
        self._obs, self._info = env.reset(seed=seed)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        self._episode_start = np.ones(self.num_envs, dtype=bool)

    def collect(self, actor) -> tuple[Rollout, EpisodeStats]:
        """Run T vector steps with ``actor``; returns the rollout and the episodes that finished during it."""
        T, N = self.num_steps, self.num_envs
        data = self.schema.allocate(T, N)
        observations, rewards, valid = data["observations"], data["rewards"], data["valid"]
        terminated, truncated = data["terminated"], data["truncated"]
        starts = data.get("episode_starts")
        stats = EpisodeStats()
        obs, info, prev_done, episode_start = self._obs, self._info, self._prev_done, self._episode_start
        clock = time.perf_counter
        for t in range(T):
            t0 = clock()
            out = actor.act(obs, info, episode_start)
            if t == 0:
                _check_outputs(out, self._step_fields, "act")
            for name in self._step_fields:
                data[name][t] = out[name]
            write_step(observations, t, obs)
            # A row whose previous step was done is the autoreset step: not a transition.
            valid[t] = ~prev_done
            if starts is not None:
                starts[t] = episode_start
            t1 = clock()
            obs, reward, term, trunc, info = self.env.step(self._to_env(out["actions"]))
            t2 = clock()
            stats.act_s += t1 - t0
            stats.env_s += t2 - t1
            rewards[t] = reward
            terminated[t] = term
            truncated[t] = trunc
            episode_start = prev_done  # after an autoreset row comes the reset observation
            prev_done = np.logical_or(term, trunc)
            stats.record(info, N, self.info_keys)
        self._obs, self._info, self._prev_done, self._episode_start = obs, info, prev_done, episode_start
        end = actor.finish(obs, info, episode_start)
        _check_outputs(end, self._end_fields, "finish")
        for name in self._end_fields:
            data[name][:] = end[name]
        return Rollout(self.schema, data), stats


def _check_outputs(out: dict, names: list[str], method: str) -> None:
    missing = [name for name in names if name not in out]
    if missing:
        raise KeyError(
            f"The actor's {method}() returned {sorted(out)} but the rollout schema expects {missing} from it too."
        )

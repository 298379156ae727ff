"""Rollout storage [T, N, ...] and the loop that fills it from a Gymnasium vector env.

The collector knows nothing of the algorithm: it calls ``policy(obs) -> (actions, log_probs, values)`` once
per vector step and records what the env returned. It relies on Gymnasium 1.x's NEXT_STEP autoreset: after a
done step, the next ``step()`` ignores its action and returns the reset observation. That row is stored (so the
buffer keeps its fixed [T, N] shape and ``values[t]`` there is V(final observation), the bootstrap a truncated
episode needs) but flagged ``valid = 0`` so no loss ever learns from it.

Speed: handed a bound ``Policy.act`` (and ``Policy.value``), the collector asks that policy for a
``rollout_actor`` — a NumPy snapshot of its weights, valid because weights never change during a rollout —
and acts through it, so no TF call happens per step. Any other callable is used as given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

PolicyFn = Callable[[object], tuple[np.ndarray, np.ndarray, np.ndarray]]
ValueFn = Callable[[object], np.ndarray]


@dataclass
class Rollout:
    """One batch of experience; every array is [T, N, ...] unless noted."""

    observations: np.ndarray | dict[str, np.ndarray]
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    """1.0 for real transitions, 0.0 for the autoreset row that follows a done."""
    last_values: np.ndarray
    """[N] V of the observation after row T-1 (bootstrap for the last row)."""

    @property
    def num_steps(self) -> int:
        return self.rewards.shape[0]

    @property
    def num_envs(self) -> int:
        return self.rewards.shape[1]


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


def _allocate(space: gym.Space, num_steps: int, num_envs: int, dtype=None):
    if isinstance(space, gym.spaces.Dict):
        return {key: _allocate(sub, num_steps, num_envs) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_allocate(sub, num_steps, num_envs) for sub in space.spaces)
    return np.zeros((num_steps, num_envs, *space.shape), dtype=dtype or space.dtype)


def _write(buffer, t: int, value) -> None:
    if isinstance(buffer, dict):
        for key in buffer:
            _write(buffer[key], t, value[key])
    elif isinstance(buffer, tuple):
        for part, part_value in zip(buffer, value, strict=True):
            _write(part, t, part_value)
    else:
        buffer[t] = value


def env_action_transform(action_space: gym.Space) -> Callable[[np.ndarray], np.ndarray]:
    """What the env receives for a sampled action: Box actions are clipped to the bounds (the buffer keeps
    the unclipped sample so its log-prob stays exact); other spaces pass through."""
    if isinstance(action_space, gym.spaces.Box):
        low, high = action_space.low, action_space.high
        return lambda action: np.clip(action, low, high)
    return lambda action: action


def _fast_path(policy: PolicyFn, value_fn: ValueFn, num_steps: int, num_envs: int):
    """Swap a bound ``Policy.act``/``Policy.value`` pair for its per-rollout NumPy actor, where it has one."""
    owner = getattr(policy, "__self__", None)
    make_actor = getattr(owner, "rollout_actor", None)
    if make_actor is None or policy != owner.act:
        return policy, value_fn
    actor = make_actor(num_steps, num_envs)
    if actor is None:
        return policy, value_fn
    same_owner = getattr(value_fn, "__self__", None) is owner and value_fn == owner.value
    return actor.act, (actor.value if same_owner else value_fn)


class RolloutCollector:
    """Steps a vector env with a policy and returns fixed-shape rollouts.

    The collector carries the current observation and the per-env "previous step was done" flags from one
    rollout to the next, so episodes span rollout boundaries correctly.
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        num_steps: int,
        seed: int | None,
        action_dtype,
        info_keys: tuple[str, ...] = (),
    ) -> None:
        self.env = env
        self.info_keys = tuple(info_keys)
        self.num_steps = num_steps
        self.num_envs = env.num_envs
        self.action_dtype = action_dtype
        self._to_env = env_action_transform(env.single_action_space)
        self._obs, _ = env.reset(seed=seed)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)

    def collect(self, policy: PolicyFn, value_fn: ValueFn) -> tuple[Rollout, EpisodeStats]:
        """Run T vector steps; returns the rollout and the episodes that finished during it."""
        T, N = self.num_steps, self.num_envs
        observations = _allocate(self.env.single_observation_space, T, N)
        actions = _allocate(self.env.single_action_space, T, N, dtype=self.action_dtype)
        log_probs = np.zeros((T, N), np.float32)
        values = np.zeros((T, N), np.float32)
        rewards = np.zeros((T, N), np.float32)
        terminated = np.zeros((T, N), bool)
        truncated = np.zeros((T, N), bool)
        valid = np.zeros((T, N), np.float32)
        stats = EpisodeStats()
        policy, value_fn = _fast_path(policy, value_fn, T, N)
        obs, prev_done = self._obs, self._prev_done
        clock = time.perf_counter
        for t in range(T):
            t0 = clock()
            action, log_prob, value = policy(obs)
            _write(observations, t, obs)
            actions[t] = action
            log_probs[t] = log_prob
            values[t] = value
            # A row whose previous step was done is the autoreset step: not a transition.
            valid[t] = ~prev_done
            t1 = clock()
            obs, reward, term, trunc, info = self.env.step(self._to_env(action))
            t2 = clock()
            stats.act_s += t1 - t0
            stats.env_s += t2 - t1
            rewards[t] = reward
            terminated[t] = term
            truncated[t] = trunc
            prev_done = np.logical_or(term, trunc)
            if "_episode" in info:
                done_mask = info["_episode"]
                stats.returns.extend(np.asarray(info["episode"]["r"])[done_mask].tolist())
                stats.lengths.extend(np.asarray(info["episode"]["l"])[done_mask].tolist())
                if "is_success" in info:
                    has = done_mask & info["_is_success"]
                    stats.successes.extend(np.asarray(info["is_success"], np.float64)[has].tolist())
            for key in self.info_keys:
                if key in info:
                    present = info.get(f"_{key}", np.ones(N, bool))
                    stats.info_sums[key] = stats.info_sums.get(key, 0.0) + float(np.sum(info[key][present]))
                    stats.info_counts[key] = stats.info_counts.get(key, 0) + int(np.sum(present))
        self._obs, self._prev_done = obs, prev_done
        rollout = Rollout(
            observations=observations,
            actions=actions,
            log_probs=log_probs,
            values=values,
            rewards=rewards,
            terminated=terminated,
            truncated=truncated,
            valid=valid,
            last_values=np.asarray(value_fn(obs), np.float32),
        )
        return rollout, stats

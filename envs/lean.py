"""Gymnasium's ``SyncVectorEnv`` and vector ``RecordEpisodeStatistics`` with cheaper steps, same results.

With one or a few cheap sub-envs the vector layers cost as much as the env. On the masking benchmark's one-env
Discrete task (the look-alike of sb3-contrib's ``InvalidActionEnvDiscrete`` in envs/testing_masks.py, ~110 µs a
step alone) ``SyncVectorEnv`` adds ~40 µs a step and ``RecordEpisodeStatistics`` ~22 µs: a fifth of a training
step. Most of it is generality these envs do not use: single dispatch over the spaces, a deepcopy of the
observations, eight fancy-indexed updates of the episode counters where one add does.

``LeanSyncVectorEnv`` is a ``SyncVectorEnv`` (same constructor, attributes, ``reset``, ``call``, ``render``)
whose ``step`` writes each sub-env's result straight into the batched arrays when both spaces are plain arrays
(Box, Discrete, MultiDiscrete, MultiBinary) and autoreset is NEXT_STEP; anything else takes Gymnasium's step.
``LeanEpisodeStatistics`` is a ``RecordEpisodeStatistics`` whose NEXT_STEP step updates the counters with
whole-array adds unless an autoreset row is in the batch. ``LeanNormalizeObservation`` is a vector
``NormalizeObservation`` (same ``obs_rms``, checkpointed and frozen as before) whose batch moments skip
``np.mean``/``np.var``'s Python layers (41 -> 22 µs per call on 8 CartPole observations). All three return
exactly what Gymnasium's classes return (observations, rewards, flags, infos with their ``_key`` presence
flags, ``info["episode"]``, normalized observations and running statistics), which tests/test_lean_envs.py
checks by stepping both side by side; ``benchmarks/env_layers.py`` times the first two.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

ARRAY_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
"""Spaces whose batch is one array [N, ...] and whose element i is row i of it."""


class LeanSyncVectorEnv(SyncVectorEnv):
    """``SyncVectorEnv`` with a lean ``step`` for array spaces in NEXT_STEP mode (see the module docstring)."""

    def __init__(self, env_fns, **kwargs: Any) -> None:
        super().__init__(env_fns, **kwargs)
        self._lean = (
            self.autoreset_mode == AutoresetMode.NEXT_STEP
            and isinstance(self.single_observation_space, ARRAY_SPACES)
            and isinstance(self.single_action_space, ARRAY_SPACES)
        )

    @classmethod
    def taking_over(cls, env: SyncVectorEnv) -> LeanSyncVectorEnv:
        """The same sub-envs (not copies) behind a lean step; ``env`` itself must not be used afterwards."""
        lean = cls(
            [lambda sub=sub: sub for sub in env.envs],
            copy=env.copy,
            observation_mode=env.observation_mode,
            autoreset_mode=env.autoreset_mode,
        )
        lean.spec = env.spec  # make_vec's record of the id, kwargs and vectorization
        env.envs = []  # closing the old wrapper (explicitly or at garbage collection) must not close them
        return lean

    def step(self, actions):
        if not self._lean:
            return super().step(actions)
        obs, rewards, terminations, truncations = (
            self._observations,  # [N, ...]: row i is sub-env i's observation, as concatenate() fills it
            self._rewards,
            self._terminations,
            self._truncations,
        )
        infos: dict[str, Any] = {}
        for i, env in enumerate(self.envs):
            if self._autoreset_envs[i]:  # NEXT_STEP: the step after a done step resets, reward 0
                obs[i], env_info = env.reset()
                rewards[i], terminations[i], truncations[i] = 0.0, False, False
            else:
                obs[i], rewards[i], terminations[i], truncations[i], env_info = env.step(actions[i])
            if env_info:
                infos = self._add_info(infos, env_info, i)
        self._autoreset_envs = terminations | truncations
        # Copies, as SyncVectorEnv returns: the next step overwrites these arrays in place.
        observations = obs.copy() if self.copy else obs
        return observations, rewards.copy(), terminations.copy(), truncations.copy(), infos


class LeanEpisodeStatistics(RecordEpisodeStatistics):
    """Vector ``RecordEpisodeStatistics`` (``info["episode"]`` r/l/t and ``info["_episode"]`` at episode ends,
    the return/length/time queues) with a lean NEXT_STEP step."""

    def step(self, actions):
        if self._autoreset_mode != AutoresetMode.NEXT_STEP:
            return super().step(actions)
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        restarted = self.prev_dones  # [N]: rows that are autoreset steps, the first of a new episode
        if restarted.any():
            going = ~restarted
            self.episode_returns[restarted] = 0.0
            self.episode_lengths[restarted] = 0
            self.episode_start_times[restarted] = time.perf_counter()
            self.episode_returns[going] += rewards[going]
            self.episode_lengths[going] += 1
        else:
            self.episode_returns += rewards
            self.episode_lengths += 1
        dones = np.logical_or(terminations, truncations)
        self.prev_dones = dones
        if dones.any():
            self._report(dones, infos)
        return observations, rewards, terminations, truncations, infos

    def _report(self, dones: np.ndarray, infos: dict[str, Any]) -> None:
        """Finished episodes into ``infos`` and the queues (the parent's format and checks)."""
        key = self._stats_key
        if key in infos or f"_{key}" in infos:
            raise ValueError(
                f"Attempted to add episode stats with key '{key}' but this key already exists in info: "
                f"{list(infos.keys())}"
            )
        seconds = np.round(time.perf_counter() - self.episode_start_times, 6)
        infos[key] = {
            "r": np.where(dones, self.episode_returns, 0.0),
            "l": np.where(dones, self.episode_lengths, 0),
            "t": np.where(dones, seconds, 0.0),
        }
        infos[f"_{key}"] = dones
        self.episode_count += int(dones.sum())
        self.time_queue.extend(seconds[dones])
        self.return_queue.extend(self.episode_returns[dones])
        self.length_queue.extend(self.episode_lengths[dones])


class LeanNormalizeObservation(NormalizeObservation):
    """Vector ``NormalizeObservation`` with the batch moments computed directly (the same operations as
    ``np.mean`` and ``np.var`` on axis 0, without their Python layers), then Gymnasium's own update and
    normalization."""

    def observations(self, observations: np.ndarray) -> np.ndarray:
        if self._update_running_mean:
            count = len(observations)
            mean = np.add.reduce(observations, axis=0) / count  # [obs...], as np.mean
            centered = observations - mean
            var = np.add.reduce(centered * centered, axis=0) / count  # as np.var (ddof 0)
            self.obs_rms.update_from_moments(mean, var, count)
        scale = np.sqrt(self.obs_rms.var + self.epsilon)
        return ((observations - self.obs_rms.mean) / scale).astype(np.float32)

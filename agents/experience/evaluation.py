"""Policy evaluation on a separate vector env: a fixed number of whole episodes, raw returns."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from agents.experience.collector import env_action_transform


def evaluate(
    predict: Callable[[object], np.ndarray],
    env: gym.vector.VectorEnv,
    episodes: int,
    seed: int | None = None,
) -> dict[str, float | list]:
    """Run ``episodes`` complete episodes and report their returns.

    Each sub-env runs a fixed quota of episodes (``episodes`` split evenly), so short episodes are not
    over-represented as they would be if the first ``episodes`` to finish were taken.

    Args:
        predict: ``predict(obs [N, ...], episode_start [N] bool) -> actions [N, ...]``, e.g.
            ``Policy.predictor(N)`` (a recurrent policy's keeps these envs' own states and resets them where
            ``episode_start`` is True).
        env: a vector env from ``make_vector_env`` (RecordEpisodeStatistics supplies raw returns).
        episodes: total episodes over all sub-envs.
        seed: reset seed, so repeated evaluations see the same initial states.

    Returns:
        ``mean_return``, ``std_return``, ``mean_length``, ``episodes`` and the per-episode ``returns``/``lengths``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}.")
    num_envs = env.num_envs
    quota = np.array([episodes // num_envs + (i < episodes % num_envs) for i in range(num_envs)])
    done_count = np.zeros(num_envs, dtype=int)
    returns: list[float] = []
    lengths: list[int] = []
    to_env = env_action_transform(env.single_action_space)
    obs, _ = env.reset(seed=seed)
    # NEXT_STEP autoreset: the step after a done returns an episode's first observation.
    episode_start, prev_done = np.ones(num_envs, bool), np.zeros(num_envs, bool)
    while (done_count < quota).any():
        obs, _, terminated, truncated, info = env.step(to_env(predict(obs, episode_start)))
        episode_start, prev_done = prev_done, np.logical_or(terminated, truncated)
        if "_episode" not in info:
            continue
        for i in np.flatnonzero(info["_episode"]):
            if done_count[i] < quota[i]:
                returns.append(float(info["episode"]["r"][i]))
                lengths.append(int(info["episode"]["l"][i]))
                done_count[i] += 1
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "mean_length": float(np.mean(lengths)),
        "episodes": len(returns),
        "returns": returns,
        "lengths": lengths,
    }

"""Policy evaluation on a separate vector env: a fixed number of whole episodes, raw returns."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from agents.experience.collector import env_action_transform


def evaluate(
    predict: Callable[..., np.ndarray],
    env: gym.vector.VectorEnv,
    episodes: int,
    seed: int | None = None,
    episode_cap: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float | list | None]:
    """Run ``episodes`` complete episodes and report their returns.

    Each sub-env runs a fixed quota of episodes (``episodes`` split evenly), so short episodes are not
    over-represented as they would be if the first ``episodes`` to finish were taken.

    Every episode must end: ``env`` needs a time limit (``agents.run.building.make_eval_env`` adds one,
    ``episode_cap`` steps, to an env without its own). Episodes truncated at exactly ``episode_cap`` steps
    are counted in ``capped_episodes``: their returns are those of an episode cut short.

    Args:
        predict: ``predict(obs [N, ...], episode_start [N] bool, info=info) -> actions [N, ...]``, e.g.
            ``Policy.predictor(N)``: a recurrent policy's keeps these envs' own states and resets them where
            ``episode_start`` is True; ``info`` is the env's info of the step that returned ``obs``, from which
            a masking policy reads the valid actions (the eval env's own masks).
        env: a vector env from ``make_vector_env`` (RecordEpisodeStatistics supplies raw returns).
        episodes: total episodes over all sub-envs.
        seed: reset seed, so repeated evaluations see the same initial states.
        episode_cap: the step cap tfpg put on ``env``'s episodes, or ``None`` (the env's own limit applies).
        should_stop: checked before every step; when it returns True the evaluation ends at once with the
            episodes finished so far (``interrupted`` True), e.g. on SIGTERM.

    Returns:
        ``mean_return``, ``std_return``, ``mean_length`` (``None`` when no episode finished), ``episodes``,
        ``capped_episodes``, ``episode_cap``, ``interrupted`` and the per-episode ``returns``/``lengths``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}.")
    num_envs = env.num_envs
    quota = np.array([episodes // num_envs + (i < episodes % num_envs) for i in range(num_envs)])
    done_count = np.zeros(num_envs, dtype=int)
    returns: list[float] = []
    lengths: list[int] = []
    capped = 0
    interrupted = False
    to_env = env_action_transform(env.single_action_space)
    obs, info = env.reset(seed=seed)
    # NEXT_STEP autoreset: the step after a done returns an episode's first observation.
    episode_start, prev_done = np.ones(num_envs, bool), np.zeros(num_envs, bool)
    while (done_count < quota).any():
        if should_stop is not None and should_stop():
            interrupted = True
            break
        obs, _, terminated, truncated, info = env.step(to_env(predict(obs, episode_start, info=info)))
        episode_start, prev_done = prev_done, np.logical_or(terminated, truncated)
        if "_episode" not in info:
            continue
        for i in np.flatnonzero(info["_episode"]):
            if done_count[i] < quota[i]:
                length = int(info["episode"]["l"][i])
                returns.append(float(info["episode"]["r"][i]))
                lengths.append(length)
                done_count[i] += 1
                capped += bool(truncated[i] and not terminated[i] and length == episode_cap)
    return {
        "mean_return": float(np.mean(returns)) if returns else None,
        "std_return": float(np.std(returns)) if returns else None,
        "mean_length": float(np.mean(lengths)) if lengths else None,
        "episodes": len(returns),
        "capped_episodes": capped,
        "episode_cap": episode_cap,
        "interrupted": interrupted,
        "returns": returns,
        "lengths": lengths,
    }

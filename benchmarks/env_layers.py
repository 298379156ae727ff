"""What the vector layers add to an env's step: ``python benchmarks/env_layers.py [ENV_ID] [--num-envs N]``.

Times, in µs per vector step with a fixed action and alternating rounds: the bare env (``gymnasium.make``, N
steps), Gymnasium's ``SyncVectorEnv`` alone and with its vector ``RecordEpisodeStatistics``, envs/lean.py's
versions of both, and ``make_vector_env`` (what training steps).
The default id is the masking benchmark's one-env Discrete task.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium
import numpy as np
from gymnasium.vector import SyncVectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from envs.lean import LeanEpisodeStatistics, LeanSyncVectorEnv
from envs.make import make_vector_env
from envs.testing_masks import SB3_INVALID_DISCRETE_ID


def per_step_us(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("env_id", nargs="?", default=SB3_INVALID_DISCRETE_ID)
    parser.add_argument("--num-envs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.num_envs

    def make():
        return gymnasium.make(args.env_id)

    bare = [make() for _ in range(n)]
    for i, env in enumerate(bare):
        env.reset(seed=i)
    action = bare[0].action_space.sample()
    actions = np.array([action] * n)

    def bare_step():
        for env in bare:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    vector_envs = {
        "SyncVectorEnv": SyncVectorEnv([make] * n),
        "+ RecordEpisodeStatistics": RecordEpisodeStatistics(SyncVectorEnv([make] * n)),
        "LeanSyncVectorEnv": LeanSyncVectorEnv([make] * n),
        "+ LeanEpisodeStatistics": LeanEpisodeStatistics(LeanSyncVectorEnv([make] * n)),
        "make_vector_env": make_vector_env(args.env_id, n, 0),
    }
    steps = {"bare env(s)": bare_step}
    for name, env in vector_envs.items():
        env.reset(seed=0)
        steps[name] = lambda env=env: env.step(actions)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            times[name].append(per_step_us(step, args.steps))
    print(f"{args.env_id}, {n} env(s), µs per vector step (median of {args.rounds} rounds of {args.steps}):")
    for name, values in times.items():
        print(f"  {name:28s} {statistics.median(values):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reward normalization, Gymnasium's ``NormalizeReward`` vs tfpg's ``VecNormalizeReward``, under random play.

    python benchmarks/reward_normalization.py --env MountainCar-v0 --num-envs 16 --steps 200000

Both wrappers sit on two copies of the same vector env (same seed, same random actions), so they see the
same raw rewards. Printed per checkpoint of the run: the std each one divides by (sqrt of its return
variance) and the normalized reward of a raw reward of -1 (MountainCar's and Acrobot's per-step reward).
Gymnasium's accumulator is not reset on truncation, so with time-limit episodes its std estimate shrinks as
the run goes on; SB3's rule (reset at every episode end), which VecNormalizeReward follows, keeps it steady.
``--steps`` counts env steps summed over the envs. ``--env-kwargs '{"max_episode_steps": 1000}'`` and
``--gamma`` set up other cases (e.g. ``tfpg-test/Counter-v0`` with ``terminate_at: null``: a constant-reward,
1000-step episode like a Hopper agent that stands still).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gymnasium.wrappers.vector import NormalizeReward

from envs.make import make_vector_env
from envs.normalize import VecNormalizeReward


def compare(env_id: str, num_envs: int, steps: int, gamma: float, seed: int, env_kwargs: dict, reports: int):
    """Yields (env steps, Gymnasium's std, tfpg's std, mean normalized rewards since the last report)."""
    raw = [make_vector_env(env_id, num_envs, seed, env_kwargs=env_kwargs) for _ in range(2)]
    old, new = NormalizeReward(raw[0], gamma=gamma), VecNormalizeReward(raw[1], gamma=gamma)
    old.reset(seed=seed)
    new.reset(seed=seed)
    iterations = steps // num_envs
    every = max(1, iterations // reports)
    sums, count = np.zeros(2), 0
    for i in range(1, iterations + 1):
        actions = old.action_space.sample()  # seeded by make_vector_env; the same actions drive both
        _, r_old, *_ = old.step(actions)
        _, r_new, *_ = new.step(actions)
        sums += r_old.mean(), r_new.mean()
        count += 1
        if i % every == 0 or i == iterations:
            stds = np.sqrt(old.return_rms.var), np.sqrt(new.return_rms.var)
            yield i * num_envs, stds[0], stds[1], sums / count
            sums, count = np.zeros(2), 0
    old.close()
    new.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="MountainCar-v0")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200_000, help="env steps, summed over envs")
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env-kwargs", type=json.loads, default={}, help="JSON dict for the env constructor")
    parser.add_argument("--reports", type=int, default=5, help="how many rows to print")
    args = parser.parse_args(argv)

    print(f"{args.env}, {args.num_envs} envs, random actions, gamma {args.gamma}, seed {args.seed}")
    print("env steps | std Gymnasium NormalizeReward | std tfpg VecNormalizeReward | "
          "mean normalized reward since last row (Gymnasium / tfpg)")  # fmt: skip
    rows = compare(args.env, args.num_envs, args.steps, args.gamma, args.seed, args.env_kwargs, args.reports)
    for steps, std_old, std_new, means in rows:
        print(f"{steps:>9,} | {std_old:>29.2f} | {std_new:>27.2f} | {means[0]:.4f} / {means[1]:.4f}")
    print(f"final: a raw reward of -1 becomes {-1 / std_old:.3f} (Gymnasium) vs {-1 / std_new:.3f} (tfpg)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

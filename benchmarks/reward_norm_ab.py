"""Issue 19 item 1: a preset trained with Gymnasium's ``NormalizeReward`` (before) and tfpg's ``VecNormalizeReward``
(after), same code otherwise, side by side.

    nice -n 5 python benchmarks/reward_norm_ab.py --case ppo:Acrobot-v1 --case a2c:Acrobot-v1 --seeds 0 1

Each (case, seed) trains twice, one process per run, "before" then "after" back to back so that both see
about the same machine load. "before" swaps ``envs.make.VecNormalizeReward`` for Gymnasium's
``NormalizeReward`` (the wrapper every normalize_reward preset used until this change: its return is not
reset on truncation and its output not clipped) in that process only; "after" is tfpg as shipped. The preset
decides everything else (``--steps`` overrides its budget). Printed: a markdown table, one row per run
(final deterministic evaluation, as in summary.json), the per-case means, the after/before ratio of wall time,
and the 1-min load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("before", "after")


def train_one(variant: str, algo: str, env_id: str, seed: int, steps: int | None, run_dir: str) -> None:
    """One training in this process; ``before`` patches in Gymnasium's NormalizeReward first."""
    if variant == "before":
        from gymnasium.wrappers.vector import NormalizeReward

        import envs.make

        envs.make.VecNormalizeReward = lambda env, gamma, clip: NormalizeReward(env, gamma=gamma)
    from agents.config import resolve_config
    from agents.run.trainer import train

    values = {"seed": seed, "video": False, **({"total_steps": steps} if steps else {})}
    config = resolve_config(algo, env_id, values)
    if not config.run.normalize_reward:
        raise SystemExit(f"the {algo} {env_id} preset does not set normalize_reward: nothing to compare")
    train(config, Path(run_dir), progress=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", default=[], help="ALGO:ENV_ID, repeatable")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, help="env steps per run (default: the preset's budget)")
    parser.add_argument("--out", default="runs/reward_norm_ab", help="parent of the run directories")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--one", nargs=6, metavar="X", help=argparse.SUPPRESS)  # internal: one training
    args = parser.parse_args(argv)
    if args.one:
        variant, algo, env_id, seed, steps, run_dir = args.one
        train_one(variant, algo, env_id, int(seed), int(steps) or None, run_dir)
        return 0
    if not args.case:
        parser.error("give at least one --case ALGO:ENV_ID")

    load_start = os.getloadavg()[0]
    rows = []
    for case in args.case:
        algo, env_id = case.split(":", 1)
        for seed in args.seeds:
            for variant in VARIANTS:
                run_dir = Path(args.out) / f"{algo}-{env_id}-s{seed}-{variant}"
                if run_dir.exists():
                    raise SystemExit(f"{run_dir} exists; pick another --out")
                t0 = time.perf_counter()
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    variant,
                    algo,
                    env_id,
                    str(seed),
                    str(args.steps or 0),
                ]
                subprocess.run([*cmd, str(run_dir)], check=True, stdout=subprocess.DEVNULL)
                wall = time.perf_counter() - t0
                summary = json.loads((run_dir / "summary.json").read_text())
                rows.append({"algo": algo, "env": env_id, "seed": seed, "variant": variant, "wall_s": wall,
                             "load_1min": os.getloadavg()[0], **summary})  # fmt: skip
                print(f"{algo} {env_id} seed {seed} {variant}: eval {summary['eval_mean_return']:.1f} "
                      f"({summary['total_steps']:,} steps, {wall:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip

    print("| algo | env | seed | steps | before: Gymnasium NormalizeReward | after: VecNormalizeReward | "
          "wall before / after |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    by_key = {(r["algo"], r["env"], r["seed"], r["variant"]): r for r in rows}
    for case in args.case:
        algo, env_id = case.split(":", 1)
        pairs = [
            (by_key[(algo, env_id, s, "before")], by_key[(algo, env_id, s, "after")]) for s in args.seeds
        ]
        for b, a in pairs:
            print(f"| {algo} | {env_id} | {b['seed']} | {a['total_steps']:,} | {b['eval_mean_return']:.1f} ± "
                  f"{b['eval_std_return']:.1f} | {a['eval_mean_return']:.1f} ± {a['eval_std_return']:.1f} | "
                  f"{b['wall_s']:.0f} s / {a['wall_s']:.0f} s |")  # fmt: skip
        if len(pairs) > 1:
            mean_b = np.mean([b["eval_mean_return"] for b, _ in pairs])
            mean_a = np.mean([a["eval_mean_return"] for _, a in pairs])
            print(f"| {algo} | {env_id} | mean | | {mean_b:.1f} | {mean_a:.1f} | |")
    wall = {v: sum(r["wall_s"] for r in rows if r["variant"] == v) for v in VARIANTS}
    print(f"\nwall time after/before: {wall['after'] / wall['before']:.2f}; 1-min load average "
          f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

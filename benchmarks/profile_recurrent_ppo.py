"""Where sb3-contrib's RecurrentPPO spends its time on tfpg/CartPoleNoVel-v1 (RL Zoo's ppo_lstm preset).

Runs ``RecurrentPPO("MlpLstmPolicy")`` for ``--steps`` env steps under cProfile with one torch thread (SB3's
fastest setting on this machine, shared/COMPAT.md) and prints the wall time split into collection (policy
forward, env step, buffer) and update (sequence minibatch building, forward, backward, optimizer), then the
top functions by own time. Needs the ``bench`` extra.

    nice -n 10 .venv/bin/python benchmarks/profile_recurrent_ppo.py --steps 16384
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

# RL Zoo's hyperparams/ppo_lstm.yml, CartPoleNoVel-v1 entry ("lin_" values decay linearly to 0).
RL_ZOO_CARTPOLE_NOVEL = dict(
    n_steps=32,
    batch_size=256,
    gae_lambda=0.8,
    gamma=0.98,
    n_epochs=20,
    ent_coef=0.0,
    learning_rate=lambda progress: 1e-3 * progress,
    clip_range=lambda progress: 0.2 * progress,
)
NUM_ENVS = 8

# (label, function name fragment as in pstats' "file:line(function)") for the breakdown; cumulative times.
PHASES = [
    ("collect_rollouts (all of collection)", "(collect_rollouts)"),
    ("  policy forward while acting", "recurrent/policies.py", "(forward)"),
    ("  env step (DummyVecEnv)", "(step_wait)"),
    ("train (all of the update)", "ppo_recurrent.py", "(train)"),
    ("  minibatch building (sequence padding)", "(_get_samples)"),
    ("  evaluate_actions (forward of the minibatch)", "(evaluate_actions)"),
    ("  backward", "(backward)"),
    ("  optimizer step", "(step)", "optim"),
]


def _cumulative(stats: pstats.Stats, *fragments: str) -> float:
    """Largest cumulative time of the functions whose 'file:line(name)' contains every fragment."""
    best = 0.0
    for (path, line, name), (_, _, _, cumtime, _) in stats.stats.items():
        label = f"{path}:{line}({name})"
        if all(fragment in label for fragment in fragments):
            best = max(best, cumtime)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=16_384, help="env steps to train (default 16384)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=25, help="functions to list by own time")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    import envs.partially_observed  # noqa: F401  (registers tfpg/CartPoleNoVel-v1)

    env = make_vec_env("tfpg/CartPoleNoVel-v1", n_envs=NUM_ENVS, seed=args.seed)
    model = RecurrentPPO("MlpLstmPolicy", env, seed=args.seed, device="cpu", **RL_ZOO_CARTPOLE_NOVEL)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    model.learn(args.steps)
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    print(
        f"RecurrentPPO MlpLstmPolicy, tfpg/CartPoleNoVel-v1, {model.num_timesteps} steps, {wall:.1f} s "
        f"under cProfile ({model.num_timesteps / wall:.0f} SPS; the profiler adds overhead)"
    )
    total = stats.total_tt
    for label, *fragments in PHASES:
        seconds = _cumulative(stats, *fragments)
        print(f"{label:<50} {seconds:8.2f} s  {100 * seconds / total:5.1f} %")
    print(f"\nTop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

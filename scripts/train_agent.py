"""Train an agent: ``python scripts/train_agent.py --env CartPole-v1``.

Hyperparameters come from ``agents/presets/<algo>.yaml`` (the env's entry, else ``default``); flags and
``--set field=value`` override them. The run goes to ``LOGDIR/RUN_NAME/`` (TensorBoard events, config.json,
checkpoint/, summary.json). Exit codes: 0 done, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter off the console
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.config import ALGO_CONFIGS, ConfigError, parse_override, resolve_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train a tfpg agent on a Gymnasium environment.",
        epilog="Example: python scripts/train_agent.py --env CartPole-v1 --seed 1 --set learning_rate=3e-4",
    )
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id (default: CartPole-v1)")
    parser.add_argument(
        "--algo", default="ppo", choices=sorted(ALGO_CONFIGS), help="algorithm (default: ppo)"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: 0)")
    parser.add_argument("--total-steps", type=int, help="environment steps to train (default: from preset)")
    parser.add_argument("--num-envs", type=int, help="parallel training envs (default: from preset)")
    parser.add_argument("--eval-episodes", type=int, help="final deterministic eval episodes (default: 20)")
    parser.add_argument("--logdir", default="runs", help="parent directory of runs (default: runs)")
    parser.add_argument("--run-name", help="run directory name (default: ENV__ALGO__sSEED__TIMESTAMP)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any config field, repeatable (e.g. --set learning_rate=3e-4 --set hidden_sizes=[64,64])",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    values = {}
    for flag, field in [
        ("seed", "seed"),
        ("total_steps", "total_steps"),
        ("num_envs", "num_envs"),
        ("eval_episodes", "eval_episodes"),
    ]:
        if getattr(args, flag) is not None:
            values[field] = getattr(args, flag)
    try:
        values.update(parse_override(text) for text in args.overrides)
        config = resolve_config(args.algo, args.env, values)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    # Heavy imports only once the arguments are known to be good.
    import gymnasium

    from agents.trainer import RunDirError, check_run_dir, default_run_name, train

    try:
        run_dir = check_run_dir(args.logdir, args.run_name or default_run_name(config))
    except RunDirError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"tfpg: training {config.run.algo} on {config.run.env_id} (preset: {config.preset}) → {run_dir}")
    try:
        summary = train(config, run_dir, progress=not args.no_progress, command=sys.argv)
    except KeyboardInterrupt:
        print(f"\ninterrupted; partial run saved in {run_dir}", file=sys.stderr)
        return 130
    except (gymnasium.error.Error, ValueError) as err:  # raised before anything is written
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    print(f"run saved in {run_dir}")
    print(f"view it: tensorboard --logdir {args.logdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

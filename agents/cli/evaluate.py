"""``tfpg-evaluate`` (= ``python scripts/evaluate.py``): ``tfpg-evaluate runs/RUN [--checkpoint best] [--json]``.

Rebuilds the run from its config.json (any algorithm), restores a checkpoint with its normalization statistics
and plays whole episodes. The defaults (episodes, envs, seed) reproduce the evaluation logged during training.
Exit codes: 0 done, 2 bad input (missing run dir, unreadable config.json, missing/corrupt/foreign checkpoint,
an env that cannot be made in this process).
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.cli import error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a tfpg run's checkpoint on its environment.")
    parser.add_argument(
        "path", metavar="RUN_DIR_OR_CHECKPOINT", help="a run directory or a checkpoint inside one"
    )
    parser.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint path")
    parser.add_argument("--episodes", type=int, help="episodes to play (default: the run's eval_episodes)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--deterministic",
        dest="deterministic",
        action="store_true",
        default=True,
        help="mode action (default)",
    )
    mode.add_argument("--stochastic", dest="deterministic", action="store_false", help="sample actions")
    parser.add_argument("--seed", type=int, help="env reset seed (default: the training-time eval seed)")
    parser.add_argument("--num-envs", type=int, help="parallel eval envs (default: the run's eval_envs)")
    parser.add_argument(
        "--max-episode-steps",
        type=int,
        help="cut episodes of an env with no time limit of its own after N steps, counted as capped "
        "(default: the run's eval_max_episode_steps, 10000)",
    )
    parser.add_argument("--render", choices=["human"], help="show the episodes in a window")
    parser.add_argument(
        "--video", metavar="DIR", help="record MP4s of every episode into DIR (needs moviepy)"
    )
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag, value, low, high in (
        ("--episodes", args.episodes, 1, None),
        ("--max-episode-steps", args.max_episode_steps, 1, None),
        ("--num-envs", args.num_envs, 1, 4096),
        ("--seed", args.seed, 0, 2**31 - 1),
    ):
        if value is not None and (value < low or (high is not None and value > high)):
            bounds = f"at least {low}" if high is None else f"in [{low}, {high}]"
            print(f"error: {flag} must be {bounds}, got {value}.", file=sys.stderr)
            return 2
    from agents.run.console import import_tensorflow

    import_tensorflow(headless=args.render != "human")
    import gymnasium

    from agents.run.loading import evaluate_loaded, load_run
    from agents.run.rundir import RunInputError

    try:
        loaded = load_run(args.path, args.checkpoint)
    except RunInputError as err:
        return error(err)
    try:
        result = evaluate_loaded(
            loaded,
            args.episodes,
            args.deterministic,
            args.seed,
            args.num_envs,
            args.render,
            args.video,
            args.max_episode_steps,
        )
    except gymnasium.error.DependencyNotInstalled as err:
        print(f"error: {err} (for --video: pip install 'tfpg[video]')", file=sys.stderr)
        return 2
    finally:
        loaded.close()
    keys = ("mean_return", "std_return", "mean_length", "episodes", "capped_episodes", "episode_cap")
    out = {k: result[k] for k in keys}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{loaded.checkpoint}: {json.dumps(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

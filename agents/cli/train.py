"""``tfpg-train`` (= ``python scripts/train_agent.py``): train an agent, or continue one with ``--resume RUN_DIR``.

Hyperparameters come from ``agents/presets/<algo>.yaml`` (the env's entry, else ``default``); flags and
``--set field=value`` override them. The run goes to ``LOGDIR/RUN_NAME/`` (TensorBoard events, config.json,
checkpoint/, best/, summary.json). Exit codes: 0 done (also when a callback such as ``--stop-at-return``
stopped it), 2 bad input, 130 stopped by SIGINT, 143 by SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from pathlib import Path

from agents.cli import error
from agents.config import ALGO_CONFIGS, ConfigError, parse_override, parse_wrapper, resolve_config
from agents.validation import check_output_dir, check_run_name
from envs.modes import VECTORIZATION_MODES

# flag attribute -> config field
FLAG_FIELDS = {
    "seed": "seed",
    "total_steps": "total_steps",
    "num_envs": "num_envs",
    "vectorization": "vectorization",
    "eval_episodes": "eval_episodes",
    "eval_every": "eval_every",
    "checkpoint_every": "checkpoint_every",
    "keep_checkpoints": "keep_checkpoints",
    "backend": "backend",
    "num_workers": "num_workers",
    "envs_per_worker": "envs_per_worker",
    "ray_address": "ray_address",
    "stop_at_return": "stop_at_return",
    "stop_patience": "stop_patience",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train a tfpg agent on a Gymnasium environment, or resume a stopped run.",
        epilog="Example: tfpg-train --env CartPole-v1 --seed 1 --set learning_rate=3e-4",
    )
    parser.add_argument(
        "--env",
        help="Gymnasium env id (default: CartPole-v1); your own: your_module:YourEnv-v0 (imports your_module, "
        "which registers it; on PYTHONPATH or installed)",
    )
    parser.add_argument(
        "--env-kwargs",
        dest="env_kwargs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument for the env's constructor, repeatable (values parsed as YAML)",
    )
    parser.add_argument(
        "--wrapper",
        dest="wrappers",
        action="append",
        nargs="+",
        default=[],
        metavar="ARG",
        help="apply a Gymnasium wrapper to every sub-env: --wrapper your_module:YourWrapper [KEY=VALUE ...]; "
        "repeatable, innermost first; recorded in config.json",
    )
    parser.add_argument("--algo", choices=sorted(ALGO_CONFIGS), help="algorithm (default: ppo)")
    parser.add_argument("--seed", type=int, help="random seed (default: 0)")
    parser.add_argument("--total-steps", type=int, help="environment steps to train (default: from preset)")
    parser.add_argument("--num-envs", type=int, help="parallel training envs (default: from preset)")
    parser.add_argument(
        "--vectorization",
        choices=VECTORIZATION_MODES,
        help="how the envs run: auto (default: the env's native vector env if it has one, else sync), sync "
        "(one process), async (a subprocess per env: for slow envs, when cores are free), vector_entry_point, "
        "envpool (EnvPool's C++ envs, if installed)",
    )
    parser.add_argument("--eval-episodes", type=int, help="deterministic eval episodes (default: 20)")
    parser.add_argument(
        "--eval-every",
        type=int,
        help="evaluate every N env steps; the best model goes to best/ (default: about 10 evaluations per run, "
        "the ones before the last with one episode per eval env; 0: at the end only)",
    )
    parser.add_argument(
        "--stop-at-return",
        type=float,
        metavar="R",
        help="stop training once an evaluation's mean return reaches R (a normal finished run)",
    )
    parser.add_argument(
        "--stop-patience",
        type=int,
        metavar="K",
        help="stop training once K evaluations in a row have not improved on the best one",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, help="save a checkpoint every N env steps (default: 0 = every 10%%)"
    )
    parser.add_argument("--keep-checkpoints", type=int, help="periodic checkpoints to keep (default: 3)")
    parser.add_argument(
        "--deterministic-ops",
        action="store_true",
        help="TensorFlow op determinism: runs with the same seed write identical scalars (slower)",
    )
    parser.add_argument(
        "--backend",
        choices=["inprocess", "ray"],
        help="rollout collection: inprocess (default) or ray workers",
    )
    parser.add_argument("--num-workers", type=int, help="Ray rollout workers (default: 2)")
    parser.add_argument(
        "--envs-per-worker", type=int, help="envs per Ray worker (default: num_envs / workers)"
    )
    parser.add_argument(
        "--ray-address", help="Ray cluster address to join (default: RAY_ADDRESS or a local Ray)"
    )
    parser.add_argument(
        "--log-graph", action="store_true", help="write the compiled update step's graph to TensorBoard"
    )
    parser.add_argument("--logdir", default="runs", help="parent directory of runs (default: runs)")
    parser.add_argument("--run-name", help="run directory name (default: ENV__ALGO__sSEED__TIMESTAMP)")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue RUN_DIR from its latest checkpoint to its total steps; its config.json is used and only "
        "--total-steps/--eval-*/--checkpoint-every/--keep-checkpoints may change",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any config field, repeatable (e.g. --set learning_rate=3e-4 --set hidden_sizes=[64,64])",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up log lines (hidden by default)"
    )
    return parser


def _saved_cnn(run_dir: Path) -> str:
    """The ``cnn`` field of a run's config.json, read before TensorFlow is imported; "auto" when it cannot be read
    (``load_run_config`` reports what is wrong with the file, after the import)."""
    try:
        return str(json.loads((run_dir / "config.json").read_text())["network"].get("cnn", "auto"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "auto"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    values = {
        field: getattr(args, flag) for flag, field in FLAG_FIELDS.items() if getattr(args, flag) is not None
    }
    if args.deterministic_ops:
        values["deterministic_ops"] = True
    if args.log_graph:
        values["log_graph"] = True
    try:
        if args.env_kwargs:
            values["env_kwargs"] = dict(parse_override(text) for text in args.env_kwargs)
        if args.wrappers:
            values["wrappers"] = [parse_wrapper(tokens) for tokens in args.wrappers]
        values.update(parse_override(text) for text in args.overrides)
        if args.resume is None:
            env_id = args.env if args.env is not None else "CartPole-v1"  # --env "" is refused, not defaulted
            config = resolve_config(args.algo or "ppo", env_id, values)
            # Where the run goes, checked before TensorFlow's ~2 s import (check_run_dir checks it again).
            if args.run_name is not None:
                check_run_name(args.run_name)
            check_output_dir(args.logdir, "--logdir")
    except ConfigError as err:
        return error(err)

    # Heavy imports only once the arguments are known to be good; TensorFlow's start-up notices filtered.
    from agents.run.console import import_tensorflow, wants_onednn

    cnn = config.network.cnn if args.resume is None else _saved_cnn(Path(args.resume))
    import_tensorflow(verbose=args.verbose, onednn=wants_onednn(cnn))
    import gymnasium
    from tensorflow import errors as tf_errors

    from agents.run import checkpoint as ckpt
    from agents.run.building import check_user_code
    from agents.run.guards import NonFiniteError
    from agents.run.rundir import (
        RunInputError,
        apply_resume_overrides,
        check_run_dir,
        default_run_name,
        is_disk_full,
        load_run_config,
    )
    from agents.run.signals import StoppedBeforeStart
    from agents.run.trainer import train
    from envs.user import UserCodeError

    run_dir = None
    try:
        if args.resume is not None:
            run_dir = Path(args.resume)
            config = load_run_config(run_dir)
            if args.env is not None:
                values["env_id"] = args.env
            if args.algo is not None:
                values["algo"] = args.algo
            config = apply_resume_overrides(config, values)
            print(f"tfpg: resuming {config.run.algo} on {config.run.env_id} in {run_dir}")
        else:
            run_dir = check_run_dir(args.logdir, args.run_name or default_run_name(config))
            check_user_code(config)
            print(
                f"tfpg: training {config.run.algo} on {config.run.env_id} (preset: {config.preset}) → {run_dir}"
            )
        summary = train(
            config, run_dir, progress=not args.no_progress, command=sys.argv, resume=args.resume is not None
        )
    # ImportError: e.g. the ray extra is missing; NonFiniteError: training stopped at the last good checkpoint.
    except (RunInputError, UserCodeError, ImportError, NonFiniteError) as err:
        return error(err)
    except (OSError, tf_errors.OpError) as err:
        if not is_disk_full(err):
            raise
        latest = ckpt.latest_in(run_dir / ckpt.CHECKPOINT_DIR) if run_dir else None
        kept = f"the last complete checkpoint is {latest}" if latest else "no checkpoint was completed"
        print(f"error: no space left on the device while writing {run_dir} ({str(err).splitlines()[0][:200]}). "
              f"Training stopped; {kept}. Free some space, then continue with: {_resume_command(run_dir)}",
              file=sys.stderr)  # fmt: skip
        return 1
    except StoppedBeforeStart as stopped:
        print(f"\nstopped by {stopped} before anything was written; nothing to resume", file=sys.stderr)
        return 128 + stopped.signum
    except KeyboardInterrupt:
        latest = ckpt.latest_in(run_dir / ckpt.CHECKPOINT_DIR) if run_dir else None
        if run_dir is None:
            print("\naborted", file=sys.stderr)
        elif latest is None:
            print(f"\naborted before the first checkpoint of {run_dir}", file=sys.stderr)
            print(f"start it again from step 0 with: {_resume_command(run_dir)}", file=sys.stderr)
        else:
            print(f"\naborted; the last saved checkpoint is {latest}", file=sys.stderr)
            print(_resume_hint(run_dir), file=sys.stderr)
        return 130
    except (gymnasium.error.Error, ValueError) as err:  # raised before anything is written
        return error(err)
    print(json.dumps(summary, indent=2))
    if summary.get("stop_reason"):
        print(f"stopped early: {summary['stop_reason']}")
    if summary["interrupted"]:
        print(f"stopped at step {summary['total_steps']}; checkpoint saved in {run_dir}", file=sys.stderr)
        print(_resume_hint(run_dir), file=sys.stderr)
        return 128 + int(getattr(signal, summary["signal"] or "SIGINT"))
    print(f"run saved in {run_dir}")
    print(f"view it: tensorboard --logdir {run_dir.parent}")
    return 0


def _resume_command(run_dir: Path) -> str:
    program = "tfpg-train" if Path(sys.argv[0]).name == "tfpg-train" else "python scripts/train_agent.py"
    return f"{program} --resume {shlex.quote(str(run_dir))}"


def _resume_hint(run_dir: Path) -> str:
    return f"resume with: {_resume_command(run_dir)}"


if __name__ == "__main__":
    sys.exit(main())

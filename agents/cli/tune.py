"""``tfpg-tune`` (= ``python scripts/tune.py``): hyperparameter search with Optuna, every trial a normal run.

``tfpg-tune --env Pendulum-v1 --algo ppo --trials 24 --jobs 2 --total-steps 32768`` samples the search space
``agents/presets/search/<algo>.yaml`` on top of the env's preset, prunes trials on their intermediate
evaluations (median pruner), keeps the study in ``LOGDIR/STUDY/study.db`` beside the trials' run directories
(rerun the same command to resume an interrupted study), and prints and writes the best config as a preset
entry (``best_preset.yaml``). Needs the ``tune`` extra (``pip install 'tfpg[tune]'``). How it works:
``agents/run/tuning.py``. Exit codes: 0 done, 2 bad input, 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from agents.cli import error
from agents.config import ALGO_CONFIGS, ConfigError, parse_override, resolve_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Search hyperparameters with Optuna; every trial is a normal tfpg run directory.",
        epilog="Example: tfpg-tune --env Pendulum-v1 --algo ppo --trials 24 --jobs 2 --total-steps 32768",
    )
    parser.add_argument("--env", default="CartPole-v1", help="Gymnasium env id (default: CartPole-v1)")
    parser.add_argument(
        "--algo", default="ppo", choices=sorted(ALGO_CONFIGS), help="algorithm (default: ppo)"
    )
    parser.add_argument("--trials", type=int, default=20, help="finished trials to reach (default: 20)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="trials in parallel, one process each (default: 1)"
    )
    parser.add_argument(
        "--total-steps", type=int, default=50_000, help="env steps per trial (default: 50000)"
    )
    parser.add_argument(
        "--backend",
        choices=["processes", "ray"],
        default="processes",
        help="where the --jobs trial loops run: local processes (default) or Ray tasks (needs the ray extra)",
    )
    parser.add_argument(
        "--ray-address", help="Ray cluster to join with --backend ray (default: RAY_ADDRESS or a local Ray)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every trial (default: 0)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="fix a config field for every trial, repeatable (sampled parameters still win)",
    )
    parser.add_argument("--space", help="search space YAML (default: agents/presets/search/ALGO.yaml)")
    parser.add_argument(
        "--pruner", choices=["median", "none"], default="median", help="prune on intermediate evaluations"
    )
    parser.add_argument(
        "--startup-trials", type=int, default=5, help="trials finished before pruning starts (default: 5)"
    )
    parser.add_argument(
        "--logdir", default="runs/tune", help="parent of the study directory (default: runs/tune)"
    )
    parser.add_argument("--study-name", help="study directory name (default: ENV__ALGO)")
    parser.add_argument("--worker", metavar="TUNE_JSON", help=argparse.SUPPRESS)  # a --jobs worker process
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    try:
        import optuna  # noqa: F401  (the optional extra)
    except ImportError:
        return error("tfpg-tune needs Optuna: pip install 'tfpg[tune]' (or pip install optuna==5.0.0).")
    from agents.run.search_space import load_search_space
    from agents.run.tuning import TuneSpec, save_spec
    from envs.user import UserCodeError, check_env_id, wrapper_factories

    for flag, value in (
        ("--trials", args.trials),
        ("--jobs", args.jobs),
        ("--total-steps", args.total_steps),
    ):
        if value < 1:
            return error(f"{flag} must be at least 1, got {value}.")
    study_name = args.study_name or f"{args.env}__{args.algo}".replace("/", "_")
    try:
        overrides = dict(parse_override(text) for text in args.overrides)
        space, _ = load_search_space(args.algo, args.env, args.space)
        # What every trial shares: the overrides, then the space's fixed values (as trials merge them), e.g. a
        # space's num_envs decides whether the budget holds one rollout.
        fixed = {name: value for name, value in space.items() if not isinstance(value, dict)}
        values = {**overrides, **fixed, "total_steps": args.total_steps}
        config = resolve_config(args.algo, args.env, values)
        check_env_id(args.env)
        wrapper_factories(config.run.wrappers)
        spec = TuneSpec(
            env_id=args.env, algo=args.algo, study_dir=str(Path(args.logdir) / study_name), trials=args.trials,
            jobs=args.jobs, total_steps=args.total_steps, seed=args.seed, overrides=overrides,
            space_file=str(Path(args.space).resolve()) if args.space else None, pruner=args.pruner,
            startup_trials=args.startup_trials,
        )  # fmt: skip
        if args.backend == "ray":
            _check_ray(args.ray_address)
        save_spec(spec)
    except (ConfigError, UserCodeError, ImportError) as err:
        return error(str(err))
    return _run(spec, args.backend, args.ray_address)


def _check_ray(address: str | None) -> None:
    """Before anything is written: Ray importable (ImportError says how to install it) and, for a cluster,
    something listening at its address (ConfigError)."""
    from agents.experience import ray_backend

    ray_backend.import_ray()
    check = getattr(ray_backend, "check_ray_address", None)  # the scale branch's fast address check
    if check is not None:
        try:
            check(address)
        except ValueError as err:
            raise ConfigError(str(err)) from None


def _run(spec, backend: str = "processes", ray_address: str | None = None) -> int:
    from agents.run.tuning import BEST_FILE, best_preset, finished, open_study, requeue_interrupted

    study = open_study(spec)
    retried = requeue_interrupted(spec, study)
    print(
        f"tfpg-tune: {spec.algo} on {spec.env_id}, {spec.total_steps} steps per trial, study {spec.study_dir} "
        f"({finished(study)}/{spec.trials} trials finished"
        + (f"; resuming interrupted trials {retried}" if retried else "")
        + f"), {spec.jobs} job(s)"
        + (" as Ray tasks" if backend == "ray" else "")
    )
    if backend == "ray":
        interrupted = _in_ray(spec, ray_address)
    else:
        interrupted = _in_process(spec) if spec.jobs == 1 else _in_workers(spec)
    study = open_study(spec)
    _print_trials(study)
    if any(t.value is not None for t in study.trials):
        text, _ = best_preset(spec, study)
        (Path(spec.study_dir) / BEST_FILE).write_text(text)
        print(f"\nbest config as a preset entry ({spec.study_dir}/{BEST_FILE}):\n{text}")
    if interrupted:
        print(f"interrupted; rerun the same command to resume the study in {spec.study_dir}", file=sys.stderr)
        return 130
    print(f"compare the trials: tensorboard --logdir {spec.study_dir} (HParams tab)")
    return 0


def _in_process(spec) -> bool:
    """``--jobs 1``: trials in this process. Returns whether a signal interrupted the study."""
    from agents.run.console import import_tensorflow

    import_tensorflow()
    from agents.run.tuning import TrialInterrupted, optimize

    try:
        optimize(spec)
    except (TrialInterrupted, KeyboardInterrupt):
        return True
    return False


def _in_workers(spec) -> bool:
    """``--jobs J``: J worker processes on the shared study. Each runs in its own session, so a Ctrl-C reaches
    only this process, which passes each signal on once (first: trials stop gracefully; second: abort)."""
    from agents.run.tuning import SPEC_FILE

    spec_file = str(Path(spec.study_dir) / SPEC_FILE)
    root = str(Path(__file__).resolve().parents[2])  # so the workers import this checkout's agents
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "agents.cli.tune", "--worker", spec_file]
    workers = [subprocess.Popen(command, env=env, start_new_session=True) for _ in range(spec.jobs)]
    signalled = []

    def forward(signum, frame) -> None:
        signalled.append(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        codes = [worker.wait() for worker in workers]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [code for code in codes if code not in (0, 130)]
    if failed and not signalled:
        print(f"tfpg-tune: worker(s) failed with exit codes {failed}; their output is above", file=sys.stderr)
    return bool(signalled) or 130 in codes


def _in_ray(spec, address: str | None) -> bool:
    """``--backend ray``: J Ray tasks, each the trial loop of a ``--jobs`` worker (``optimize``) on the shared
    study. Ctrl-C/SIGTERM cancels them: Ray raises KeyboardInterrupt in each task, whose running trial stops
    gracefully (checkpoint saved, marked interrupted) as with worker processes.

    The study is the SQLite file in ``study_dir``: every node running a task must see that path (one machine,
    or a shared filesystem), and the trials' run directories are written there too."""
    from agents.experience.ray_backend import init_ray
    from agents.run.tuning import SPEC_FILE

    if not (address or os.environ.get("RAY_ADDRESS")):
        # A local Ray listens on all interfaces unless this is set before it starts (shared COMPAT notes).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    spec_file = str((Path(spec.study_dir) / SPEC_FILE).resolve())  # tasks may start in another directory
    ray = init_ray(address, num_cpus=max(spec.jobs, len(os.sched_getaffinity(0))))
    interrupted = []

    def on_signal(signum, frame) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    refs = []
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # SPREAD: on a cluster, one trial loop per node before any node gets a second (as benchmark.py's runs)
        task = ray.remote(num_cpus=1, max_retries=0, scheduling_strategy="SPREAD")(_ray_task)
        refs = [task.remote(spec_file) for _ in range(spec.jobs)]
        codes = _ray_results(ray, refs)
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref)  # KeyboardInterrupt inside each task: its trial saves a checkpoint and stops
        codes = _ray_results(ray, refs)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        ray.shutdown()
    failed = [code for code in codes if code not in (0, 130)]
    if failed and not interrupted:
        print(f"tfpg-tune: Ray task(s) failed: {failed}; their output is above", file=sys.stderr)
    return bool(interrupted) or 130 in codes


def _ray_results(ray, refs) -> list:
    """Each task's exit code (0 done, 130 interrupted), or its error's first line when it raised."""
    codes = []
    for ref in refs:
        try:
            codes.append(ray.get(ref))
        except ray.exceptions.TaskCancelledError:
            codes.append(130)
        except ray.exceptions.RayTaskError as err:
            codes.append(130 if isinstance(err.cause, KeyboardInterrupt) else str(err).splitlines()[0])
    return codes


def _ray_task(spec_file: str) -> int:
    """Body of one Ray task: a ``--jobs`` worker's loop, with the study directory as an absolute path (the
    task's working directory need not be the driver's)."""
    from agents.run.tuning import load_spec

    spec = load_spec(spec_file)
    spec.study_dir = str(Path(spec_file).parent)
    return _worker_loop(spec)


def _worker(spec_file: str) -> int:
    from agents.run.tuning import load_spec

    return _worker_loop(load_spec(spec_file))


def _worker_loop(spec) -> int:
    from agents.run.console import import_tensorflow

    import_tensorflow()
    from agents.run.tuning import TrialInterrupted, optimize

    try:
        optimize(spec)
    except (TrialInterrupted, KeyboardInterrupt):
        return 130
    return 0


def _print_trials(study) -> None:
    """One line per trial, best final evaluation first (a pruned trial's final evaluation too: its run ends
    with one; Optuna's own value of a pruned trial is its last intermediate evaluation)."""

    def final(trial) -> float | None:
        return trial.user_attrs.get("eval_mean_return")

    trials = sorted(study.trials, key=lambda t: (final(t) is None, -(final(t) or 0.0)))
    print(f"\n{'trial':>5}  {'state':<8}  {'final eval':>10}  run")
    for t in trials:
        value = f"{final(t):10.2f}" if final(t) is not None else f"{'-':>10}"
        print(f"{t.number:5d}  {t.state.name:<8}  {value}  {t.user_attrs.get('run_dir', '')}")


if __name__ == "__main__":
    sys.exit(main())

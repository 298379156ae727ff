"""The outer loop of every run: collect → update → log → evaluate (keep best) → checkpoint → summary.

The run directory layout is described in ``agents/runs.py``; checkpoints in ``agents/checkpoint.py``.
A run can stop at any moment and continue: ``train(..., resume=True)`` restores the latest checkpoint
(network, optimizer, RNG, counters, schedules, normalization statistics) and goes on from its env step.
Environments are not checkpointed: a resumed run starts new episodes (reset with seed + restored step).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from agents.algorithms.registry import ALGORITHMS
from agents.config import ResolvedConfig
from agents.experience.acting import Policy
from agents.experience.collection import make_collection
from agents.experience.evaluation import evaluate
from agents.experience.ray_backend import import_ray
from agents.experience.rollout import EpisodeStats
from agents.run import checkpoint as ckpt
from agents.run.building import make_env, make_policy
from agents.run.checkpoint import NormalizationVariables, make_checkpoint
from agents.run.logging import TensorBoardLogger
from agents.run.rundir import (  # re-exported: scripts and other tools import them from here
    CONFIG_FILE,
    SUMMARY_FILE,
    RunDirError,
    RunInputError,
    check_run_dir,
    default_run_name,
    trim_events_after,
    write_json_atomic,
)
from agents.run.summaries import log_policy_video, log_run_header, policy_histograms, policy_scalars
from envs import freeze_normalization, get_normalization_state, set_normalization_state

__all__ = ["RunDirError", "RunInputError", "build_run", "check_run_dir", "default_run_name", "train"]

MetricsCallback = Callable[[int, Any, Any, dict[str, float]], Mapping[str, float] | None]
"""``callback(env_steps, rollout, episodes, metrics) -> {tag: value}``: custom scalars after each update."""

EVAL_SEED_OFFSET = 10_000
"""Evaluation envs are seeded away from the training envs (which use seed .. seed + num_envs - 1)."""


@dataclass
class Run:
    """The live objects of one run, built from its config (also used by tests and evaluation tools)."""

    config: ResolvedConfig
    env: Any
    eval_env: Any
    policy: Policy
    agent: Any
    normalization: NormalizationVariables
    counters: dict[str, tf.Variable]
    checkpoint: tf.train.Checkpoint
    run_info: dict[str, Any]

    def close(self) -> None:
        self.env.close()
        self.eval_env.close()


def build_run(config: ResolvedConfig) -> Run:
    """Seed everything and build envs, network, policy, agent and checkpoint for ``config``."""
    rc, net = config.run, config.network
    if rc.deterministic_ops:
        tf.config.experimental.enable_op_determinism()  # process-wide; needs the seeds set just below
    keras.utils.set_random_seed(rc.seed)  # Python, NumPy and TensorFlow global seeds
    env = make_env(config, rc.num_envs, rc.seed)
    eval_env = make_env(config, rc.eval_envs, rc.seed + EVAL_SEED_OFFSET, training=False)
    freeze_normalization(eval_env)
    policy = make_policy(config, env, seed=rc.seed)
    agent = ALGORITHMS[rc.algo].factory(config.agent, policy, env)
    normalization = NormalizationVariables(get_normalization_state(env))
    counters = {
        "env_steps": tf.Variable(0, dtype=tf.int64, trainable=False),
        "updates": tf.Variable(0, dtype=tf.int64, trainable=False),
        "train_time_s": tf.Variable(0.0, dtype=tf.float64, trainable=False),
        "best_eval_return": tf.Variable(-np.inf, dtype=tf.float64, trainable=False),
    }
    info = {
        "env_id": rc.env_id,
        "algo": rc.algo,
        "observation_space": str(env.single_observation_space),
        "action_space": str(env.single_action_space),
        "network": dataclasses.asdict(net),
    }
    checkpoint = make_checkpoint(agent.checkpoint_items(), normalization, counters, info)
    return Run(config, env, eval_env, policy, agent, normalization, counters, checkpoint, info)


def restore_run(run: Run, prefix: str) -> None:
    """Load checkpoint ``prefix`` into ``run`` (validated) and its normalization statistics into both envs."""
    ckpt.restore(run.checkpoint, prefix, run.run_info)
    run.policy.drop_staged()
    state = run.normalization.state()
    if state:
        set_normalization_state(run.env, state)
        set_normalization_state(run.eval_env, state)


def sync_eval_normalization(run: Run) -> None:
    """Evaluation sees exactly the training env's current normalization statistics (frozen)."""
    state = get_normalization_state(run.env)
    if state:
        set_normalization_state(run.eval_env, state)


class GracefulStop:
    """SIGINT/SIGTERM handling: the first signal stops training after the current update (which is then
    checkpointed); a second one aborts at once with ``KeyboardInterrupt``. Only in the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print(
            f"\ntfpg: {signal.Signals(signum).name} received; saving a checkpoint after this update "
            f"(send it again to abort without saving)",
            file=sys.stderr,
        )

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _crossed(steps: int, every: int, step_size: int) -> bool:
    """Did the last ``step_size`` steps, ending at ``steps``, pass a multiple of ``every``?"""
    return every > 0 and steps // every > (steps - step_size) // every


def train(
    config: ResolvedConfig,
    run_dir: Path,
    progress: bool = True,
    command: list[str] | None = None,
    resume: bool = False,
    callbacks: Sequence[MetricsCallback] = (),
) -> dict[str, Any]:
    """Train one run into ``run_dir`` (or continue it when ``resume``) and return its summary.

    ``callbacks`` add custom TensorBoard scalars: each is called after every update as
    ``callback(env_steps, rollout, episodes, metrics)`` and may return a dict of scalars to log at that step.

    Envs, network and agent are built (and on resume the checkpoint restored and validated) before anything
    is written, so bad input leaves the run directory untouched. On SIGINT/SIGTERM the run saves a
    checkpoint and returns a summary with ``"interrupted": True`` and ``"signal"``.

    Raises:
        RunDirError: a new run's directory already holds files.
        CheckpointError: on resume, the checkpoint is missing, corrupt or from another run.
    """
    start = time.perf_counter()
    run_dir = Path(run_dir)
    if not resume:
        check_run_dir(str(run_dir.parent), run_dir.name)
    if config.run.backend == "ray":
        import_ray()  # before anything is built or written: says how to install it when it is missing
    run = build_run(config)
    try:
        start_steps = 0
        if resume:
            prefix = ckpt.resolve_checkpoint(run_dir, "latest")
            restore_run(run, prefix)
            start_steps = int(run.counters["env_steps"].numpy())
            _recall_best_return(run, run_dir)
        # --- input is good: from here on the run directory is written ---
        return _train_loop(config, run, run_dir, start, start_steps, resume, progress, command, callbacks)
    finally:
        run.close()


def _train_loop(
    config, run, run_dir, start, start_steps, resume, progress, command, callbacks
) -> dict[str, Any]:
    rc = config.run
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_config = {**config.to_dict(), "command": command or []}
    if resume:
        previous = json.loads((run_dir / CONFIG_FILE).read_text())
        saved_config["command"] = previous.get("command", [])
        saved_config["resume_commands"] = [*previous.get("resume_commands", []), command or []]
        trim_events_after(run_dir, start_steps)
        ckpt.remove_stale(run_dir / ckpt.CHECKPOINT_DIR, start_steps)
    write_json_atomic(run_dir / CONFIG_FILE, saved_config)
    logger = TensorBoardLogger(str(run_dir))
    if not resume:
        log_run_header(logger, config.to_dict(), command or [], trial_id=run_dir.name)

    def video_env(**kwargs):
        return make_env(config, 1, rc.seed + EVAL_SEED_OFFSET, training=False, vectorization="sync", **kwargs)

    manager = ckpt.make_manager(run.checkpoint, run_dir / ckpt.CHECKPOINT_DIR, rc.keep_checkpoints)
    best_manager = ckpt.make_manager(run.checkpoint, run_dir / ckpt.BEST_DIR, 1)

    steps_per_rollout = rc.num_envs * config.agent.num_steps
    total_steps = max(1, rc.total_steps // steps_per_rollout) * steps_per_rollout
    checkpoint_every = rc.checkpoint_every or max(steps_per_rollout, total_steps // 10)
    # The first call of the compiled update (trace + graph optimization, ~1 s) is start-up, not training.
    # It is the call whose graph --log-graph records: later calls reuse the built graph and record nothing.
    if rc.log_graph:
        logger.trace_on()
    run.agent.warm_up(histograms=rc.histogram_every > 0)
    if rc.log_graph:
        logger.trace_export("train/update_step", start_steps)
    # New episodes after a resume: not the ones the run started with.
    collection = make_collection(config, run.env, run.policy, seed=rc.seed + start_steps)
    recent_returns: deque[float] = deque(maxlen=20)
    unlogged = EpisodeStats()
    bar = tqdm(total=total_steps, initial=start_steps, unit="step", disable=not progress, mininterval=0.5,
               file=sys.stderr)  # fmt: skip
    steps, last_saved = start_steps, start_steps if resume else -1
    updates = int(run.counters["updates"].numpy())
    prior_time = float(run.counters["train_time_s"].numpy())
    session_start, eval_time = time.perf_counter(), 0.0

    def train_time() -> float:
        return prior_time + time.perf_counter() - session_start - eval_time

    def sync_counters() -> None:
        # The loop counts in Python (an eager assign per update costs ~50 µs, a visible share of A2C's
        # 40-step iterations); the checkpointed variables catch up before every save.
        run.counters["env_steps"].assign(steps)
        run.counters["updates"].assign(updates)
        run.counters["train_time_s"].assign(train_time())

    def save_latest() -> str:
        sync_counters()
        run.normalization.assign(get_normalization_state(run.env))
        logger.flush()  # every event up to this step is on disk before the checkpoint that covers it
        return ckpt.save(manager, steps)

    def evaluate_and_keep_best() -> dict:
        nonlocal eval_time
        t0 = time.perf_counter()
        result = _log_eval(run, logger, steps, rc.eval_episodes)
        if rc.video:
            log_policy_video(logger, run_dir, run, video_env, steps)
        if result["mean_return"] > run.counters["best_eval_return"].numpy():
            run.counters["best_eval_return"].assign(result["mean_return"])
            sync_counters()
            run.normalization.assign(get_normalization_state(run.env))  # the statistics it was evaluated with
            prefix = ckpt.save(best_manager, steps)
            best = {k: v for k, v in result.items() if k not in ("returns", "lengths")}
            best.update(step=steps, checkpoint=str(Path(prefix).relative_to(run_dir)))
            write_json_atomic(run_dir / ckpt.BEST_DIR / "best.json", best)
        eval_time += time.perf_counter() - t0
        return result

    result, aborted = None, False
    with GracefulStop() as stop:
        try:
            while steps < total_steps and stop.signum is None:
                t0 = time.perf_counter()
                rollout, episodes, collect_scalars = collection.collect(run.policy)
                t1 = time.perf_counter()
                metrics = run.agent.learn(rollout, progress=steps / total_steps)
                t2 = time.perf_counter()
                steps += steps_per_rollout
                updates += 1
                if rc.histogram_every and updates % rc.histogram_every == 0:
                    t3 = time.perf_counter()  # computing them (gradients) is logging cost too
                    values = policy_histograms(run.policy, rollout, run.agent)
                    logger.seconds += time.perf_counter() - t3
                    logger.histograms(values, steps)
                recent_returns.extend(episodes.returns)
                unlogged.merge(episodes)  # episodes that finished since the last write
                if updates % rc.log_every == 0 or steps >= total_steps:
                    scalars = {f"train/{k}": v for k, v in metrics.items()}  # the latest update's
                    scalars.update(collect_scalars)
                    scalars["time/collect_s"], scalars["time/update_s"] = t1 - t0, t2 - t1
                    scalars["time/sps"] = steps / max(train_time(), 1e-9)
                    unlogged.env_s, unlogged.act_s = episodes.env_s, episodes.act_s  # the latest rollout's
                    scalars.update(unlogged.scalars())
                    scalars.update(policy_scalars(run.policy))
                    for callback in callbacks:
                        scalars.update(callback(steps, rollout, episodes, metrics) or {})
                    logger.write(scalars, step=steps)
                    unlogged = EpisodeStats()
                if steps < total_steps and _crossed(steps, rc.eval_every, steps_per_rollout):
                    evaluate_and_keep_best()
                if steps < total_steps and _crossed(steps, checkpoint_every, steps_per_rollout):
                    save_latest()
                    last_saved = steps
                bar.update(steps_per_rollout)
                if progress and recent_returns:  # np.mean per update is not free
                    bar.set_postfix(
                        sps=f"{steps / max(train_time(), 1e-9):.0f}",
                        ret=f"{np.mean(recent_returns):.1f}",
                        refresh=False,
                    )
            bar.close()
            if stop.signum is None and steps > start_steps:
                result = evaluate_and_keep_best()
            elif stop.signum is None and steps:
                # Resumed a run that had finished training (e.g. killed before its summary): evaluate only.
                result = _evaluate(run, rc.eval_episodes)
            if steps != last_saved:
                save_latest()
        except KeyboardInterrupt:
            aborted = True  # second signal: the state may be mid-update, so keep the last saved checkpoint
        finally:
            collection.close()
    logger.close()
    latest = ckpt.latest_in(run_dir / ckpt.CHECKPOINT_DIR)
    best_prefix = ckpt.latest_in(run_dir / ckpt.BEST_DIR)
    saved_time = float(run.counters["train_time_s"].numpy()) if not aborted else train_time()
    steps_done = steps if not aborted else int(latest.rsplit("-", 1)[1]) if latest else 0
    # A signal that arrives once training is done (e.g. during the final evaluation) stops nothing.
    stopped_early = aborted or (stop.signum is not None and steps < total_steps)
    summary = {
        "env": rc.env_id,
        "algo": rc.algo,
        "seed": rc.seed,
        "total_steps": steps_done,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "train_time_s": round(saved_time, 3),
        "sps": round(steps_done / saved_time, 1) if saved_time else 0.0,
        "eval_mean_return": result["mean_return"] if result else None,
        "eval_std_return": result["std_return"] if result else None,
        "eval_mean_length": result["mean_length"] if result else None,
        "eval_episodes": result["episodes"] if result else 0,
        "interrupted": stopped_early,
        "signal": (signal.Signals(stop.signum).name if stop.signum else "SIGINT") if stopped_early else None,
        "resumed_from_step": start_steps if resume else None,
        "checkpoint": str(Path(latest).relative_to(run_dir)) if latest else None,
        "best_checkpoint": str(Path(best_prefix).relative_to(run_dir)) if best_prefix else None,
        "best_eval_return": _finite_or_none(run.counters["best_eval_return"].numpy()),
        "logging_time_s": round(logger.seconds, 3),
    }
    write_json_atomic(run_dir / SUMMARY_FILE, summary)
    if aborted:
        raise KeyboardInterrupt
    return summary


def _recall_best_return(run: Run, run_dir: Path) -> None:
    """A best model saved after the restored checkpoint still counts: later evaluations must beat it."""
    best_file = run_dir / ckpt.BEST_DIR / "best.json"
    try:
        best = float(json.loads(best_file.read_text())["mean_return"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if best > run.counters["best_eval_return"].numpy():
        run.counters["best_eval_return"].assign(best)


def _finite_or_none(value) -> float | None:
    return float(value) if np.isfinite(value) else None


def _evaluate(run: Run, episodes: int) -> dict:
    sync_eval_normalization(run)
    return evaluate(run.policy.predict, run.eval_env, episodes, seed=run.config.run.seed + EVAL_SEED_OFFSET)


def _log_eval(run: Run, logger: TensorBoardLogger, steps: int, episodes: int) -> dict:
    result = _evaluate(run, episodes)
    logger.write(
        {
            "eval/mean_return": result["mean_return"],
            "eval/std_return": result["std_return"],
            "eval/mean_length": result["mean_length"],
        },
        step=steps,
    )
    return result

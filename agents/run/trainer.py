"""The outer loop of every run: collect → update → log → evaluate (keep best) → checkpoint → summary.

The run directory layout is described in ``agents/run/rundir.py``; checkpoints in ``agents/run/checkpoint.py``;
summary.json's keys in ``agents/run/summary_file.py``; signal handling in ``agents/run/signals.py``; what a resume
changes in the run directory in ``agents/run/resuming.py``.
A run can stop at any moment and continue: ``train(..., resume=True)`` restores the latest checkpoint
(network, optimizer, RNG, counters, schedules, normalization statistics) and goes on from its env step.
Environments are not checkpointed: a resumed run starts new episodes (reset with seed + restored step).

The one thing the learner hands the acting side is a ``Snapshot`` (weights + the next rollout's noise):
``collection.collect(snapshot)`` → rollout → ``agent.learn(rollout)`` → metrics and the next snapshot.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from agents.algorithms.warmup import count_state_variables
from agents.config import ResolvedConfig
from agents.experience.collection import make_collection
from agents.experience.collector import EpisodeStats
from agents.experience.evaluation import evaluate
from agents.experience.masks import MaskCounts
from agents.experience.ray_session import ray_connection
from agents.run import checkpoint as ckpt
from agents.run.building import (
    EVAL_SEED_OFFSET,
    Run,
    build_run,
    eval_episode_cap,
    make_eval_env,
    restore_run,
    sync_eval_normalization,
)
from agents.run.callbacks import Callback, MetricsCallback, dispatch, split_callbacks
from agents.run.guards import (
    NonFiniteError,
    first_non_finite_metric,
    first_non_finite_rollout_field,
    first_non_finite_weight,
)
from agents.run.logging import TensorBoardLogger
from agents.run.resuming import recall_best_return, write_config
from agents.run.rundir import (
    SUMMARY_FILE,
    check_run_dir,
    claim_run_dir,
    clear_unstarted,
    never_saved,
    write_json_atomic,
)
from agents.run.signals import GracefulStop, StoppedBeforeStart
from agents.run.summaries import log_policy_video, log_run_header, policy_histograms, policy_scalars
from agents.run.summary_file import run_summary
from envs.wrappers import get_normalization_state


def train(
    config: ResolvedConfig,
    run_dir: Path,
    progress: bool = True,
    command: list[str] | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback | MetricsCallback] = (),
) -> dict[str, Any]:
    """Train one run into ``run_dir`` (or continue it when ``resume``) and return its summary.

    ``callbacks`` (agents/run/callbacks.py): ``Callback`` objects act on updates, evaluations and checkpoints
    (stop the run, save a checkpoint), after the config's built-ins (``stop_at_return``, ``stop_patience``);
    plain functions ``fn(env_steps, rollout, episodes, metrics)`` return custom scalars to log at that step.

    Envs, network and agent are built (and on resume the checkpoint restored and validated) before anything
    is written, so bad input leaves the run directory untouched. The run directory is then held by this process
    (a second training into it is refused). Resuming a run that stopped before its first checkpoint starts it
    again in place from step 0. On SIGINT/SIGTERM (from the start on, warm-up included) the run saves a
    checkpoint and returns a summary with ``"interrupted": True`` and ``"signal"``; a signal that arrives
    before anything is written raises ``StoppedBeforeStart`` instead.

    Raises:
        RunDirError: a new run's directory already holds files, or another process is writing the run.
        CheckpointError: on resume, the checkpoint is corrupt or from another run.
        NonFiniteError: NaN/Inf in a rollout, an update or the weights (summary.json says so; nothing after
            the last good checkpoint is saved).
        StoppedBeforeStart: a signal arrived before the run directory was written.
    """
    start = time.perf_counter()
    run_dir = Path(run_dir)
    acting, metric_fns = split_callbacks(callbacks, config)
    if not resume:
        check_run_dir(str(run_dir.parent), run_dir.name)
    # With backend=ray, Ray is joined (or started) first: a missing extra, a wrong address or too few CPUs fail
    # before anything is built or written; what this call started it also stops.
    rc = config.run
    cpus = rc.num_workers * rc.worker_cpus
    with ray_connection(rc.ray_address, rc.backend == "ray", cpus_needed=cpus), GracefulStop() as stop:
        run = build_run(config)
        try:
            restart = resume and never_saved(run_dir)
            start_steps = 0
            if resume and not restart:
                restore_run(run, ckpt.resolve_checkpoint(run_dir, "latest"))
                start_steps = int(run.counters["env_steps"].numpy())
                recall_best_return(run, run_dir)
            if stop.signum is not None:
                raise StoppedBeforeStart(stop.signum)
            # --- input is good: from here on the run directory is written ---
            with claim_run_dir(run_dir, new=not resume):
                if restart:
                    print(f"tfpg: {run_dir} has no checkpoint yet (it stopped before its first save): "
                          f"starting it again from step 0 with its config.json", file=sys.stderr)  # fmt: skip
                    clear_unstarted(run_dir)
                session = Session(run, run_dir, start_steps, resume and not restart, command, progress)
                return session.train(start, acting, metric_fns, stop)
        finally:
            run.close()


class Session:
    """One process's part of a run: its logger, checkpoint savers, counters and clocks.

    Python counts steps and updates (an eager assign per update costs ~50 µs, a visible share of A2C's 40-step
    iterations); the checkpointed counters catch up before every save (``sync_counters``).
    """

    def __init__(
        self, run: Run, run_dir: Path, start_steps: int, resume: bool, command, progress: bool
    ) -> None:
        config, rc = run.config, run.config.run
        self.run, self.run_dir, self.resume = run, run_dir, resume
        self.start_steps = self.steps = start_steps
        self.last_saved = start_steps if resume else -1
        self.updates = int(run.counters["updates"].numpy())
        self.steps_per_rollout = rc.num_envs * config.agent.num_steps
        self.total_steps = max(1, rc.total_steps // self.steps_per_rollout) * self.steps_per_rollout
        self.checkpoint_every = rc.checkpoint_every or max(self.steps_per_rollout, self.total_steps // 10)
        # Default schedule: ~10 evaluations per run, the ones before the last cheap (one episode per eval env).
        rollouts = self.total_steps // self.steps_per_rollout
        self.eval_every = (
            rc.eval_every if rc.eval_every is not None else -(-rollouts // 10) * self.steps_per_rollout
        )
        auto_episodes = rc.eval_episodes if rc.eval_every is not None else min(rc.eval_episodes, rc.eval_envs)
        self.periodic_episodes = rc.periodic_eval_episodes or auto_episodes
        self.stop_reason: str | None = None  # set when a callback stops the run
        self.video_failed = False
        self.callbacks: Sequence[Callback] = ()
        write_config(config, run_dir, command, resume, start_steps)
        self.logger = TensorBoardLogger(str(run_dir))
        if not resume:
            log_run_header(self.logger, config.to_dict(), command or [], trial_id=run_dir.name)
        count = partial(count_state_variables, run.agent.core.checkpoint_items)
        self.saver = ckpt.Saver(run.checkpoint, run_dir / ckpt.CHECKPOINT_DIR, rc.keep_checkpoints, count)
        self.best_saver = ckpt.Saver(run.checkpoint, run_dir / ckpt.BEST_DIR, 1, count)
        self.progress = progress
        self.prior_time = float(run.counters["train_time_s"].numpy())
        self.session_start, self.eval_time = time.perf_counter(), 0.0

    def train(self, start: float, acting: Sequence[Callback], metric_fns: Sequence[MetricsCallback],
              stop: GracefulStop) -> dict[str, Any]:  # fmt: skip
        """The loop: warm up, then collect → learn → log → evaluate → checkpoint until the budget is spent
        (or a callback stops it)."""
        run, rc = self.run, self.run.config.run
        self.callbacks = acting
        self._warm_up()
        # New episodes after a resume: not the ones the run started with.
        collection = make_collection(run.config, run.env, run.policy, seed=rc.seed + self.start_steps)
        # Training time starts now: compiling and env set-up are start-up.
        self.session_start = time.perf_counter()
        self.bar = tqdm(total=self.total_steps, initial=self.start_steps, unit="step", disable=not self.progress,
                        mininterval=0.5, file=sys.stderr)  # fmt: skip
        recent_returns: deque[float] = deque(maxlen=20)
        unlogged = EpisodeStats()  # episodes that finished since the last write
        # rollout/valid_actions and rollout/invalid_actions since the last write, when the policy masks actions
        masks = MaskCounts(run.policy.action_space) if run.policy.action_masks else None
        snapshot = None  # the first rollout takes the current weights itself
        result, aborted, failure = None, False, None
        try:
            while self._running() and stop.signum is None:
                t0 = time.perf_counter()
                rollout, episodes, collect_scalars = collection.collect(snapshot)
                self._stop_if(first_non_finite_rollout_field(rollout), "the rollout collected")
                t1 = time.perf_counter()
                metrics, snapshot = run.agent.learn(rollout, progress=self.steps / self.total_steps)
                t2 = time.perf_counter()
                self._stop_if(first_non_finite_metric(metrics), "the update's metrics")
                self.steps += self.steps_per_rollout
                self.updates += 1
                if rc.histogram_every and self.updates % rc.histogram_every == 0:
                    self._log_histograms(rollout)
                recent_returns.extend(episodes.returns)
                unlogged.merge(episodes)
                if masks:
                    masks.add(rollout)
                if self.updates % rc.log_every == 0 or self.steps >= self.total_steps:
                    scalars = {f"train/{k}": v for k, v in metrics.items()}  # the latest update's
                    scalars.update(collect_scalars)
                    scalars["time/collect_s"], scalars["time/update_s"] = t1 - t0, t2 - t1
                    scalars["time/sps"] = self.steps / max(self.train_time(), 1e-9)
                    # Phase times are the latest rollout's; episodes are all those since the last write.
                    unlogged.env_s, unlogged.act_s = episodes.env_s, episodes.act_s
                    scalars.update(unlogged.scalars())
                    scalars.update(masks.scalars() if masks else {})
                    scalars.update(policy_scalars(run.policy))
                    for callback in metric_fns:
                        scalars.update(callback(self.steps, rollout, episodes, metrics) or {})
                    self.logger.write(scalars, step=self.steps)
                    unlogged = EpisodeStats()
                self._act_on(dispatch(self.callbacks, "on_update", self.steps, rollout, episodes, metrics))
                if self._running() and self._crossed(self.eval_every):
                    # a signal cuts it short and skips the rest; the loop then saves
                    self.evaluate_and_keep_best(self.periodic_episodes, should_stop=stop.stopping)
                if self._running() and self._crossed(self.checkpoint_every):
                    self.save_latest()
                self._show_progress(recent_returns)
            self.bar.close()
            # Save first: a signal during the final evaluation then costs only the evaluation.
            if self.steps != self.last_saved:
                self.save_latest()
            if stop.signum is None and self.steps > self.start_steps:
                result = self.evaluate_and_keep_best(rc.eval_episodes, final=True, should_stop=stop.stopping)
            elif stop.signum is None and self.steps:
                # Resumed a run that had finished training (e.g. killed before its summary): evaluate only.
                result = _evaluate(run, rc.eval_episodes, stop.stopping)
        except KeyboardInterrupt:  # second signal: the state may be mid-update, keep the last checkpoint
            aborted = True
        except NonFiniteError as err:
            failure = err  # nothing more is saved: the last checkpoint is the last good one
        finally:
            collection.close()
        self.logger.close()
        summary = run_summary(self, start, result, aborted, stop.signum, failure)
        write_json_atomic(self.run_dir / SUMMARY_FILE, summary)
        if failure is not None:
            raise failure
        if aborted:
            raise KeyboardInterrupt
        return summary

    # --- pieces of the loop ------------------------------------------------------------------------------

    def _warm_up(self) -> None:
        # The first call of the compiled update (trace + graph optimization, ~1 s) is start-up, not training.
        # It is the call whose graph --log-graph records: later calls reuse the built graph and record nothing.
        rc = self.run.config.run
        if rc.log_graph:
            self.logger.trace_on()
        self.run.agent.core.warm_up(optional=rc.histogram_every > 0)
        if rc.log_graph:
            self.logger.trace_export("train/update_step", self.start_steps)

    def _running(self) -> bool:
        return self.steps < self.total_steps and self.stop_reason is None

    def _act_on(self, actions: tuple[bool, bool, str | None]) -> None:
        """What the callbacks asked for: (save a checkpoint, stop, why)."""
        save, stop, reason = actions
        if save and self.steps != self.last_saved:
            self.save_latest()
        if stop and self.stop_reason is None:
            self.stop_reason = reason

    def _crossed(self, every: int) -> bool:
        """Did the last rollout pass a multiple of ``every`` env steps?"""
        return every > 0 and self.steps // every > (self.steps - self.steps_per_rollout) // every

    def train_time(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        return self.prior_time + now - self.session_start - self.eval_time

    def _log_histograms(self, rollout) -> None:
        t0 = time.perf_counter()  # computing them (gradients) is logging cost too
        values = policy_histograms(self.run.policy, rollout, self.run.agent)
        self.logger.seconds += time.perf_counter() - t0
        self.logger.histograms(values, self.steps)

    def _show_progress(self, recent_returns) -> None:
        self.bar.update(self.steps_per_rollout)
        if not self.bar.disable and recent_returns:  # np.mean per update is not free
            sps = self.steps / max(self.train_time(), 1e-9)
            self.bar.set_postfix(sps=f"{sps:.0f}", ret=f"{np.mean(recent_returns):.1f}", refresh=False)

    def _stop_if(self, quantity: str | None, where: str) -> None:
        """Raise ``NonFiniteError`` when a check found a non-finite ``quantity`` (None: all finite)."""
        if quantity is None:
            return
        latest = ckpt.latest_in(self.run_dir / ckpt.CHECKPOINT_DIR)
        kept = (
            f"the last good checkpoint is {latest} (resume from it with --resume)"
            if latest
            else "no checkpoint was saved"
        )
        raise NonFiniteError(
            f"Non-finite {quantity} (NaN or Inf) in {where} at env step {self.steps}: training stopped and nothing "
            f"after it was saved; {kept}. Check the env's observations and rewards, or lower the learning rate."
        )

    def _save(self, saver: ckpt.Saver) -> str:
        """A checkpoint at this step, refused when a weight is not finite (it would be a broken model)."""
        self._stop_if(first_non_finite_weight(self.run.policy.model), "the network's weights")
        return saver.save(self.steps)

    def sync_counters(self, now: float | None = None) -> None:
        """Counters to the checkpoint; ``now`` (a ``perf_counter`` time) ends the training time there."""
        counters = self.run.counters
        counters["env_steps"].assign(self.steps)
        counters["updates"].assign(self.updates)
        counters["train_time_s"].assign(self.train_time(now))

    def save_latest(self) -> str:
        self.sync_counters()
        self.run.normalization.assign(get_normalization_state(self.run.env))
        self.logger.flush()  # every event up to this step is on disk before the checkpoint that covers it
        prefix = self._save(self.saver)
        self.last_saved = self.steps
        dispatch(self.callbacks, "on_checkpoint", self.steps, prefix, False)  # a save from here asks nothing
        return prefix

    def evaluate_and_keep_best(
        self, episodes: int, final: bool = False, should_stop: Callable[[], bool] | None = None
    ) -> dict:
        """Evaluate, log eval/, keep a new best in best/, record a video; callbacks see the result.

        ``should_stop`` (a signal arrived) cuts the evaluation short: it is then no point of the eval/ curves,
        no video and no best."""
        run, rc = self.run, self.run.config.run
        t0 = time.perf_counter()
        result = _evaluate(run, episodes, should_stop)
        if result["interrupted"]:
            self.eval_time += time.perf_counter() - t0
            return result
        keys = ("mean_return", "std_return", "mean_length", "capped_episodes")
        self.logger.write({f"eval/{key}": result[key] for key in keys}, step=self.steps)
        if result["mean_return"] > run.counters["best_eval_return"].numpy():
            run.counters["best_eval_return"].assign(result["mean_return"])
            # Training time stops where this evaluation began: after the final one, this save's counter is
            # what summary.json reports (train_time_s, sps), and evaluation time is not training time.
            self.sync_counters(now=t0)
            run.normalization.assign(get_normalization_state(run.env))  # the statistics it was evaluated with
            prefix = self._save(self.best_saver)
            best = {k: v for k, v in result.items() if k not in ("returns", "lengths")}
            best.update(step=self.steps, checkpoint=str(Path(prefix).relative_to(self.run_dir)))
            write_json_atomic(self.run_dir / ckpt.BEST_DIR / "best.json", best)
            dispatch(self.callbacks, "on_checkpoint", self.steps, prefix, True)
        # Videos after best/: an optional output never costs the run its model. With the default schedule,
        # only the final evaluation records one (as before it existed); an explicit eval_every records each.
        if rc.video and (final or rc.eval_every is not None):
            self._record_video()
        self.eval_time += time.perf_counter() - t0
        actions = dispatch(self.callbacks, "on_evaluation", self.steps, result, final)
        if not final:
            self._act_on(actions)
        return result

    def _record_video(self) -> None:
        """One episode as MP4 + frames in TensorBoard; a failure (an env whose render raises, a broken encoder)
        is a warning, once per run, and the run goes on without videos."""
        run, rc = self.run, self.run.config.run
        if self.video_failed:
            return

        def video_env(**kwargs):  # capped like evaluation, so a video always ends
            return make_eval_env(run.config, 1, rc.seed + EVAL_SEED_OFFSET, vectorization="sync", **kwargs)

        try:
            log_policy_video(self.logger, self.run_dir, run, video_env, self.steps)
        except Exception as err:
            self.video_failed = True
            print(
                f"tfpg: warning: no evaluation video at step {self.steps} ({type(err).__name__}: {err}); the run "
                f"goes on without videos (--set video=false skips them)",
                file=sys.stderr,
            )


def _evaluate(run: Run, episodes: int, should_stop: Callable[[], bool] | None = None) -> dict:
    sync_eval_normalization(run)
    cap = eval_episode_cap(run.config)
    seed = run.config.run.seed + EVAL_SEED_OFFSET
    predict = run.policy.predictor(run.eval_env.num_envs)  # eval envs: states of their own
    result = evaluate(predict, run.eval_env, episodes, seed, cap, should_stop)
    if result["capped_episodes"]:
        print(
            f"tfpg: {result['capped_episodes']} of {result['episodes']} evaluation episodes were cut at "
            f"{cap} steps ({run.config.run.env_id} has no time limit of its own; set eval_max_episode_steps "
            f"to change the cap); their returns are partial.",
            file=sys.stderr,
        )
    return result

"""Hyperparameter search with Optuna: every trial a normal run, the study in SQLite beside them.

Layout of a study (``tfpg-tune --logdir runs/tune --study-name NAME``)::

    runs/tune/NAME/study.db          the Optuna study (SQLite): rerunning the same command resumes it
    runs/tune/NAME/tune.json         what the study searches (env, algo, budget, space, fixed overrides)
    runs/tune/NAME/trial-0000/ ...   one normal run directory per trial (TensorBoard's HParams tab compares them)
    runs/tune/NAME/best_preset.yaml  the best trial's config as a preset entry (written at the end)

A trial samples the search space (``agents/run/search_space.py``) on top of the env's preset, trains with
``run_trial`` and reports each intermediate evaluation to the study; Optuna's median pruner may stop it there
(the run then finishes normally: final evaluation, checkpoint, summary with its ``stop_reason``). The value
of a trial is its final evaluation's mean return.

Parallel trials are worker processes (``--jobs``), each running ``optimize`` against the shared SQLite study.
Interrupting the study (Ctrl-C, SIGTERM) stops every running trial gracefully (checkpoint saved, trial marked
interrupted); the next run of the same command resumes those runs from their checkpoints as new trials with
the same parameters, then samples new ones until ``trials`` trials have finished.

``run_trial`` is the hook for other backends (e.g. trials as Ray tasks): it runs one trial given its config
and a ``report`` function, and needs nothing else from this module.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.config import ConfigError, load_preset, resolve_config
from agents.run.callbacks import STOP, Callback
from agents.run.search_space import decode_params, load_search_space, suggest

STUDY_FILE, SPEC_FILE, BEST_FILE = "study.db", "tune.json", "best_preset.yaml"
MIN_UPDATES = 4
"""Sampled configs whose rollout (num_envs x num_steps) leaves fewer updates than this in the budget are pruned
before they train: they would not learn, and their intermediate evaluations would be too few to prune on."""


@dataclass
class TuneSpec:
    """What a study searches and how; saved as tune.json (fields below ``jobs`` must match on resume)."""

    env_id: str
    """Gymnasium env id (``module:EnvId`` for your own)."""
    algo: str
    """Algorithm name."""
    study_dir: str
    """Directory of the study: study.db, tune.json, one run directory per trial, best_preset.yaml."""
    trials: int = 20
    """Finished trials (complete or pruned) the study should reach; a rerun with more trials adds them."""
    jobs: int = 1
    """Trials run in parallel, each in its own process."""
    total_steps: int = 50_000
    """Env steps of every trial."""
    seed: int = 0
    """Seed of every trial's run (the same for all, so trials differ only in their hyperparameters)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Config values fixed for every trial (``--set``), on top of the preset and under the sampled values."""
    space_file: str | None = None
    """Search space YAML (None: agents/presets/search/<algo>.yaml)."""
    pruner: str = "median"
    """median (Optuna's MedianPruner on the intermediate evaluations) or none."""
    startup_trials: int = 5
    """Trials the median pruner lets finish before it prunes any."""

    @property
    def study_name(self) -> str:
        return Path(self.study_dir).name

    def storage(self):
        """The study's ``optuna.storages.RDBStorage`` (SQLite; waits up to 60 s for another worker's lock)."""
        import optuna

        url = f"sqlite:///{Path(self.study_dir).resolve() / STUDY_FILE}"
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})

    def fingerprint(self) -> dict[str, Any]:
        """The fields that define the search (a resumed study must not change them)."""
        data = dataclasses.asdict(self)
        return {k: data[k] for k in ("env_id", "algo", "total_steps", "seed", "overrides", "space_file")}


class TrialInterrupted(Exception):
    """A trial's run stopped on a signal; its run directory holds a checkpoint to resume from."""


# --- one trial ---------------------------------------------------------------------------------------------


class _Report(Callback):
    """Reports intermediate evaluations; stops the run when ``report`` says the trial should be pruned.

    The step reported is the nearest tenth of the budget (1..9), not the env step: trials with different
    rollout sizes evaluate at different env steps, and the pruner compares trials only at equal steps.
    """

    def __init__(self, report: Callable[[int, float], bool], total_steps: int) -> None:
        self.report, self.total_steps = report, total_steps

    def on_evaluation(self, env_steps: int, result: dict, final: bool) -> str | None:
        if final:
            return None
        tenth = min(max(round(10 * env_steps / self.total_steps), 1), 9)
        if self.report(tenth, result["mean_return"]):
            self.stop_reason = f"pruned: the tuner's pruner stopped this trial at step {env_steps}"
            return STOP
        return None


def run_trial(config, run_dir: Path, report: Callable[[int, float], bool] | None = None,
              resume: bool = False, command: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Train one trial as a normal run and return its summary (the hook for other trial backends).

    Args:
        config: the trial's ``ResolvedConfig``.
        run_dir: its run directory (new, or to resume).
        report: ``report(tenth, mean_return) -> prune?`` after each intermediate evaluation, ``tenth`` the
            nearest tenth of the budget it was made at (1..9); True stops the run (summary ``stop_reason``
            starts with ``"pruned"``).
        resume: continue ``run_dir`` from its latest checkpoint.
        command: recorded in config.json.
    """
    import keras

    from agents.run.trainer import train

    # A process may run many trials: Keras' name counters restart, so every trial's variables (and their
    # TensorBoard histogram tags) are named as in a run of its own (actor_critic/..., not actor_critic_3/...).
    keras.backend.clear_session()
    callbacks = [_Report(report, config.run.total_steps)] if report else []
    return train(config, Path(run_dir), progress=False, command=command, resume=resume, callbacks=callbacks)


def objective(spec: TuneSpec, space: dict[str, Any], trial) -> float:
    """One Optuna trial: sample, train (or resume an interrupted trial's run), return the final mean return."""
    import optuna

    from agents.run.rundir import load_run_config

    values = {**spec.overrides, **suggest(trial, space), "total_steps": spec.total_steps, "seed": spec.seed}
    config = resolve_config(spec.algo, spec.env_id, values)  # ConfigError: the trial fails, the study goes on
    rollout = config.run.num_envs * config.agent.num_steps
    if rollout * MIN_UPDATES > spec.total_steps:
        # Pruned, not failed: the sampler then learns to avoid such rollouts (a failed trial teaches it nothing).
        raise optuna.TrialPruned(
            f"a rollout of {rollout} steps leaves fewer than {MIN_UPDATES} updates in {spec.total_steps} steps"
        )
    resume_dir = trial.user_attrs.get("resume_dir")
    run_dir = Path(resume_dir) if resume_dir else Path(spec.study_dir) / f"trial-{trial.number:04d}"
    if resume_dir:
        config = load_run_config(run_dir)
    trial.set_user_attr("run_dir", str(run_dir))

    def report(tenth: int, value: float) -> bool:
        trial.report(value, tenth)
        return trial.should_prune()

    command = ["tfpg-tune", "--study-dir", spec.study_dir, "--trial", str(trial.number)]
    try:
        summary = run_trial(config, run_dir, report, resume=bool(resume_dir), command=command)
    except KeyboardInterrupt:  # a second signal, or one before the run could catch it
        trial.set_user_attr("interrupted", True)
        raise
    if summary["interrupted"]:
        trial.set_user_attr("interrupted", True)
        raise TrialInterrupted(
            f"trial {trial.number} stopped by {summary['signal']}; checkpoint in {run_dir}"
        )
    trial.set_user_attr("eval_mean_return", summary["eval_mean_return"])
    if (summary.get("stop_reason") or "").startswith("pruned"):
        raise optuna.TrialPruned(summary["stop_reason"])
    return summary["eval_mean_return"]


# --- the study ---------------------------------------------------------------------------------------------


def open_study(spec: TuneSpec):
    """Create or load the study in ``study_dir/study.db`` (maximizing the final mean return)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if spec.pruner == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials)
    else:
        pruner = optuna.pruners.NopPruner()
    return optuna.create_study(study_name=spec.study_name, storage=spec.storage(), direction="maximize",
                               pruner=pruner, load_if_exists=True)  # fmt: skip


def finished(study) -> int:
    """Trials that count towards ``trials``: complete, pruned, or failed for a reason other than a signal."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED)
    return sum(
        t.state in done or (t.state == TrialState.FAIL and not t.user_attrs.get("interrupted"))
        for t in study.get_trials(deepcopy=False)
    )


def requeue_interrupted(spec: TuneSpec, study) -> list[int]:
    """Enqueue a retry of every interrupted trial not retried yet: the same parameters, resuming the trial's
    run directory when it holds a checkpoint (else a new run).

    Trials still marked RUNNING belong to a process that is gone (the study runs one tuner at a time): they are
    marked failed and interrupted first. Returns the numbers of the retried trials.
    """
    from optuna.trial import TrialState

    storage = spec.storage()
    study_id = storage.get_study_id_from_name(study.study_name)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    requeued = []
    for trial in trials:
        if trial.state == TrialState.RUNNING:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "interrupted", True)
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        elif not (trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted")):
            continue
        if trial.number in retried:
            continue
        run_dir = trial.user_attrs.get("run_dir")
        attrs = {"retry_of": trial.number}
        if run_dir and (Path(run_dir) / "checkpoint" / "checkpoint").exists():
            attrs["resume_dir"] = run_dir
        study.enqueue_trial(trial.params, user_attrs=attrs)
        requeued.append(trial.number)
    return requeued


def optimize(spec: TuneSpec) -> None:
    """Run trials in this process until the study has ``spec.trials`` finished trials (counting other workers'
    running ones), or a trial is interrupted (``TrialInterrupted`` propagates)."""
    from optuna.trial import TrialState

    study = open_study(spec)
    space, _ = load_search_space(spec.algo, spec.env_id, spec.space_file)
    _quiet_retracing_warnings()

    def enough(study, _trial=None) -> bool:
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        return finished(study) + running >= spec.trials

    def stop_when_enough(study, trial) -> None:
        if enough(study):
            study.stop()

    if enough(study):
        return
    study.optimize(lambda trial: objective(spec, space, trial), callbacks=[stop_when_enough],
                   catch=(ConfigError,), gc_after_trial=True)  # fmt: skip


def _quiet_retracing_warnings() -> None:
    """Each trial builds a new policy, whose compiled functions trace once each; TensorFlow counts those traces
    across instances and warns of "excessive retracing" from the fifth trial of a process on. Not a problem here."""
    import logging

    class DropRetracing(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "triggered tf.function retracing" not in record.getMessage()

    logging.getLogger("tensorflow").addFilter(DropRetracing())


def best_preset(spec: TuneSpec, study) -> tuple[str, dict[str, Any]]:
    """The best trial as a preset entry (YAML text) and its config values.

    The entry holds the env's preset values with the trial's sampled values and the study's fixed overrides
    on top, and the study's budget, so it can be pasted under the env id in agents/presets/<algo>.yaml.
    """
    space, _ = load_search_space(spec.algo, spec.env_id, spec.space_file)
    best = study.best_trial
    preset, preset_name = load_preset(spec.algo, spec.env_id)
    values = {
        **preset,
        **spec.overrides,
        **decode_params(space, best.params),
        "total_steps": spec.total_steps,
    }
    header = (
        f"tfpg-tune: best of {finished(study)} finished trials in study {spec.study_name} ({spec.algo} on "
        f"{spec.env_id}, {spec.total_steps} steps, seed {spec.seed}): trial {best.number}, final evaluation "
        f"mean return {best.value:.2f} (run {best.user_attrs.get('run_dir')}). Preset entry under the samples: "
        f"{preset_name}. Paste it under agents/presets/{spec.algo}.yaml."
    )
    comment = "".join(f"# {line}\n" for line in textwrap.wrap(header, 108))
    return comment + yaml.safe_dump({spec.env_id: values}, sort_keys=False), values


def save_spec(spec: TuneSpec) -> None:
    """Write tune.json, refusing a study directory whose search was defined differently.

    Raises:
        ConfigError: tune.json exists with another env, algo, budget, seed, overrides or space file.
    """
    path = Path(spec.study_dir) / SPEC_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        mismatch = {k: (saved.get(k), v) for k, v in spec.fingerprint().items() if saved.get(k) != v}
        if mismatch:
            changes = ", ".join(f"{k} (saved {old!r}, given {new!r})" for k, (old, new) in mismatch.items())
            raise ConfigError(
                f"Study {spec.study_dir} searches something else: {changes}. Resume it with its own settings, "
                f"or start another study with --study-name."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataclasses.asdict(spec), indent=2) + "\n")


def load_spec(path: str | Path) -> TuneSpec:
    return TuneSpec(**json.loads(Path(path).read_text()))

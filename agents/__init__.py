"""tfpg agents, in three wings (docs/ARCHITECTURE.md), and the Python API.

``agents.algorithms``  the learner: PPO, A2C, REINFORCE over a shared ``LearnerCore`` (losses, advantages,
                       optimizers, compiled updates);
``agents.experience``  the actor side: the rollout schema, the policy and its actors, collection in process or
                       on Ray workers, evaluation;
``agents.run``         one run from config to summary: trainer loop, building, checkpoints, run directories,
                       TensorBoard logging, loading and export;
``agents.cli``         the commands (tfpg-train, tfpg-evaluate, tfpg-export, tfpg-plot, tfpg-tune).
``agents.config`` (run, network and preset configuration) is shared by all and imports no TensorFlow.

The Python API is the three functions below, defined here on purpose (the package's public surface, not
re-exports): ``train``, ``load`` and ``evaluate``. They import TensorFlow only when called, so
``import agents`` and ``import agents.config`` stay instant::

    import agents

    result = agents.train("CartPole-v1", total_steps=20_000, run_dir="runs/cartpole")
    policy = agents.load(result.run_dir)         # or "runs/cartpole/best", or a checkpoint path
    action = policy.predict(obs)                 # one observation or a batch, NumPy in and out
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class TrainResult:
    """What ``train`` returns."""

    run_dir: Path
    """The run directory (events, config.json, checkpoint/, best/, summary.json)."""
    summary: dict[str, Any]
    """The run's summary.json."""


def train(
    env: str = "CartPole-v1",
    algo: str = "ppo",
    *,
    run_dir: str | Path | None = None,
    logdir: str | Path = "runs",
    callbacks=(),
    progress: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train one run, resolving the config as ``tfpg-train`` does: defaults < preset < ``overrides``.

    Args:
        env: Gymnasium env id; your own as ``"your_module:YourEnv-v0"`` (README, "Your own envs").
        algo: ``"ppo"``, ``"a2c"`` or ``"reinforce"``.
        run_dir: where the run goes (must not hold files); default ``logdir/ENV__ALGO__sSEED__TIMESTAMP``.
        logdir: parent of the default run directory.
        callbacks: ``agents.run.callbacks.Callback`` objects (stop the run, save checkpoints) and/or metrics
            functions ``fn(env_steps, rollout, episodes, metrics) -> {tag: value}``.
        progress: show a progress bar.
        **overrides: any config field, as ``--set`` takes them: ``total_steps=50_000``, ``seed=1``,
            ``learning_rate=3e-4``, ``hidden_sizes=[128, 128]``, ``env_kwargs={...}``, ``wrappers=[...]``,
            ``stop_at_return=475``.

    Returns:
        The run directory and its summary.

    Raises:
        ConfigError: an unknown field or a bad value (nothing is written).
        RunDirError: ``run_dir`` already holds files.
        UserCodeError: a ``module:EnvId`` env or a wrapper that cannot be imported.
    """
    from agents.config import resolve_config
    from agents.run.console import import_tensorflow, wants_onednn

    config = resolve_config(algo, env, overrides)
    import_tensorflow(onednn=wants_onednn(config.network.cnn))  # a quiet start, as the commands have
    from agents.run.rundir import check_run_dir, default_run_name
    from agents.run.trainer import train as train_run

    if run_dir is None:
        run_dir = check_run_dir(str(logdir), default_run_name(config))
    summary = train_run(config, Path(run_dir), progress=progress, callbacks=callbacks)
    return TrainResult(Path(run_dir), summary)


def load(path: str | Path, checkpoint: str = "latest"):
    """Load a trained policy: ``policy = agents.load("runs/cartpole")``; ``policy.predict(obs)``.

    Args:
        path: a run directory, or a checkpoint inside one (``RUN/best``, ``RUN/checkpoint/ckpt-4096``).
        checkpoint: ``"latest"``, ``"best"`` or a checkpoint path (when ``path`` is a run directory).

    Returns:
        An ``agents.run.inference.LoadedPolicy``: ``predict(obs, deterministic=True)`` for one observation or
        a batch (NumPy, raw as the env returns it: the run's normalization is applied with the checkpoint's
        statistics), ``evaluate(...)``, ``observation_space``, ``action_space``, ``config``.

    Raises:
        RunInputError: the run directory, its config.json, its env or the checkpoint cannot be used.
    """
    from agents.run.console import import_tensorflow

    import_tensorflow()
    from agents.run.inference import load_policy

    return load_policy(path, checkpoint)


def evaluate(
    policy_or_path,
    episodes: int | None = None,
    deterministic: bool = True,
    seed: int | None = None,
    num_envs: int | None = None,
    checkpoint: str = "latest",
) -> dict[str, Any]:
    """Play whole episodes with a loaded policy (or a run directory / checkpoint path) on its run's env.

    Defaults reproduce the run's own final evaluation (its eval_episodes, eval_envs and eval seed).

    Returns:
        ``mean_return``, ``std_return``, ``mean_length``, ``episodes``, and per-episode ``returns``, ``lengths``.
    """
    policy = policy_or_path if hasattr(policy_or_path, "predict") else load(policy_or_path, checkpoint)
    return policy.evaluate(episodes, deterministic, seed, num_envs)

"""Load a finished (or stopped) run for evaluation or export: config.json → ``build_run`` → checkpoint.

Building goes through ``agents.run.building.build_run`` and the algorithm registry, so it works for any algorithm
and any checkpoint is validated against the run's own config before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.config import ResolvedConfig
from agents.experience.evaluation import evaluate
from agents.run import checkpoint as ckpt
from agents.run.building import (
    EVAL_SEED_OFFSET,
    Run,
    build_run,
    eval_episode_cap,
    make_eval_env,
    restore_run,
)
from agents.run.rundir import RunInputError, find_run_dir, load_run_config
from envs.user import UserCodeError
from envs.wrappers import freeze_normalization, set_normalization_state


@dataclass
class LoadedRun:
    """A run rebuilt from its directory with one checkpoint restored."""

    run_dir: Path
    config: ResolvedConfig
    run: Run
    checkpoint: str
    """Prefix of the restored checkpoint."""

    def close(self) -> None:
        self.run.close()


def load_run(path: str | Path, checkpoint: str = "latest") -> LoadedRun:
    """Rebuild the run that holds ``path`` and restore a checkpoint into it.

    Args:
        path: a run directory, or a checkpoint inside one (``RUN/best``, ``RUN/checkpoint/ckpt-4096``).
        checkpoint: ``latest``, ``best`` or a checkpoint path; when ``path`` itself names a checkpoint and
            this is ``latest``, ``path`` is used.

    Raises:
        RunInputError: the run directory, its config.json, its env or the checkpoint cannot be used (message
            says why).
    """
    run_dir = find_run_dir(path)
    config = load_run_config(run_dir)
    if checkpoint == "latest" and Path(path).resolve() != run_dir.resolve():
        checkpoint = str(path)
    prefix = ckpt.resolve_checkpoint(run_dir, checkpoint)
    run = _rebuild(config, run_dir)
    try:
        restore_run(run, prefix)
    except BaseException:
        run.close()
        raise
    return LoadedRun(run_dir, config, run, prefix)


def _rebuild(config: ResolvedConfig, run_dir: Path) -> Run:
    """``build_run``, with what can go wrong on this machine (an env module or extra not installed, an env
    that no longer accepts the saved kwargs, an env registered from Python by the training process only)
    reported as a ``RunInputError`` that says why."""
    import gymnasium as gym

    env_id = config.run.env_id
    try:
        return build_run(config)
    except UserCodeError as err:
        raise RunInputError(f"Cannot rebuild the env of run {run_dir}: {err}") from err
    except gym.error.Error as err:
        hint = ""
        if ":" not in env_id and env_id not in gym.registry:
            hint = (
                f" If the training process registered {env_id!r} from Python (gymnasium.register), this "
                f"process has not: import the module that registers it before loading (Python), or put the "
                f"registration in a module and train with --env your_module:{env_id}."
            )
        raise RunInputError(f"Cannot rebuild the env of run {run_dir}: {err}{hint}") from err
    except (ImportError, TypeError, ValueError) as err:
        raise RunInputError(
            f"Cannot rebuild the run in {run_dir} from its config.json (env {env_id!r}): "
            f"{type(err).__name__}: {err}. Install what the env needs (e.g. pip install -e '.[envs]', or the "
            f"package that registers it) and try again. Nothing was changed."
        ) from err


def evaluate_loaded(
    loaded: LoadedRun,
    episodes: int | None = None,
    deterministic: bool = True,
    seed: int | None = None,
    num_envs: int | None = None,
    render_mode: str | None = None,
    video_dir: str | None = None,
    max_episode_steps: int | None = None,
) -> dict:
    """Evaluate a loaded run on a fresh env carrying the checkpoint's (frozen) normalization statistics.

    Defaults reproduce the training-time evaluation exactly: the run's ``eval_episodes``, ``eval_envs`` and
    eval seed (``seed + EVAL_SEED_OFFSET``). ``render_mode="human"`` or ``video_dir`` (MP4 files through
    Gymnasium's ``RecordVideo``) use one env. Episodes of an env without a time limit of its own are cut
    after ``max_episode_steps`` (default: the run's ``eval_max_episode_steps``), as in training.
    """
    import gymnasium as gym

    from envs.atari import is_atari

    rc = loaded.config.run
    seed = rc.seed + EVAL_SEED_OFFSET if seed is None else seed
    if render_mode or video_dir:
        num_envs = 1
    kwargs = {"render_mode": "rgb_array" if video_dir else render_mode} if (render_mode or video_dir) else {}
    if kwargs and is_atari(rc.env_id):
        kwargs["vectorization"] = "sync"  # ALE's native vector env does not render; the per-env wrappers do
    env = make_eval_env(loaded.config, num_envs or rc.eval_envs, seed, max_episode_steps, **kwargs)
    cap = eval_episode_cap(loaded.config, max_episode_steps)
    try:
        state = loaded.run.normalization.state()
        if state:
            set_normalization_state(env, state)
        freeze_normalization(env)
        if video_dir:
            env = gym.wrappers.vector.RecordVideo(env, video_dir, episode_trigger=lambda _: True)
        policy = loaded.run.policy
        if not deterministic:
            policy.generator.reset_from_seed(seed)
        predict = policy.predictor(env.num_envs, deterministic)  # eval envs: states of their own
        return evaluate(predict, env, episodes or rc.eval_episodes, seed, cap)
    finally:
        env.close()

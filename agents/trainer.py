"""The outer loop of every run: collect → update → log → evaluate → checkpoint → summary.

A run directory ``LOGDIR/RUN_NAME/`` holds:
    events.out.tfevents.*   TensorBoard scalars, x-axis = environment steps
    config.json             the full resolved config (written first)
    checkpoint/ckpt.*       final tf.train.Checkpoint (network, optimizer, RNG, counters, normalization stats)
    summary.json            written last: env, algo, seed, total_steps, wall_time_s, sps, eval_* ...
Other tools read this layout and these keys; extend them, don't rename them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from agents.acting import Policy
from agents.checkpoint import NormalizationVariables, make_checkpoint, save_checkpoint
from agents.config import ResolvedConfig
from agents.evaluation import evaluate
from agents.logging import TensorBoardLogger
from agents.registry import ALGORITHMS
from agents.rollout import RolloutCollector
from envs import freeze_normalization, get_normalization_state, make_vector_env, set_normalization_state
from networks import ActorCritic

EVAL_SEED_OFFSET = 10_000
"""Evaluation envs are seeded away from the training envs (which use seed .. seed + num_envs - 1)."""


class RunDirError(FileExistsError):
    """The run directory cannot be used (it already holds a run)."""


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

    def close(self) -> None:
        self.env.close()
        self.eval_env.close()


def build_run(config: ResolvedConfig) -> Run:
    """Seed everything and build envs, network, policy, agent and checkpoint for ``config``."""
    rc, net = config.run, config.network
    keras.utils.set_random_seed(rc.seed)  # Python, NumPy and TensorFlow global seeds
    env_args = dict(
        vectorization=rc.vectorization,
        normalize_obs=rc.normalize_obs,
        normalize_reward=rc.normalize_reward,
        gamma=getattr(config.agent, "gamma", 0.99),
        env_kwargs=rc.env_kwargs or None,
    )
    env = make_vector_env(rc.env_id, rc.num_envs, seed=rc.seed, **env_args)
    eval_env = make_vector_env(rc.env_id, rc.eval_envs, seed=rc.seed + EVAL_SEED_OFFSET, **env_args)
    freeze_normalization(eval_env)
    model = ActorCritic(
        env.single_observation_space,
        env.single_action_space,
        hidden_sizes=tuple(net.hidden_sizes),
        activation=net.activation,
        share_trunk=net.share_trunk,
        log_std_init=net.log_std_init,
        squash_actions=net.squash_actions,
        state_dependent_std=net.state_dependent_std,
    )
    policy = Policy(model, env.single_observation_space, env.single_action_space, seed=rc.seed)
    policy.value(_dummy_batch(env))  # builds the model's weights before the optimizer sees them
    agent = ALGORITHMS[rc.algo].factory(config.agent, policy, env)
    normalization = NormalizationVariables(get_normalization_state(env))
    counters = {
        "env_steps": tf.Variable(0, dtype=tf.int64, trainable=False),
        "updates": tf.Variable(0, dtype=tf.int64, trainable=False),
    }
    checkpoint = make_checkpoint(agent.checkpoint_items(), normalization, counters)
    return Run(config, env, eval_env, policy, agent, normalization, counters, checkpoint)


def _dummy_batch(env):
    obs = env.single_observation_space.sample()
    return tf.nest.map_structure(lambda x: np.asarray(x)[None], obs)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temp file and rename it over ``path``: readers see the old or the new file, whole."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def check_run_dir(logdir: str, run_name: str) -> Path:
    """``logdir/run_name``, refusing one that already holds files (never overwrite a run). Creates nothing."""
    run_dir = Path(logdir) / run_name
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(
            f"Run directory {run_dir} already exists and is not empty; tfpg never overwrites a run. "
            f"Pick another --run-name, or move that directory away."
        )
    return run_dir


def default_run_name(config: ResolvedConfig) -> str:
    rc = config.run
    return f"{rc.env_id}__{rc.algo}__s{rc.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def sync_eval_normalization(run: Run) -> None:
    """Evaluation sees exactly the training env's current normalization statistics (frozen)."""
    state = get_normalization_state(run.env)
    if state:
        set_normalization_state(run.eval_env, state)


def train(
    config: ResolvedConfig,
    run_dir: Path,
    progress: bool = True,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Train one run into ``run_dir`` and return its summary (also saved as summary.json).

    Envs, network and agent are built before anything is written, so bad input leaves no half-made run.
    """
    start = time.perf_counter()
    rc = config.run
    check_run_dir(str(run_dir.parent), run_dir.name)
    run = build_run(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "config.json", {**config.to_dict(), "command": command or []})
    logger = TensorBoardLogger(str(run_dir))
    logger.text("config", "```\n" + json.dumps(config.to_dict(), indent=2) + "\n```")
    steps_per_rollout = rc.num_envs * config.agent.num_steps
    num_updates = max(1, rc.total_steps // steps_per_rollout)
    total_steps = num_updates * steps_per_rollout
    collector = RolloutCollector(run.env, config.agent.num_steps, rc.seed, run.policy.action_dtype)
    recent_returns: deque[float] = deque(maxlen=20)
    bar = tqdm(total=total_steps, unit="step", disable=not progress, mininterval=0.5, file=sys.stderr)
    train_start = time.perf_counter()
    train_time = 0.0
    interrupted = False
    next_eval = rc.eval_every if rc.eval_every > 0 else None
    try:
        for update in range(num_updates):
            steps = update * steps_per_rollout
            rollout, episodes = collector.collect(run.policy.act, run.policy.value)
            metrics = run.agent.learn(rollout, progress=steps / total_steps)
            steps += steps_per_rollout
            run.counters["env_steps"].assign(steps)
            run.counters["updates"].assign(update + 1)
            train_time = time.perf_counter() - train_start
            scalars = {f"train/{k}": v for k, v in metrics.items()}
            scalars["time/sps"] = steps / train_time
            if episodes.returns:
                recent_returns.extend(episodes.returns)
                scalars["rollout/episode_return"] = float(np.mean(episodes.returns))
                scalars["rollout/episode_length"] = float(np.mean(episodes.lengths))
            logger.write(scalars, step=steps)
            if next_eval is not None and steps >= next_eval and update + 1 < num_updates:
                _log_eval(run, logger, steps, rc.eval_episodes)
                next_eval += rc.eval_every
                train_start = time.perf_counter() - train_time  # evaluation time is not training time
            bar.update(steps_per_rollout)
            if recent_returns:
                bar.set_postfix(sps=f"{steps / train_time:.0f}", ret=f"{np.mean(recent_returns):.1f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    steps_done = int(run.counters["env_steps"].numpy())
    result = _log_eval(run, logger, steps_done, rc.eval_episodes) if steps_done else None
    run.normalization.assign(get_normalization_state(run.env))
    save_checkpoint(run.checkpoint, run_dir / "checkpoint")
    logger.close()
    run.close()
    summary = {
        "env": rc.env_id,
        "algo": rc.algo,
        "seed": rc.seed,
        "total_steps": steps_done,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "train_time_s": round(train_time, 3),
        "sps": round(steps_done / train_time, 1) if train_time else 0.0,
        "eval_mean_return": result["mean_return"] if result else None,
        "eval_std_return": result["std_return"] if result else None,
        "eval_mean_length": result["mean_length"] if result else None,
        "eval_episodes": result["episodes"] if result else 0,
        "interrupted": interrupted,
        "checkpoint": "checkpoint/ckpt",
    }
    write_json_atomic(run_dir / "summary.json", summary)
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _log_eval(run: Run, logger: TensorBoardLogger, steps: int, episodes: int) -> dict:
    sync_eval_normalization(run)
    result = evaluate(run.policy.predict, run.eval_env, episodes, seed=run.config.run.seed + EVAL_SEED_OFFSET)
    logger.write(
        {
            "eval/mean_return": result["mean_return"],
            "eval/std_return": result["std_return"],
            "eval/mean_length": result["mean_length"],
        },
        step=steps,
    )
    return result

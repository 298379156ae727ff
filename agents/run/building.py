"""A run's live objects from its config: envs, policy, agent, checkpoint (for training, evaluation, export and
Ray workers alike), and restoring a checkpoint into them."""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from agents.algorithms.registry import make_agent
from agents.config import ResolvedConfig
from agents.experience.acting import Policy
from agents.experience.masks import ActionMasks, MaskSource, resolve_mask_source
from agents.run import checkpoint as ckpt
from agents.run.checkpoint import NormalizationVariables, make_checkpoint
from envs.make import make_vector_env, own_time_limit
from envs.user import check_env_id, wrapper_factories
from envs.wrappers import freeze_normalization, get_normalization_state, set_normalization_state
from networks import ActorCritic

EVAL_SEED_OFFSET = 10_000
"""Evaluation envs are seeded away from the training envs (which use seed .. seed + num_envs - 1)."""


def make_env(
    config: ResolvedConfig, num_envs: int, seed: int, training: bool = True, **overrides
) -> gym.vector.VectorEnv:
    """A vector env as the run's config describes it (sub-env i is seeded ``seed + i`` at its first reset).

    ``training=False`` (evaluation, videos) leaves out the training-only parts: life-loss terminals and reward
    signs. ``overrides`` replace ``make_vector_env`` arguments (e.g. ``render_mode``, ``vectorization``). With
    ``action_mask`` obs:KEY or auto, a Dict observation's mask key moves into the env's info (see
    agents/experience/masks.py).

    Raises:
        UserCodeError: a ``module:EnvId`` env or a wrapper whose module cannot be imported (envs/user.py).
    """
    rc = config.run
    check_env_id(rc.env_id)
    source = MaskSource.parse(rc.action_mask)
    kwargs = dict(
        vectorization=rc.vectorization,
        normalize_obs=rc.normalize_obs,
        normalize_reward=rc.normalize_reward,
        clip_reward=rc.clip_reward,
        gamma=getattr(config.agent, "gamma", 0.99),
        env_kwargs=rc.env_kwargs or None,
        wrappers=wrapper_factories(rc.wrappers),
        action_mask_key=source.key if source.kind in ("obs", "auto") else None,
        atari_wrappers=rc.atari_wrappers,
        frame_stack=rc.frame_stack,
        terminal_on_life_loss=rc.terminal_on_life_loss and training,
        sign_reward=rc.sign_reward and training,
    )
    kwargs.update(overrides)
    return make_vector_env(rc.env_id, num_envs, seed=seed, **kwargs)


def check_user_code(config: ResolvedConfig) -> None:
    """Import the run's ``module:EnvId`` env module and wrappers now, so that a missing one is reported before
    anything is built or written (``make_env`` checks again; imports are cached).

    Raises:
        UserCodeError: what cannot be imported, and what to install or set.
    """
    check_env_id(config.run.env_id)
    wrapper_factories(config.run.wrappers)


def eval_episode_cap(config: ResolvedConfig, max_episode_steps: int | None = None) -> int | None:
    """The step cap tfpg puts on evaluation episodes: ``None`` when the env has a time limit of its own
    (that limit applies), else ``max_episode_steps`` or the run's ``eval_max_episode_steps``."""
    rc = config.run
    if own_time_limit(rc.env_id, rc.env_kwargs) is not None:
        return None
    return max_episode_steps or rc.eval_max_episode_steps


def make_eval_env(
    config: ResolvedConfig, num_envs: int, seed: int, max_episode_steps: int | None = None, **overrides
) -> gym.vector.VectorEnv:
    """``make_env`` for evaluation and videos: no training-only parts (life-loss terminals, reward signs), and an
    env without a time limit of its own is truncated after ``eval_episode_cap`` steps (Gymnasium's
    ``TimeLimit``), so every evaluation episode ends."""
    cap = eval_episode_cap(config, max_episode_steps)
    if cap is not None:
        overrides["env_kwargs"] = {**config.run.env_kwargs, "max_episode_steps": cap}
    return make_env(config, num_envs, seed, training=False, **overrides)


def make_policy(config: ResolvedConfig, env: gym.vector.VectorEnv, seed: int) -> Policy:
    """The run's ActorCritic network (weights built) wrapped in a compiled ``Policy`` sampling from ``seed``.

    The action-mask source is resolved here, against ``env`` (every process that builds a policy — trainer,
    Ray worker, evaluation, export — resolves it the same way from the same config).
    """
    net, env_id = config.network, config.run.env_id
    source = resolve_mask_source(config.run.action_mask, env, env_id, seed=seed)
    masks = None if source.kind == "none" else ActionMasks(source, env.single_action_space, env_id)
    model = ActorCritic(
        env.single_observation_space,
        env.single_action_space,
        hidden_sizes=tuple(net.hidden_sizes),
        activation=net.activation,
        share_trunk=net.share_trunk,
        log_std_init=net.log_std_init,
        squash_actions=net.squash_actions,
        state_dependent_std=net.state_dependent_std,
        cnn=net.cnn,
        channels=net.channels,
        recurrent=net.recurrent,
        recurrent_size=net.recurrent_size,
        critic_core=net.critic_core,
    )
    policy = Policy(model, env.single_observation_space, env.single_action_space, seed, masks)
    sample = env.single_observation_space.sample()
    policy.value(tf.nest.map_structure(lambda x: np.asarray(x)[None], sample))  # traces the value function
    return policy


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


def set_op_threads(threads: int) -> None:
    """Sizes TensorFlow's intra-op thread pool, unless TF_NUM_INTRAOP_THREADS is set (it wins) or TensorFlow
    has already run an op in this process (the pool exists then; a warning says the setting was not applied)."""
    if (
        "TF_NUM_INTRAOP_THREADS" in os.environ
        or tf.config.threading.get_intra_op_parallelism_threads() == threads
    ):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # "cannot be modified after initialization"
        warnings.warn(
            f"tf_threads={threads} not applied: TensorFlow already runs with "
            f"{tf.config.threading.get_intra_op_parallelism_threads() or 'its default'} intra-op threads in this "
            f"process. Set it in a fresh process (or TF_NUM_INTRAOP_THREADS) to change it.",
            stacklevel=2,
        )


def build_run(config: ResolvedConfig) -> Run:
    """Seed everything and build envs, network, policy, agent and checkpoint for ``config``."""
    rc, net = config.run, config.network
    if rc.tf_threads:
        set_op_threads(rc.tf_threads)
    if rc.deterministic_ops:
        tf.config.experimental.enable_op_determinism()  # process-wide; needs the seeds set just below
    keras.utils.set_random_seed(rc.seed)  # Python, NumPy and TensorFlow global seeds
    env = make_env(config, rc.num_envs, rc.seed)
    eval_env = make_eval_env(config, rc.eval_envs, rc.seed + EVAL_SEED_OFFSET)  # episodes always end
    freeze_normalization(eval_env)
    policy = make_policy(config, env, seed=rc.seed)
    agent = make_agent(rc.algo, config.agent, policy, env.num_envs)
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
    checkpoint = make_checkpoint(agent.core.checkpoint_items(), normalization, counters, info)
    return Run(config, env, eval_env, policy, agent, normalization, counters, checkpoint, info)


def restore_run(run: Run, prefix: str) -> None:
    """Load checkpoint ``prefix`` into ``run`` (validated) and its normalization statistics into both envs."""
    ckpt.restore(run.checkpoint, prefix, run.run_info)
    state = run.normalization.state()
    if state:
        set_normalization_state(run.env, state)
        set_normalization_state(run.eval_env, state)


def sync_eval_normalization(run: Run) -> None:
    """Evaluation sees exactly the training env's current normalization statistics (frozen)."""
    state = get_normalization_state(run.env)
    if state:
        set_normalization_state(run.eval_env, state)

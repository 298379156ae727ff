"""A trained policy for use from Python: ``agents.load(RUN_DIR_OR_CHECKPOINT).predict(obs)``.

``LoadedPolicy`` wraps a run rebuilt by ``load_run`` (any algorithm; the checkpoint validated against the run's
config). ``predict`` takes observations as the run's env returns them (after any ``--wrapper`` wrappers, which
run inside each sub-env) — one observation or a batch, NumPy in, NumPy out — and applies exactly the
processing the evaluation env applies: the observation normalization with the checkpoint's statistics
(frozen) and its clip, through the evaluation env's own wrapper objects (``envs.wrappers.observation_transform``);
Box actions come back clipped to the action bounds, as the env receives them.

Room to grow without changing feed-forward callers: an action mask will be a keyword-only ``action_mask=``
argument of ``predict``; a recurrent policy will keep its state inside this object (one row per batch row),
cleared by ``reset()`` — which exists now and does nothing for a feed-forward policy, so code written today
keeps working.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.config import ResolvedConfig
from agents.experience.collector import env_action_transform
from agents.run.loading import LoadedRun, evaluate_loaded, load_run
from envs.wrappers import observation_transform


class LoadedPolicy:
    """A run's policy at one checkpoint, for inference from NumPy.

    Attributes:
        run_dir: the run directory.
        checkpoint: prefix of the restored checkpoint.
        config: the run's resolved config (config.json).
        observation_space: one observation as ``predict`` takes it (the env's space before normalization).
        action_space: one action as ``predict`` returns it.
    """

    def __init__(self, loaded: LoadedRun) -> None:
        run = loaded.run
        self.run_dir: Path = loaded.run_dir
        self.checkpoint: str = loaded.checkpoint
        self.config: ResolvedConfig = loaded.config
        self.observation_space: gym.Space = run.env.unwrapped.single_observation_space
        self.action_space: gym.Space = run.policy.action_space
        self._loaded = loaded
        self._policy = run.policy
        self._state: np.ndarray | None = None  # a recurrent policy's state [B, S] between predict calls
        # The evaluation env holds the checkpoint's statistics, frozen (build_run + restore_run).
        self._normalize = observation_transform(run.eval_env)
        self._to_env = env_action_transform(self.action_space)
        loaded.close()  # the envs' processes are not needed: the transform keeps the wrapper objects

    def predict(
        self, obs, deterministic: bool = True, info: dict | None = None, action_mask=None
    ) -> np.ndarray:
        """Actions for one observation or a batch.

        A recurrent policy carries its state from one call to the next (the same envs, step after step) and
        starts from zeros after ``reset()`` or when the batch size changes. A masking policy needs the env's
        ``info`` of the step (vector env) or ``action_mask`` (bool ``[size]`` or ``[B, size]``).

        Args:
            obs: one observation (shaped like ``observation_space``) or a batch ``[B, ...]`` of them; a dict
                of such arrays for Dict spaces. Raw, as the env returns it: normalization is applied here.
            deterministic: the distribution's mode (True) or a sample from the policy's generator (False).
            info: the vector env's info of the step that returned ``obs`` (its action masks).
            action_mask: the valid actions, instead of ``info``.

        Returns:
            One action (no batch axis) for one observation, ``[B, ...]`` actions for a batch; Box actions
            clipped to the action bounds.

        Raises:
            ValueError: ``obs`` fits neither one observation nor a batch of them.
        """
        single = _is_single(obs, self.observation_space)
        batch = self._normalize(_add_batch_axis(obs) if single else obs)
        if action_mask is not None and single:
            action_mask = np.asarray(action_mask)[None]
        if not self._policy.recurrent:
            actions = self._policy.predict(batch, deterministic, info, action_mask)
        else:  # the state carried from the previous call; zeros (an episode start) after reset()
            size = len(next(iter(batch.values())) if isinstance(batch, dict) else batch)
            state = self._state if self._state is not None and len(self._state) == size else None
            actions, self._state = self._policy.predict(batch, deterministic, info, action_mask, state=state)
        actions = self._to_env(actions)
        return actions[0] if single else actions

    def reset(self) -> None:
        """Start new episodes. Clears a recurrent policy's state; a feed-forward policy has none to clear."""
        self._state = None

    def evaluate(self, episodes: int | None = None, deterministic: bool = True, seed: int | None = None,
                 num_envs: int | None = None) -> dict:  # fmt: skip
        """Play whole episodes on a fresh env built from the run's config (``evaluate_loaded``).

        Defaults reproduce the run's own final evaluation (its eval_episodes, eval_envs and eval seed).

        Returns:
            ``mean_return``, ``std_return``, ``mean_length``, ``episodes``, ``returns``, ``lengths``.
        """
        return evaluate_loaded(self._loaded, episodes, deterministic, seed, num_envs)

    def __repr__(self) -> str:
        rc = self.config.run
        return f"LoadedPolicy({rc.algo} on {rc.env_id}, checkpoint={self.checkpoint!r})"


def load_policy(path: str | Path, checkpoint: str = "latest") -> LoadedPolicy:
    """Rebuild the run holding ``path`` (a run directory or a checkpoint in one) with ``checkpoint`` restored.

    Raises:
        RunInputError: the run directory, its config.json, its env or the checkpoint cannot be used.
    """
    return LoadedPolicy(load_run(path, checkpoint))


def _is_single(obs, space: gym.Space) -> bool:
    """One observation (True) or a batch of them (False), judged by shape against ``space``."""
    if isinstance(space, gym.spaces.Dict):
        key = next(iter(space.spaces))
        return _is_single(obs[key], space[key])
    shape, expected = np.shape(obs), tuple(space.shape or ())
    if shape == expected:
        return True
    if shape[1:] == expected and len(shape) == len(expected) + 1:
        return False
    raise ValueError(
        f"Observation of shape {shape} fits neither one observation of {space} (shape {expected}) nor a "
        f"batch of them (shape [B, {', '.join(map(str, expected))}])."
    )


def _add_batch_axis(obs):
    if isinstance(obs, dict):
        return {key: np.asarray(value)[None] for key, value in obs.items()}
    return np.asarray(obs)[None]

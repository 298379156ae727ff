"""TensorBoard beyond scalars: run header (config text, command, hparams), histograms, policy videos.

What goes where (all at env-step x-axis):
    text      config, command                        at step 0
    hparams   the flattened config + eval/mean_return  HParams tab, one trial per run
    histograms weights/<variable>, gradients/<variable> (when the agent provides them), rollout/actions,
              train/advantages, train/value_targets, policy/log_std   every ``histogram_every`` updates
    images    eval/video_frames: frames of one deterministic episode   at each periodic evaluation
    videos    RUN_DIR/videos/eval-<step>.mp4                           at each periodic evaluation
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.run.logging import TensorBoardLogger
from envs.wrappers import freeze_normalization, get_normalization_state, set_normalization_state

HPARAM_METRICS = ["eval/mean_return", "eval/std_return", "rollout/episode_return"]


def flatten_config(config: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """``{"agent": {"gamma": .99}}`` → ``{"agent.gamma": .99}``; values the HParams plugin can't hold become text."""
    flat: dict[str, bool | int | float | str] = {}
    for part, fields in config.items():
        if not isinstance(fields, dict):
            continue
        for name, value in fields.items():
            ok = isinstance(value, bool | int | float | str)
            flat[f"{part}.{name}"] = value if ok else json.dumps(value)
    return flat


def log_run_header(
    logger: TensorBoardLogger, config: dict[str, Any], command: list[str], trial_id: str
) -> None:
    """Config and command line as text at step 0, and the run's hyperparameters for the HParams tab."""
    logger.text("config", "```\n" + json.dumps(config, indent=2) + "\n```")
    logger.text("command", "`" + " ".join(command or ["(library call)"]) + "`")
    logger.hparams(flatten_config(config), HPARAM_METRICS, trial_id)


def policy_histograms(policy, rollout, agent) -> dict[str, np.ndarray]:
    """Histogram values for one update: weights per variable, the rollout's actions, the agent's extras.

    ``agent.histograms()``, when the agent has it, adds what only the update knows (advantages, value targets,
    gradients per variable).
    """
    values: dict[str, np.ndarray] = {}
    for variable in policy.model.trainable_variables:
        values[f"weights/{variable.path}"] = variable.numpy()
        if "log_std" in variable.path:
            values["policy/log_std"] = variable.numpy()
    valid = rollout.valid.astype(bool)  # [T, N]: not the autoreset rows
    values["rollout/actions"] = np.asarray(rollout.actions)[valid].astype(np.float32)
    extras = getattr(agent, "histograms", None)
    if extras is not None:
        values.update(extras())
    return values


def policy_scalars(policy) -> dict[str, float]:
    """``train/policy_std``: the mean std of a Gaussian policy with a state-independent learned log-std."""
    for variable in policy.model.trainable_variables:
        if "log_std" in variable.path:
            return {"train/policy_std": float(np.mean(np.exp(variable.numpy())))}
    return {}


def record_episode(policy, make_env_fn, normalization: dict, seed: int, max_steps: int = 1000) -> np.ndarray:
    """Frames [T, H, W, 3] uint8 of one deterministic episode, or an empty array if the env cannot render.

    ``make_env_fn(render_mode=...)`` builds a 1-env vector env like the evaluation env (the trainer's comes from
    ``make_eval_env``, so an env without a time limit is cut at the evaluation cap too); it gets the training
    env's current normalization statistics, frozen, so the video shows what evaluation measures. At most
    ``max_steps`` frames are kept, whatever the episode's length. The frames are the underlying game's
    ``render()`` (an Atari screen, not the 84x84 stack the policy sees).
    """
    try:
        env = make_env_fn(render_mode="rgb_array")
    except (
        gym.error.Error,
        TypeError,
        ValueError,
        ImportError,
    ):  # cannot render rgb_array: videos are optional
        return np.zeros((0, 0, 0, 3), np.uint8)
    try:
        if normalization:
            set_normalization_state(env, normalization)
        freeze_normalization(env)
        obs, info = env.reset(seed=seed)
        try:
            first = env.render()
        except (gym.error.Error, ImportError):  # e.g. pygame missing for classic-control: no video
            return np.zeros((0, 0, 0, 3), np.uint8)
        if first is None or (isinstance(first, list | tuple) and first[0] is None):
            return np.zeros((0, 0, 0, 3), np.uint8)
        frames = []
        predict, episode_start = policy.predictor(1), np.ones(1, bool)
        for _ in range(max_steps):
            frame = env.render()
            frames.append(video_frame(frame[0] if isinstance(frame, list | tuple) else frame))
            obs, _, terminated, truncated, info = env.step(predict(obs, episode_start, info=info))
            episode_start = np.zeros(1, bool)
            if terminated[0] or truncated[0]:
                break
        return np.stack(frames)
    finally:
        env.close()


def video_frame(frame, min_size: int = 160) -> np.ndarray:
    """One rendered frame as uint8 [H, W, 3]: float frames in [0, 1] (MinAtar's palette) scaled to 0-255, tiny
    ones (MinAtar's 10x10) enlarged by an integer factor so a video player shows them."""
    frame = np.asarray(frame)
    if np.issubdtype(frame.dtype, np.floating):
        frame = np.clip(frame * 255.0, 0.0, 255.0)
    frame = frame.astype(np.uint8)
    factor = -(-min_size // max(1, min(frame.shape[:2])))  # ceil
    if factor > 1:
        frame = frame.repeat(factor, axis=0).repeat(factor, axis=1)
    return frame


def save_mp4(frames: np.ndarray, path: Path, fps: int = 30) -> bool:
    """Write frames as an MP4 (moviepy, from the ``video`` extra); False when moviepy is missing."""
    try:
        from moviepy import ImageSequenceClip
    except ImportError:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = ImageSequenceClip(list(frames), fps=fps)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    clip.write_videofile(str(tmp), codec="libx264", audio=False, logger=None)
    tmp.replace(path)
    return True


_PROBE = """
import tensorflow, gymnasium
env = gymnasium.make({env_id!r}, render_mode="rgb_array")
env.reset(seed=0)
env.render()
"""


@functools.cache
def renders_beside_tensorflow(env_id: str) -> bool:
    """Whether a MuJoCo env can render ``rgb_array`` frames in a process that has loaded TensorFlow.

    On a CPU-only machine MuJoCo's EGL renderer (Mesa) segfaults once TensorFlow is loaded: an uncatchable
    crash that took a finished 1M-step HalfCheetah run down before its summary was written. So MuJoCo envs
    are probed once per process in a child that imports TensorFlow and renders one frame (a few seconds,
    at the first evaluation only); other envs (pygame, Box2D) render in-process without trouble.
    """
    try:
        entry_point = str(gym.spec(env_id).entry_point)
    except gym.error.Error:
        return True
    if "mujoco" not in entry_point:
        return True
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE.format(env_id=env_id)], capture_output=True, timeout=120, check=False
    )
    if probe.returncode != 0:
        print(
            f"tfpg: no evaluation videos for {env_id}: rendering it beside TensorFlow fails here (probe exit "
            f"{probe.returncode}; MUJOCO_GL=egl without a GPU segfaults). Set --set video=false to skip the probe.",
            file=sys.stderr,
        )
    return probe.returncode == 0


def log_policy_video(logger, run_dir: Path, run, make_env_fn, step: int, num_frames: int = 6) -> Path | None:
    """Record one episode: MP4 into ``run_dir/videos`` and ``num_frames`` evenly spaced frames as images."""
    if not renders_beside_tensorflow(run.config.run.env_id):
        return None
    frames = record_episode(run.policy, make_env_fn, get_normalization_state(run.env), run.config.run.seed)
    if len(frames) == 0:
        return None
    picks = np.linspace(0, len(frames) - 1, num=min(num_frames, len(frames))).astype(int)
    logger.images("eval/video_frames", frames[picks], step=step, max_outputs=num_frames)
    path = run_dir / "videos" / f"eval-{step}.mp4"
    return path if save_mp4(frames, path, fps=video_fps(run)) else None


def video_fps(run) -> int:
    """Playback in real time: the env's render_fps; with the Atari preprocessing one frame is recorded per agent
    step, i.e. every FRAME_SKIP-th of the console's 60 frames a second."""
    if run.config.run.atari_wrappers:
        from envs.atari import ATARI_FPS, FRAME_SKIP

        return ATARI_FPS // FRAME_SKIP
    return run.env.metadata.get("render_fps") or 30

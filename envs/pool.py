"""EnvPool (Weng et al., 2022) as a tfpg vector env: ``vectorization="envpool"``.

EnvPool steps its envs in C++ threads and follows Gymnasium's vector API with NEXT_STEP autoreset, like the
other backends. Two differences are smoothed over here: its ``observation_space``/``action_space`` are the
single-env spaces (the adapter batches them), and its envs are seeded once, at construction (sub-env ``i``
gets ``seed + i``), so ``reset(seed=...)`` is accepted and not passed on.

Its Atari envs are configured to match ``envs/atari.py``'s pipeline (EnvPool's own defaults differ: no sticky
actions, FIRE on reset). EnvPool is not an extra (its wheel pulls ~740 MB); ``benchmarks/envpool_check.py``
checks the semantics against the Gymnasium and ALE paths.
"""

from __future__ import annotations

import gymnasium
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from envs import atari

INSTALL_HINT = "pip install envpool==1.2.5"


def envpool_atari_kwargs(env_id: str, frame_stack: int) -> dict:
    """EnvPool options that give the same preprocessing as ``envs/atari.py`` (and ALE's v5 sticky actions)."""
    spec = gymnasium.spec(atari.bare_id(env_id))
    frames = spec.kwargs.get("max_num_frames_per_episode", 108_000)
    return dict(
        stack_num=frame_stack,
        frame_skip=atari.FRAME_SKIP,
        noop_max=atari.NOOP_MAX,
        img_height=atari.SCREEN_SIZE,
        img_width=atari.SCREEN_SIZE,
        gray_scale=True,
        episodic_life=False,  # life loss and reward sign are tfpg's training-only wrappers
        reward_clip=False,
        use_fire_reset=False,
        repeat_action_probability=spec.kwargs.get("repeat_action_probability", 0.25),
        max_episode_steps=frames // atari.FRAME_SKIP,
    )


def make_envpool(
    env_id: str, num_envs: int, seed: int | None, env_kwargs: dict, atari_wrappers: bool, frame_stack: int
) -> VectorEnv:
    """An EnvPool vector env for ``env_id`` (``ALE/<Game>-v5`` maps to EnvPool's ``<Game>-v5``).

    Raises:
        ImportError: EnvPool is not installed (the message gives the install command).
        ValueError: An ALE id without ``atari_wrappers`` (EnvPool's Atari envs always preprocess).
    """
    try:
        import envpool
    except ImportError as err:
        raise ImportError(
            f"vectorization=envpool needs the envpool package ({err}); install it with {INSTALL_HINT} (not part "
            f"of any tfpg extra: its wheel pulls ~740 MB)."
        ) from err
    kwargs = dict(env_kwargs)
    task = env_id
    if atari.is_atari(env_id):
        if not atari_wrappers:
            raise ValueError(
                "EnvPool's Atari envs always preprocess their frames; set atari_wrappers=true (the same "
                "preprocessing) or vectorization=sync for the raw frames."
            )
        atari.register_pixel_envs(env_id)  # for the id's spec (sticky-action probability, frame cap)
        if "max_num_frames_per_episode" in kwargs:  # ALE's option, in EnvPool's unit (agent steps)
            kwargs["max_episode_steps"] = kwargs.pop("max_num_frames_per_episode") // atari.FRAME_SKIP
        kwargs = {**envpool_atari_kwargs(env_id, frame_stack), **kwargs}
        task = atari.bare_id(env_id).removeprefix(atari.ATARI_PREFIX)
    if task not in envpool.list_all_envs():
        raise ValueError(f"EnvPool has no {task!r} env; choose another vectorization (sync, async, auto).")
    return EnvPoolAdapter(
        envpool.make(task, env_type="gymnasium", num_envs=num_envs, seed=seed or 0, **kwargs)
    )


class EnvPoolAdapter(VectorWrapper):
    """Batched ``observation_space``/``action_space``; ``reset(seed=...)`` accepted (EnvPool seeds at construction)."""

    def __init__(self, env):
        super().__init__(env)
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, env.num_envs)
        self.action_space = batch_space(env.action_space, env.num_envs)
        self.metadata = env.metadata

    def reset(self, *, seed=None, options=None):
        return self.env.reset(options=options)

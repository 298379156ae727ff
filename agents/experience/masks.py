"""Where an env's action mask comes from, and reading it off a vector env's observations and infos.

An action mask says which actions are valid in the current state: bool, one row per env, True = valid.
For ``Discrete(n)`` a row has n entries; for ``MultiDiscrete(nvec)`` it is one flat row of sum(nvec)
entries, the per-dimension masks concatenated in dimension order (sb3-contrib's MaskablePPO layout, and the
layout of the concatenated logits it masks, see networks/distributions.py). Box and MultiBinary actions
cannot be masked. The mask is bool from here on (in the rollout, the learner batch and the exported
signature); envs may report it as bool or as integers 0/1 (Gymnasium's ``Discrete.sample(mask=...)`` takes
int8), nothing else.

Sources (``RunConfig.action_mask``): ``none``; ``obs:KEY``, a key of a ``Dict`` observation, removed from
what the network sees; ``info:KEY``, the env's ``info`` (a vector env batches it as ``info[KEY]`` [N, ...]
with presence flags ``info["_" + KEY]`` [N]); ``auto``, resolved once from the space and the reset info
(``resolve_mask_source``). ``obs``/``info`` without a key mean the key ``action_mask``.

TF-free: agents/config.py validates the setting through ``MaskSource.parse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

DEFAULT_KEY = "action_mask"
KINDS = ("auto", "none", "obs", "info")


class ActionMaskError(ValueError):
    """An action mask that cannot be used: wrong shape or dtype, missing, or a state with no valid action."""


@dataclass(frozen=True)
class MaskSource:
    """A parsed ``action_mask`` setting: kind in KINDS, and the key for ``obs`` / ``info``."""

    kind: str = "auto"
    key: str = DEFAULT_KEY

    @classmethod
    def parse(cls, text: str) -> MaskSource:
        """``auto`` | ``none`` | ``obs[:KEY]`` | ``info[:KEY]`` → MaskSource.

        Raises:
            ValueError: Any other text (the message lists the accepted forms).
        """
        kind, sep, key = str(text).strip().partition(":")
        if kind not in KINDS or (sep and (kind in ("auto", "none") or not key.strip())):
            raise ValueError(
                f"action_mask={text!r} is not one of: auto, none, obs:KEY, info:KEY (e.g. obs:action_mask, "
                f"info:action_mask; bare obs/info mean the key {DEFAULT_KEY!r})."
            )
        return cls(kind, key.strip() or DEFAULT_KEY)

    def __str__(self) -> str:
        return self.kind if self.kind in ("auto", "none") else f"{self.kind}:{self.key}"


def action_mask_size(action_space: gym.Space) -> int:
    """Length of one env's mask row: n for Discrete(n), sum(nvec) for a 1-D MultiDiscrete(nvec).

    Raises:
        ActionMaskError: For any other action space.
    """
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.MultiDiscrete) and len(action_space.shape) == 1:
        return int(action_space.nvec.sum())
    raise ActionMaskError(
        f"Action masking needs a Discrete or 1-D MultiDiscrete action space, but the env's is "
        f"{action_space!r}: Box and MultiBinary actions have no set of choices to mask. Set action_mask=none."
    )


def resolve_mask_source(
    source: MaskSource | str, observation_space: gym.Space, reset_info: dict[str, Any], env_id: str
) -> MaskSource:
    """Turns ``auto`` into ``obs``, ``info`` or ``none``, and checks that an explicit source exists.

    ``auto``: ``obs:action_mask`` if the (single-env) observation space is a Dict with that key, else
    ``info:action_mask`` if the reset info has it, else ``none``.

    Args:
        source: The setting (parsed or text).
        observation_space: One env's observation space.
        reset_info: The info of the (vector) env's first reset.
        env_id: For error messages.

    Raises:
        ActionMaskError: An ``obs:KEY`` the observation space lacks, or an ``info:KEY`` the reset info lacks.
    """
    source = MaskSource.parse(source) if isinstance(source, str) else source
    is_dict = isinstance(observation_space, gym.spaces.Dict)
    if source.kind == "auto":
        if is_dict and DEFAULT_KEY in observation_space.spaces:
            return MaskSource("obs", DEFAULT_KEY)
        return MaskSource("info", DEFAULT_KEY) if DEFAULT_KEY in reset_info else MaskSource("none")
    if source.kind == "obs" and not (is_dict and source.key in observation_space.spaces):
        keys = list(observation_space.spaces) if is_dict else None
        raise ActionMaskError(
            f"{env_id}: action_mask={source} needs a Dict observation with the key {source.key!r}, but the "
            f"observation space is {observation_space!r}"
            + (f" (keys {keys})" if keys else "")
            + ". Use info:KEY if the env reports the mask in its info, or action_mask=none."
        )
    if source.kind == "info" and source.key not in reset_info:
        raise ActionMaskError(
            f"{env_id}: action_mask={source}, but the env's reset info has no {source.key!r} (keys "
            f"{sorted(k for k in reset_info if not k.startswith('_'))}). The env must report the mask from "
            f"reset on, since the first action needs it; or set action_mask=none."
        )
    return source


def strip_observation_space(observation_space: gym.Space, source: MaskSource) -> gym.Space:
    """The observation space the network sees: without the mask key for ``obs:KEY``.

    A Dict left with a single key becomes that key's space (the common ``{"observation", "action_mask"}``
    layout then trains, normalizes and exports like a plain observation).
    """
    if source.kind != "obs":
        return observation_space
    rest = {k: v for k, v in observation_space.spaces.items() if k != source.key}
    if not rest:
        raise ActionMaskError(
            f"The observation space {observation_space!r} holds nothing but the mask {source.key!r}; the "
            f"network needs something else to observe."
        )
    return next(iter(rest.values())) if len(rest) == 1 else gym.spaces.Dict(rest)


class ActionMasks:
    """Reads the [N, size] bool mask off each vector step and hides an ``obs:KEY`` mask from the network.

    Args:
        source: A resolved source (kind ``none``, ``obs`` or ``info``; see ``resolve_mask_source``).
        observation_space: One env's observation space, as the env reports it.
        action_space: One env's action space (Discrete or 1-D MultiDiscrete, unless the source is none).
        env_id: For error messages.

    Attributes:
        observation_space: What the network sees (``strip_observation_space``).
        size: Entries per mask row (0 when the source is none).
        enabled: Whether there is a mask at all.
    """

    def __init__(
        self, source: MaskSource, observation_space: gym.Space, action_space: gym.Space, env_id: str
    ) -> None:
        if source.kind == "auto":
            raise ValueError("ActionMasks needs a resolved source; call resolve_mask_source first.")
        self.source, self.env_id = source, env_id
        self.enabled = source.kind != "none"
        self.size = action_mask_size(action_space) if self.enabled else 0
        self.observation_space = strip_observation_space(observation_space, source)
        nvec = action_space.nvec if isinstance(action_space, gym.spaces.MultiDiscrete) else None
        # Flat start of each MultiDiscrete dimension's block, for the per-dimension "any valid" check.
        self._starts = None if nvec is None else np.concatenate([[0], np.cumsum(nvec)[:-1]])
        self._where = f"obs[{source.key!r}]" if source.kind == "obs" else f"info[{source.key!r}]"

    def __call__(
        self, obs: Any, info: dict[str, Any], step: int, autoreset: np.ndarray | None = None
    ) -> tuple[Any, np.ndarray | None]:
        """(the observation the network sees, the mask bool [N, size] or None without masking).

        Args:
            obs: The vector env's observation (a dict of [N, ...] arrays for Dict spaces).
            info: The vector env's info of the same step.
            step: The vector step's index in the run, for error messages.
            autoreset: bool [N], True for envs whose next action the env ignores (their previous step ended
                the episode; NEXT_STEP autoreset). Their mask may be missing or empty (a finished game has no
                valid move): it is then all True.

        Raises:
            ActionMaskError: Wrong shape or dtype, an env that did not report its mask, or an env with no
                valid action (in some dimension, for MultiDiscrete) in a state it will act in.
        """
        if not self.enabled:
            return obs, None
        num_envs = len(next(iter(obs.values())) if isinstance(obs, dict) else obs)
        exempt = np.zeros(num_envs, bool) if autoreset is None else np.asarray(autoreset, bool)
        if self.source.kind == "obs":
            raw, present = obs[self.source.key], np.ones(num_envs, bool)
            rest = {k: v for k, v in obs.items() if k != self.source.key}
            obs = next(iter(rest.values())) if len(rest) == 1 else rest
        else:
            raw = info.get(self.source.key)
            present = np.asarray(info.get("_" + self.source.key, np.ones(num_envs, bool)), bool)
            if raw is None:
                raw, present = np.ones((num_envs, self.size), bool), np.zeros(num_envs, bool)
        missing = ~present & ~exempt
        if missing.any():
            raise ActionMaskError(
                f"{self.env_id}: sub-env(s) {np.flatnonzero(missing).tolist()} reported no {self._where} at "
                f"vector step {step}; with action_mask={self.source} every step's info must carry the mask."
            )
        mask = self._as_bool(raw, num_envs, step)
        fill = exempt & (~present | ~self._any_valid(mask))
        mask[fill] = True
        empty = ~self._any_valid(mask)
        if empty.any():
            env = int(np.flatnonzero(empty)[0])
            raise ActionMaskError(
                f"{self.env_id}: sub-env {env} has no valid action at vector step {step}: its {self._where} "
                f"row is {mask[env].astype(int).tolist()}"
                + (" (each MultiDiscrete dimension needs one)" if self._starts is not None else "")
                + ". A state the agent must act in needs at least one valid action."
            )
        return obs, mask

    def _as_bool(self, raw: Any, num_envs: int, step: int) -> np.ndarray:
        """bool [N, size] copy of the reported mask, or ActionMaskError naming shapes and dtype."""
        array = np.asarray(raw)
        if array.dtype == object:  # envs that report lists: Gymnasium batches them as an object array
            try:
                array = np.stack([np.asarray(row) for row in array])
            except ValueError as err:
                raise ActionMaskError(
                    f"{self.env_id}: the {self._where} rows at vector step {step} have different lengths "
                    f"({[np.shape(row) for row in raw]}); each must have {self.size} entries."
                ) from err
        expected = (num_envs, self.size)
        if array.shape != expected:
            raise ActionMaskError(
                f"{self.env_id}: {self._where} at vector step {step} has shape {array.shape}, expected "
                f"{expected} = (num_envs, {self._layout()})."
            )
        if array.dtype == bool:
            return array.copy()
        if np.issubdtype(array.dtype, np.integer) and np.isin(array, (0, 1)).all():
            return array.astype(bool)
        raise ActionMaskError(
            f"{self.env_id}: {self._where} at vector step {step} has dtype {array.dtype}"
            + (" with values other than 0/1" if np.issubdtype(array.dtype, np.integer) else "")
            + "; an action mask must be bool (or integers 0/1), True = valid action."
        )

    def _any_valid(self, mask: np.ndarray) -> np.ndarray:
        """bool [N]: at least one valid action (in every dimension, for MultiDiscrete)."""
        if self._starts is None:
            return mask.any(axis=1)
        return np.logical_or.reduceat(mask, self._starts, axis=1).all(axis=1)

    def _layout(self) -> str:
        if self._starts is None:
            return f"n={self.size} for the Discrete action space"
        return f"sum(nvec)={self.size}, the per-dimension masks concatenated"


def valid_action_counts(mask: np.ndarray) -> np.ndarray:
    """Valid entries per row (summed over dimensions for MultiDiscrete). mask [..., size] bool → [...]."""
    return np.asarray(mask, bool).sum(axis=-1)


def invalid_action_flags(mask: np.ndarray, actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    """True where an action is outside the mask (in any dimension), checked against the mask itself.

    Written apart from the sampler on purpose (rollout/invalid_actions: it must count what the env would
    refuse, whatever the distribution did). mask [..., size] bool; actions [...] (Discrete) or [..., D]
    (MultiDiscrete), as indices from 0 like tfpg's distributions sample them → bool [...].
    """
    mask = np.asarray(mask, bool)
    if isinstance(action_space, gym.spaces.Discrete):
        index = np.asarray(actions, np.int64)[..., None]  # [..., 1]
    else:
        offsets = np.concatenate([[0], np.cumsum(action_space.nvec)[:-1]])  # flat start of each dimension
        index = np.asarray(actions, np.int64) + offsets  # [..., D]
    return ~np.take_along_axis(mask, index, axis=-1).all(axis=-1)

"""Where an env's action mask comes from, and reading it off a vector env's observations and infos.

An action mask says which actions are valid in the current state: bool, one row per env, True = valid.
For ``Discrete(n)`` a row has n entries; for ``MultiDiscrete(nvec)`` it is one flat row of sum(nvec)
entries, the per-dimension masks concatenated in dimension order (sb3-contrib's MaskablePPO layout, and the
layout of the concatenated logits it masks, see networks/distributions.py). Box and MultiBinary actions
cannot be masked. The mask is bool from here on (in the rollout, the learner batch and the exported
signature); envs may report it as bool or as integers 0/1 (Gymnasium's ``Discrete.sample(mask=...)`` takes
int8), nothing else.

Sources (``RunConfig.action_mask``): ``none``; ``obs:KEY``, a key of a ``Dict`` observation; ``info:KEY``,
the env's ``info`` (a vector env batches it as ``info[KEY]`` [N, ...] with presence flags
``info["_" + KEY]`` [N]); ``auto``, resolved once per env from its spaces and its reset info
(``resolve_mask_source``). ``obs``/``info`` without a key mean the key ``action_mask``. An ``obs`` mask is
moved into ``info`` by the env itself (``envs.wrappers.ActionMaskToInfo``, which ``make_env`` adds for the
settings ``obs:KEY`` and ``auto``), so the network, normalization, buffers and export never see it and the
acting side reads every mask from ``info``.

The policy reads the mask once per step (``ActionMasks``), acts with it and returns it as the rollout field
``action_mask`` (bool [T, N, size]): the update then uses the behaviour-time mask.

TF-free: agents/config.py validates the setting through ``MaskSource.parse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from envs.wrappers import moved_action_mask_key

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
    setting: MaskSource | str, env: gym.vector.VectorEnv, env_id: str, seed: int | None = None
) -> MaskSource:
    """The source a (vector) env's masks come from: ``auto`` becomes ``obs``, ``info`` or ``none``.

    ``auto``: ``obs:action_mask`` if the env's Dict observation had that key (``ActionMaskToInfo`` moved it),
    else ``info:action_mask`` if the env reports it on reset and its actions are Discrete or MultiDiscrete,
    else ``none``. Explicit sources are checked: the key must exist.

    Reading the reset info (``auto`` without an observation mask, ``info:KEY``) resets the base vector env
    once with ``seed``, beneath tfpg's wrappers: normalization statistics and episode counters are untouched,
    and the first real reset re-seeds every sub-env, so runs are what they would be without it.

    Raises:
        ActionMaskError: An ``obs:KEY`` the observation lacks, or an ``info:KEY`` the reset info lacks.
    """
    source = MaskSource.parse(setting) if isinstance(setting, str) else setting
    if source.kind == "none":
        return source
    moved = moved_action_mask_key(env)
    if source.kind in ("auto", "obs") and moved == source.key:
        return MaskSource("obs", moved)
    if source.kind == "obs":
        raw = env.unwrapped.single_observation_space
        raise ActionMaskError(
            f"{env_id}: action_mask={source} needs a Dict observation with the key {source.key!r}, but the "
            f"observation space is {raw!r}"
            + (f" (keys {list(raw.spaces)})" if isinstance(raw, gym.spaces.Dict) else "")
            + ". Use info:KEY if the env reports the mask in its info, or action_mask=none."
            + (
                f" (The env must be made with make_vector_env(..., action_mask_key={source.key!r}).)"
                if isinstance(raw, gym.spaces.Dict) and source.key in raw.spaces
                else ""
            )
        )
    if source.kind == "auto" and not _maskable(env.single_action_space):
        return MaskSource("none")
    _, reset_info = env.unwrapped.reset(seed=seed)
    if source.key in reset_info:
        return MaskSource("info", source.key)
    if source.kind == "auto":
        return MaskSource("none")
    raise ActionMaskError(
        f"{env_id}: action_mask={source}, but the env's reset info has no {source.key!r} (keys "
        f"{sorted(k for k in reset_info if not k.startswith('_'))}). The env must report the mask from "
        f"reset on, since the first action needs it; or set action_mask=none."
    )


def _maskable(action_space: gym.Space) -> bool:
    try:
        action_mask_size(action_space)
    except ActionMaskError:
        return False
    return True


def autoreset_rows(info: dict[str, Any], num_envs: int) -> np.ndarray:
    """bool [N]: envs whose next action the env ignores (their previous step ended an episode).

    NEXT_STEP autoreset: the step after a done step returns the reset observation whatever the action was.
    ``RecordEpisodeStatistics`` (which ``make_vector_env`` always adds) flags exactly those done steps with
    ``info["_episode"]``, and ``info`` is the info of the step that produced the current observation.
    """
    return np.asarray(info.get("_episode", np.zeros(num_envs, bool)), bool)


class ActionMasks:
    """Reads the [N, size] bool mask of each vector step off the env's ``info``.

    Args:
        source: A resolved source, kind ``obs`` or ``info`` (see ``resolve_mask_source``).
        action_space: One env's action space (Discrete or 1-D MultiDiscrete).
        env_id: For error messages.

    Attributes:
        size: Entries per mask row.
    """

    def __init__(self, source: MaskSource, action_space: gym.Space, env_id: str) -> None:
        if source.kind not in ("obs", "info"):
            raise ValueError(f"ActionMasks needs a resolved obs or info source, got {source}.")
        self.source, self.env_id = source, env_id
        self.size = action_mask_size(action_space)
        nvec = action_space.nvec if isinstance(action_space, gym.spaces.MultiDiscrete) else None
        # Flat start of each MultiDiscrete dimension's block, for the per-dimension "any valid" check.
        self._starts = None if nvec is None else np.concatenate([[0], np.cumsum(nvec)[:-1]])
        self._where = f"{source.kind}[{source.key!r}]"

    def __call__(self, info: dict[str, Any], num_envs: int, where: str) -> np.ndarray:
        """The mask bool [N, size] of the step whose ``info`` this is.

        Rows of envs whose action the env ignores (``autoreset_rows``) may be missing or empty (a finished
        game has no valid move): they become all True.

        Args:
            info: The vector env's info of the step that produced the current observation.
            num_envs: N.
            where: Which step, for error messages (e.g. "rollout step 17").

        Raises:
            ActionMaskError: Wrong shape or dtype, an env that did not report its mask, or an env with no
                valid action (in some dimension, for MultiDiscrete) in a state it will act in.
        """
        raw, present = info.get(self.source.key), info.get("_" + self.source.key)
        if raw is not None:
            mask = self._as_bool(raw, num_envs, where)
            # The common step: every env reported a mask with a valid action (one reduction, ~µs).
            if (present is None or np.all(present)) and self._any_valid(mask).all():
                return mask
        else:
            mask = np.ones((num_envs, self.size), bool)
        return self._repair(mask, raw, present, info, num_envs, where)

    def _repair(self, mask, raw, present, info, num_envs: int, where: str) -> np.ndarray:
        """The rare step with a missing or empty mask row: all True where the env ignores the action, else
        ActionMaskError."""
        exempt = autoreset_rows(info, num_envs)
        present = (
            np.zeros(num_envs, bool)
            if raw is None
            else np.ones(num_envs, bool)
            if present is None
            else present
        )
        present = np.asarray(present, bool)
        missing = ~present & ~exempt
        if missing.any():
            raise ActionMaskError(
                f"{self.env_id}: sub-env(s) {np.flatnonzero(missing).tolist()} reported no {self._where} at "
                f"{where}; with action_mask={self.source} every step must carry the mask."
            )
        mask[exempt & ~present] = True
        empty = ~self._any_valid(mask)
        mask[empty & exempt] = True
        empty &= ~exempt
        if empty.any():
            env = int(np.flatnonzero(empty)[0])
            raise ActionMaskError(
                f"{self.env_id}: sub-env {env} has no valid action at {where}: its {self._where} "
                f"row is {mask[env].astype(int).tolist()}"
                + (" (each MultiDiscrete dimension needs one)" if self._starts is not None else "")
                + ". A state the agent must act in needs at least one valid action."
            )
        return mask

    def _as_bool(self, raw: Any, num_envs: int, where: str) -> np.ndarray:
        """bool [N, size] copy of the reported mask, or ActionMaskError naming shapes and dtype."""
        array = np.asarray(raw)
        if array.dtype == object:  # envs that report lists: Gymnasium batches them as an object array
            try:
                array = np.stack([np.asarray(row) for row in array])
            except ValueError as err:
                raise ActionMaskError(
                    f"{self.env_id}: the {self._where} rows at {where} have different lengths "
                    f"({[np.shape(row) for row in raw]}); each must have {self.size} entries."
                ) from err
        expected = (num_envs, self.size)
        if array.shape != expected:
            raise ActionMaskError(
                f"{self.env_id}: {self._where} at {where} has shape {array.shape}, expected "
                f"{expected} = (num_envs, {self._layout()})."
            )
        if array.dtype == bool:
            return array.copy()
        if np.issubdtype(array.dtype, np.integer) and np.isin(array, (0, 1)).all():
            return array.astype(bool)
        raise ActionMaskError(
            f"{self.env_id}: {self._where} at {where} has dtype {array.dtype}"
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


class MaskCounts:
    """``rollout/valid_actions`` and ``rollout/invalid_actions``, pooled over the rollouts since the last write.

    Counted from each rollout's ``action_mask`` field (the env's mask as the actor read it) and its actions,
    on the rows whose action the env used (``valid``), apart from the sampler (``invalid_action_flags``).
    """

    def __init__(self, action_space: gym.Space) -> None:
        self.action_space = action_space
        self._valid_sum = self._rows = self._invalid = 0

    def add(self, rollout) -> None:
        used = rollout.data["valid"] > 0  # [T, N]
        mask, actions = rollout.data["action_mask"][used], rollout.data["actions"][used]
        self._valid_sum += int(valid_action_counts(mask).sum())
        self._rows += len(mask)
        self._invalid += int(invalid_action_flags(mask, actions, self.action_space).sum())

    def scalars(self) -> dict[str, float]:
        """The two scalars (mean valid actions per step, count of invalid ones), then start counting anew."""
        out = {
            "rollout/valid_actions": self._valid_sum / max(self._rows, 1),
            "rollout/invalid_actions": float(self._invalid),
        }
        self._valid_sum = self._rows = self._invalid = 0
        return out

"""The rollout actors a ``Policy`` hands the collector, one per rollout (agents/experience/acting.py says which).

``MirrorActor`` acts from a NumPy mirror of the policy's weights snapshot with the rollout's noise drawn up front;
``TFActor`` through the policy's compiled TF functions. Both read each step's action mask through the policy,
return it with the actions (the rollout field ``action_mask``), and step a recurrent policy's per-env states
(``StateCarry``, handed from one rollout's actor to the next).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from agents.experience.acting import Policy


class Actor(Protocol):
    """Acts for one rollout of a vector env; returns the schema's "actor" fields as NumPy arrays."""

    def act(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        """Per-step fields for the N envs (at least actions, log_probs, values).

        ``episode_start`` [N] bool is True where ``obs`` is the first observation of an episode.
        """
        ...

    def finish(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        """Per-env fields after the last step (at least last_values: V of the next observation)."""
        ...


def num_envs(obs) -> int:
    """N, the batch size of a vector env's observations (a Dict's first key tells)."""
    return len(next(iter(obs.values())) if isinstance(obs, dict) else obs)


def cast_like(obs, dtypes):
    """NumPy observations in the dtypes the compiled signature expects (``Policy.obs_dtypes``, the same nesting;
    normalizers return float64)."""
    if isinstance(dtypes, dict):
        return {key: cast_like(obs[key], dtypes[key]) for key in dtypes}
    if isinstance(dtypes, tuple):
        return tuple(cast_like(part, dtype) for part, dtype in zip(obs, dtypes, strict=True))
    return np.asarray(obs, dtype=dtypes)


class StateCarry:
    """The recurrent state of N envs between steps and rollouts: [N, S] float32, zeros before the first step."""

    def __init__(self, num_envs: int, state_size: int) -> None:
        self.state = np.zeros((num_envs, state_size), np.float32)


class MirrorActor:
    """Acts from a NumPy mirror of a snapshot, with the rollout's noise drawn up front.

    A recurrent policy's actor steps the envs' states in ``carry`` (shared with the next rollout's actor) and
    reports the states it started from as ``initial_states``.
    """

    def __init__(
        self, policy: Policy, network, distribution, noise: np.ndarray, carry: StateCarry | None = None
    ) -> None:
        self._policy = policy
        self._network, self._distribution = network, distribution
        self._noise = distribution.prepare_noise(noise)  # [T, N, width], as sample_and_log_prob takes it
        self._t = 0
        self._carry = carry
        self._initial = None if carry is None else carry.state.copy()  # [N, S]

    def act(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        if self._t == len(self._noise):  # asked for more steps than planned: draw another rollout's worth
            noise = self._policy.snapshot(*self._noise.shape[:2]).noise
            self._noise, self._t = self._distribution.prepare_noise(noise), 0
        noise = self._noise[self._t]  # [N, width]
        mask = self._policy.action_mask(obs, info, f"rollout step {self._t}")  # [N, size] or None
        self._t += 1
        obs = cast_like(obs, self._policy.obs_dtypes)
        if self._carry is None:
            params, values = self._network.forward(obs)
        else:
            params, values, self._carry.state = self._network.forward(obs, self._carry.state, episode_start)
        actions, log_probs = self._distribution.sample_and_log_prob(params, noise, mask)
        actions = actions.astype(self._policy.action_dtype, copy=False)
        return _with_mask({"actions": actions, "log_probs": log_probs, "values": values}, mask)

    def finish(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        obs = cast_like(obs, self._policy.obs_dtypes)
        if self._carry is None:
            return {"last_values": self._network.forward(obs)[1]}
        # V of the next observation from the carried state; the state itself advances at the next act.
        values = self._network.forward(obs, self._carry.state, episode_start)[1]
        return {"last_values": values, "initial_states": self._initial}


class TFActor:
    """Acts through the policy's compiled TF functions (the live model holds the snapshot's weights)."""

    def __init__(self, policy: Policy, carry: StateCarry | None = None) -> None:
        self._policy = policy
        self._t = 0
        self._carry = carry
        self._initial = None if carry is None else carry.state.copy()

    def act(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        mask = self._policy.action_mask(obs, info, f"rollout step {self._t}")  # [N, size] or None
        self._t += 1
        if self._carry is None:
            actions, log_probs, values = self._policy.act(obs, mask)
        else:
            actions, log_probs, values, self._carry.state = self._policy.act(
                obs, mask, self._carry.state, episode_start
            )
        return _with_mask({"actions": actions, "log_probs": log_probs, "values": values}, mask)

    def finish(self, obs, info: dict, episode_start: np.ndarray) -> dict[str, np.ndarray]:
        if self._carry is None:
            return {"last_values": self._policy.value(obs)}
        values = self._policy.value(obs, self._carry.state, episode_start)
        return {"last_values": values, "initial_states": self._initial}


def _with_mask(out: dict[str, np.ndarray], mask: np.ndarray | None) -> dict[str, np.ndarray]:
    """The actor's per-step fields, with the mask it acted under when masking is on."""
    if mask is not None:
        out["action_mask"] = mask
    return out

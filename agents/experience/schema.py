"""The rollout schema: the one declaration of what a rollout holds, per step and per env.

Every piece that moves experience derives from it: the collector's buffers (``allocate``), the Ray payload and
its concatenation (``concat``), the learner's flattened batch (``batch``) and the compiled update's
``input_signature`` (``batch_signature``). Adding a per-step field (an action mask, a recurrent state) is one
``Field`` in ``rollout_schema`` or one ``extend`` call: nothing else lists fields by name. The learner batch
comes in one of two layouts (``LAYOUTS``): flat transitions [T*N, ...], or whole env sequences [N, T, ...] with
the per-env fields beside them [N, ...] (a recurrent policy's update replays sequences from their initial state).

A field says who writes it (``source``):
    "env"      the collector, from what the env returned (observations, rewards, terminated, truncated, valid);
    "actor"    the actor, as a key of the dict its ``act`` (per step) or ``finish`` (per env) returns;
    "learner"  the algorithm, from the finished rollout (advantages, returns): never collected, only batched.
and who reads it: ``learner=True`` fields go into the learner batch and the update's signature.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

SOURCES = ("env", "actor", "learner")


@dataclass(frozen=True)
class ArraySpec:
    """Shape and dtype of one item (one env, one step), e.g. ``ArraySpec((4,), np.float32)``."""

    shape: tuple[int, ...]
    dtype: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))


Spec = ArraySpec | Mapping[str, "Spec"] | tuple["Spec", ...]
"""An ``ArraySpec``, or a dict (Dict observations) or tuple (Tuple observations) of specs, nested freely."""


@dataclass(frozen=True)
class Field:
    """One named piece of rollout data."""

    name: str
    spec: Spec
    """Shape and dtype of one item; a dict / tuple of specs for Dict / Tuple observations."""
    source: str = "actor"
    """Who writes it: "env" (the collector), "actor" (``Actor.act`` / ``Actor.finish``), "learner" (the
    algorithm, from the rollout, before the update)."""
    per_step: bool = True
    """True: stored [T, N, *shape]. False: once per env per rollout, [N, *shape] (e.g. the bootstrap value of the
    observation after the last row, or a recurrent core's state at the rollout's start)."""
    learner: bool = True
    """In the learner batch and the compiled update's ``input_signature``."""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"Field {self.name!r}: source must be one of {SOURCES}, got {self.source!r}.")


SCALAR_F32 = ArraySpec((), np.float32)


def space_spec(space: gym.Space, dtype=None) -> Spec:
    """The per-item spec of a Gymnasium space's values (nested for Dict and Tuple spaces)."""
    if isinstance(space, gym.spaces.Dict):
        return {key: space_spec(sub) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(space_spec(sub) for sub in space.spaces)
    return ArraySpec(space.shape, dtype or space.dtype)


def rollout_schema(observation_space: gym.Space, action_spec: ArraySpec) -> RolloutSchema:
    """The fields every on-policy rollout has.

    Args:
        observation_space: what the (wrapped) env returns per sub-env.
        action_spec: the actor's actions per env (e.g. int32 indices for Discrete, float32 [d] for Box).
    """
    return RolloutSchema(
        [
            Field("observations", space_spec(observation_space), source="env"),
            Field("actions", action_spec),
            Field("log_probs", SCALAR_F32),
            Field("values", SCALAR_F32),
            Field("rewards", SCALAR_F32, source="env", learner=False),
            Field("terminated", ArraySpec((), bool), source="env", learner=False),
            Field("truncated", ArraySpec((), bool), source="env", learner=False),
            # 1.0 for real transitions, 0.0 for the NEXT_STEP autoreset row that follows a done (not a transition).
            Field("valid", SCALAR_F32, source="env"),
            # V of the observation after row T-1: the bootstrap of the last row.
            Field("last_values", SCALAR_F32, per_step=False, learner=False),
        ]
    )


class Rollout:
    """One batch of experience: ``data[name]`` is [T, N, ...] for per-step fields and [N, ...] for per-env ones.

    Fields read and write as attributes too (``rollout.rewards``), for the readability of the algorithms.
    """

    def __init__(self, schema: RolloutSchema, data: dict[str, Any]) -> None:
        self.schema = schema
        self.data = data

    def __getattr__(self, name: str):
        data = self.__dict__.get("data")  # absent while unpickling: no recursion
        if data is not None and name in data:
            return data[name]
        raise AttributeError(f"Rollout has no field {name!r}; its schema has {sorted(data or {})}.")

    def __setattr__(self, name: str, value) -> None:
        if name in ("schema", "data"):
            object.__setattr__(self, name, value)
        elif name in self.data:
            self.data[name] = value
        else:
            raise AttributeError(f"Rollout has no field {name!r}; add it to the schema, not to one rollout.")

    def __getitem__(self, name: str):
        return self.data[name]

    @property
    def num_steps(self) -> int:
        return self.data["rewards"].shape[0]

    @property
    def num_envs(self) -> int:
        return self.data["rewards"].shape[1]


class RolloutSchema:
    """An ordered set of ``Field``s and everything derived from it."""

    def __init__(self, fields: Iterable[Field]) -> None:
        self.fields: dict[str, Field] = {}
        for field in fields:
            if field.name in self.fields:
                raise ValueError(f"Field {field.name!r} is declared twice in the rollout schema.")
            self.fields[field.name] = field

    def extend(self, *fields: Field) -> RolloutSchema:
        """A new schema with ``fields`` added (e.g. an algorithm's advantages, a policy's action mask)."""
        return RolloutSchema([*self.fields.values(), *fields])

    def replace(self, name: str, **changes) -> RolloutSchema:
        """A new schema whose field ``name`` has ``changes`` (e.g. another spec)."""
        return RolloutSchema(
            dataclasses.replace(f, **changes) if f.name == name else f for f in self.fields.values()
        )

    def names(self, *, source: str | None = None, per_step: bool | None = None, learner: bool | None = None):
        """Field names, filtered by any of the three attributes."""
        return [
            f.name
            for f in self.fields.values()
            if (source is None or f.source == source)
            and (per_step is None or f.per_step == per_step)
            and (learner is None or f.learner == learner)
        ]

    # --- collection ------------------------------------------------------------------------------------

    def allocate(self, num_steps: int, num_envs: int) -> dict[str, Any]:
        """Zeroed buffers for every collected field (sources "env" and "actor")."""
        buffers = {}
        for field in self.fields.values():
            if field.source == "learner":
                continue
            lead = (num_steps, num_envs) if field.per_step else (num_envs,)
            buffers[field.name] = _map(lambda s, lead=lead: np.zeros((*lead, *s.shape), s.dtype), field.spec)
        return buffers

    def concat(self, rollouts: Sequence[Rollout]) -> Rollout:
        """Join rollouts of several env groups (Ray workers) along the env axis: [T, sum N_w, ...]."""
        data = {}
        for name in rollouts[0].data:
            axis = 1 if self.fields[name].per_step else 0
            data[name] = _join([r.data[name] for r in rollouts], axis)
        return Rollout(self, data)

    # --- the learner's batch ---------------------------------------------------------------------------

    def batch(
        self, rollout: Rollout, *, layout: str = "flat", **learner_fields: np.ndarray
    ) -> dict[str, Any]:
        """Every ``learner`` field as arrays in the schema's dtypes, arranged by ``layout``.

        ``layout="flat"``: per-step fields [T*N, ...] (row t*N + n), for updates over single transitions;
        per-env fields cannot be flattened with them and are refused. ``layout="sequences"``: per-step fields
        [N, T, ...] (env n's whole sequence in order), per-env fields [N, ...], for updates that replay each
        env's sequence through a recurrent core. ``learner_fields`` are the "learner"-sourced ones ([T, N, ...],
        e.g. advantages and returns).
        """
        arrange = _arrangement(layout)
        batch = {}
        for field in self.fields.values():
            if not field.learner:
                continue
            if field.source == "learner":
                if field.name not in learner_fields:
                    raise KeyError(f"The learner batch needs {field.name!r}; pass it to batch().")
                value = learner_fields[field.name]
            else:
                value = rollout.data[field.name]
            batch[field.name] = _map2(
                lambda x, s, field=field: np.asarray(arrange(x, field), s.dtype), value, field.spec
            )
        return batch

    def batch_signature(self, num_steps: int, num_envs: int, layout: str = "flat"):
        """``tf.TensorSpec``s of ``batch(layout=layout)``'s output for a [T, N] rollout: an update's signature."""
        import tensorflow as tf  # the schema itself is NumPy; only the learner needs TF specs

        _arrangement(layout)  # validates it
        signature = {}
        for field in self.fields.values():
            if not field.learner:
                continue
            if layout == "flat":
                _check_flat(field)
                lead = [num_steps * num_envs]
            else:
                lead = [num_envs, num_steps] if field.per_step else [num_envs]
            signature[field.name] = _map(
                lambda s, lead=lead: tf.TensorSpec([*lead, *s.shape], tf.as_dtype(s.dtype)), field.spec
            )
        return signature


LAYOUTS = ("flat", "sequences")
"""How ``RolloutSchema.batch`` arranges the learner batch: single transitions or whole env sequences."""


def _check_flat(field: Field) -> None:
    if not field.per_step:
        raise ValueError(
            f"Field {field.name!r} is stored once per env and cannot join a flat [T*N] batch; a learner that "
            f"needs it replays whole sequences: use layout='sequences'."
        )


def _arrangement(layout: str):
    """``arrange(x, field)``: a collected array ([T, N, ...] or [N, ...]) in the learner batch's layout."""
    if layout == "flat":

        def flat(x, field):
            _check_flat(field)
            return x.reshape(-1, *x.shape[2:])

        return flat
    if layout == "sequences":
        # [T, N, ...] → [N, T, ...]: each env's steps contiguous, in time order.
        return lambda x, field: np.swapaxes(x, 0, 1) if field.per_step else x
    raise ValueError(f"Unknown batch layout {layout!r}; expected one of {LAYOUTS}.")


# Structured data (Dict / Tuple observations) is nested dicts and tuples of arrays, mirroring its spec.


def _map(fn, spec: Spec):
    if isinstance(spec, ArraySpec):
        return fn(spec)
    if isinstance(spec, tuple):
        return tuple(_map(fn, sub) for sub in spec)
    return {key: _map(fn, sub) for key, sub in spec.items()}


def _map2(fn, value, spec: Spec):
    if isinstance(spec, ArraySpec):
        return fn(value, spec)
    if isinstance(spec, tuple):
        return tuple(_map2(fn, part, sub) for part, sub in zip(value, spec, strict=True))
    return {key: _map2(fn, value[key], sub) for key, sub in spec.items()}


def _join(values: list, axis: int):
    if isinstance(values[0], dict):
        return {key: _join([v[key] for v in values], axis) for key in values[0]}
    if isinstance(values[0], tuple):
        return tuple(_join(list(parts), axis) for parts in zip(*values, strict=True))
    return np.concatenate(values, axis=axis)


def write_step(buffer, t: int, value) -> None:
    """``buffer[t] = value`` for an array or nested dicts / tuples of arrays (Dict / Tuple observations)."""
    if isinstance(buffer, dict):
        for key in buffer:
            write_step(buffer[key], t, value[key])
    elif isinstance(buffer, tuple):
        for part, part_value in zip(buffer, value, strict=True):
            write_step(part, t, part_value)
    else:
        buffer[t] = value


def leaves(value, prefix: str = "") -> list[tuple[str, np.ndarray]]:
    """The arrays of a (nested) value with their paths, e.g. ``[("image", a), ("parts/0", b)]``; ``[("", a)]``
    for a plain array."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, tuple):
        items = enumerate(value)
    else:
        return [(prefix, value)]
    return [leaf for key, sub in items for leaf in leaves(sub, f"{prefix}/{key}" if prefix else str(key))]

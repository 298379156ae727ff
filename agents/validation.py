"""Every config value checked in one place, before anything is built or written (issue 19, item 3).

``validate(config)`` runs where a config is resolved (``resolve_config``), where config.json is read back
(``ResolvedConfig.from_dict``: resume, evaluate, export) and after resume overrides. Field names are unique
across ``RunConfig``, ``NetworkConfig`` and the algorithm configs, so each rule is keyed by name and applies to
whichever part has the field; a field without a rule is checked against its annotated type (a ``float`` must
be finite). A failed check raises ``ConfigError`` naming the field, the value and the accepted range.
``activation`` is left to Keras, which refuses an unknown name when the network is built (still before
anything is written).

Also here: the checks of the paths a run writes to (``check_output_dir``, ``check_run_name``), shared by the
scripts. Nothing in this module imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envs.modes import VECTORIZATION_MODES

MAX_ENVS = 4096
"""Upper bound of num_envs/eval_envs: more is almost certainly a typo (100,000 CartPoles x 128 steps is a
12.8M-transition rollout), and one process cannot step that many Gymnasium envs usefully."""

OPTIMIZERS = ("adam", "rmsprop")


class ConfigError(ValueError):
    """A configuration value, key or preset file that cannot be used; the message says what to do."""


# --- rules: value -> None if fine, else what it must be -----------------------------------------------------
Rule = Callable[[Any], str | None]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def int_in(low: int, high: int | None = None) -> Rule:
    bound = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    return lambda x: None if _is_int(x) and x >= low and (high is None or x <= high) else bound


def number(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    text = f"a finite number in {left}{low}, {high}{right}"

    def rule(x: Any) -> str | None:
        if not _is_number(x):
            return text
        ok_low = x > low if low_open else x >= low
        ok_high = x < high if high_open else x <= high
        return None if ok_low and ok_high else text

    return rule


def positive(x: Any) -> str | None:
    return None if _is_number(x) and x > 0 else "a finite number > 0"


def non_negative(x: Any) -> str | None:
    return None if _is_number(x) and x >= 0 else "a finite number >= 0"


def optional(rule: Rule) -> Rule:
    return lambda x: None if x is None else (f"null or {msg}" if (msg := rule(x)) else None)


def one_of(*choices: str) -> Rule:
    return lambda x: None if x in choices else f"one of {', '.join(choices)}"


def env_id_rule(x: Any) -> str | None:
    ok = isinstance(x, str) and x.strip() == x and x != ""
    return None if ok else "a Gymnasium env id such as CartPole-v1 (non-empty, no surrounding spaces)"


def hidden_sizes_rule(x: Any) -> str | None:
    ok = isinstance(x, list) and all(_is_int(n) and 1 <= n <= 65_536 for n in x)
    return None if ok else "a list of layer widths, integers in [1, 65536], e.g. [64, 64] ([] for none)"


def str_keyed_dict(x: Any) -> str | None:
    return (
        None if isinstance(x, dict) and all(isinstance(k, str) for k in x) else "a mapping of names to values"
    )


def str_list(x: Any) -> str | None:
    return None if isinstance(x, list) and all(isinstance(k, str) for k in x) else "a list of strings"


RULES: dict[str, Rule] = {
    # RunConfig
    "env_id": env_id_rule,
    "seed": int_in(0, 2**31 - 1),
    "total_steps": int_in(1),
    "num_envs": int_in(1, MAX_ENVS),
    "vectorization": one_of(*VECTORIZATION_MODES),
    "clip_reward": optional(positive),
    "eval_episodes": int_in(1),
    "eval_envs": int_in(1, MAX_ENVS),
    "eval_max_episode_steps": int_in(1),
    "eval_every": optional(int_in(0)),
    "periodic_eval_episodes": int_in(0),
    "checkpoint_every": int_in(0),
    "keep_checkpoints": int_in(1),
    "tf_threads": int_in(0),
    "env_kwargs": str_keyed_dict,
    "log_every": int_in(1),
    "info_keys": str_list,
    "histogram_every": int_in(0),
    "backend": one_of("inprocess", "ray"),
    "num_workers": int_in(1, MAX_ENVS),
    "envs_per_worker": int_in(0, MAX_ENVS),
    "ray_address": optional(lambda x: None if isinstance(x, str) and x else "a non-empty address"),
    "worker_timeout_s": positive,
    # NetworkConfig
    "hidden_sizes": hidden_sizes_rule,
    # algorithm configs (PPO, A2C, REINFORCE)
    "num_steps": int_in(1),
    "learning_rate": positive,
    "value_learning_rate": optional(positive),
    "gamma": number(0.0, 1.0, low_open=True),
    "gae_lambda": number(0.0, 1.0),
    "minibatch_size": int_in(1),
    "update_epochs": int_in(1),
    "clip_range": positive,
    "clip_range_vf": optional(positive),
    "ent_coef": non_negative,
    "vf_coef": non_negative,
    "max_grad_norm": positive,
    "target_kl": optional(positive),
    "adam_epsilon": positive,
    "optimizer_epsilon": positive,
    "optimizer": one_of(*OPTIMIZERS),
    "rmsprop_rho": number(0.0, 1.0, high_open=True),
}


def _fields(config) -> dict[str, Any]:
    """Field name -> value over the three parts of a ``ResolvedConfig``."""
    return {f.name: getattr(part, f.name) for part in (config.run, config.network, config.agent)
            for f in dataclasses.fields(part)}  # fmt: skip


def validate(config) -> None:
    """Check every value of a ``ResolvedConfig`` and the relations between them.

    Raises:
        ConfigError: the first bad value (its field, the value, what it must be) or relation.
    """
    values = _fields(config)
    for name, value in values.items():
        rule = RULES.get(name)
        if isinstance(value, bool) and rule is None:
            continue
        problem = rule(value) if rule is not None else _type_problem(config, name, value)
        if problem:
            raise ConfigError(f"Config field {name!r} must be {problem}; got {value!r}.")
    rollout = values["num_envs"] * values["num_steps"]
    if values["total_steps"] < rollout:
        raise ConfigError(
            f"total_steps={values['total_steps']} is less than one rollout (num_envs {values['num_envs']} x "
            f"num_steps {values['num_steps']} = {rollout} env steps), and training goes in whole rollouts. "
            f"Set total_steps >= {rollout}, or lower num_envs / num_steps."
        )
    minibatch = values.get("minibatch_size")
    if minibatch is not None and (minibatch > rollout or rollout % minibatch):
        raise ConfigError(
            f"minibatch_size={minibatch} must divide the rollout of num_envs x num_steps = {rollout} "
            f"transitions (e.g. {_divisor_near(rollout, minibatch)})."
        )


def _type_problem(config, name: str, value: Any) -> str | None:
    """For fields without a rule: the annotated scalar type, as resolve_config checks it."""
    part = next(p for p in (config.run, config.network, config.agent) if name in _names(p))
    annotation = str(next(f for f in dataclasses.fields(part) if f.name == name).type)
    if value is None:
        return None if "None" in annotation else f"of type {annotation}"
    kind = annotation.split(" ")[0]
    if kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if kind == "float":
        return None if _is_number(value) else "a finite number"
    if kind == "int":
        return None if _is_int(value) else "an integer"
    if kind == "str":
        return None if isinstance(value, str) else "a string"
    return None


def _names(part) -> set[str]:
    return {f.name for f in dataclasses.fields(part)}


def _divisor_near(total: int, wanted: int) -> int:
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    return min(divisors, key=lambda d: abs(d - wanted))


# --- output paths -------------------------------------------------------------------------------------------
def check_run_name(run_name: str) -> None:
    """A run name is one directory name: no separators, not '.', '..' or empty, so it stays inside --logdir.

    Raises:
        ConfigError: naming the run name and what to use instead.
    """
    bad = (
        not run_name
        or run_name in (".", "..")
        or "/" in run_name
        or (os.sep != "/" and os.sep in run_name)
        or run_name != run_name.strip()
    )
    if bad:
        raise ConfigError(
            f"--run-name {run_name!r} must be a plain name inside --logdir: one directory name (no '/', not '.' "
            f"or '..', no surrounding spaces), since the run goes to LOGDIR/RUN_NAME."
        )


def check_output_dir(path: str | os.PathLike, what: str = "--logdir") -> None:
    """Refuse a directory that cannot be created or written: a file in the way, or a read-only place.

    Creates nothing that stays: the nearest existing ancestor is probed with a temporary directory, removed
    at once (``os.access`` would not do: root passes it on read-only mounts and in /proc).

    Raises:
        ConfigError: naming ``what``, the path and the reason.
    """
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{what} {path}: {probe} is a file, not a directory. Pass a directory.")
    try:
        tempfile.TemporaryDirectory(dir=probe, prefix=".tfpg-write-probe-").cleanup()
    except OSError as err:
        raise ConfigError(
            f"{what} {path} cannot be written ({probe}: {err.strerror or err}). Pass a writable directory."
        ) from err

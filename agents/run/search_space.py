"""Hyperparameter search spaces: per-algorithm YAML next to the presets, sampled by an Optuna trial.

``agents/presets/search/<algo>.yaml`` maps an env id to a space, like the presets: ``default`` applies to every
env and an env's own entry changes it (a parameter set to ``null`` there leaves the space). Each parameter
is a config field (the names ``--set`` takes) with one of::

    learning_rate: {float: [1.0e-5, 1.0e-2], log: true}   # a float in [low, high] (log scale if log: true)
    update_epochs: {int: [3, 20]}                           # an integer in [low, high] (log: true, step: k)
    gamma: {choice: [0.9, 0.95, 0.99]}                      # one of the values (lists too: [[64, 64], [256, 256]])
    anneal_lr: true                                         # anything else: a fixed value for every trial

A trial's config is the env's preset with the sampled values on top (``resolve_config``), so anything the
space does not mention keeps its preset value. Nothing here imports TensorFlow or Optuna.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from agents.config import PRESET_DIR, ConfigError

SEARCH_DIR = PRESET_DIR / "search"
_PRIMITIVE = (type(None), bool, int, float, str)  # what Optuna stores as a categorical choice


def load_search_space(algo: str, env_id: str, path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """The space for (algo, env): ``default`` merged with the env's entry, and which entry was used.

    Args:
        path: a YAML file of the same form (default: ``agents/presets/search/<algo>.yaml``).

    Raises:
        ConfigError: the file is missing, not YAML, has no entry for the env and no ``default``, or holds a
            parameter spec that is not one of the forms above.
    """
    path = Path(path) if path else SEARCH_DIR / f"{algo}.yaml"
    if not path.exists():
        raise ConfigError(f"No search space file {path}; write one (see agents/presets/search/ppo.yaml).")
    try:
        entries = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"Search space file {path} is not valid YAML: {err}") from err
    if env_id not in entries and "default" not in entries:
        raise ConfigError(f"Search space file {path} has no entry for {env_id} and no default entry.")
    space = dict(entries.get("default") or {})
    space.update(entries.get(env_id) or {})
    space = {name: spec for name, spec in space.items() if spec is not None}
    for name, spec in space.items():
        _check(name, spec, path)
    return space, env_id if env_id in entries else "default"


def _check(name: str, spec: Any, path: Path) -> None:
    if not isinstance(spec, dict):
        return  # a fixed value
    kinds = {"float", "int", "choice"} & set(spec)
    extra = set(spec) - {"float", "int", "choice", "log", "step"}
    if len(kinds) != 1 or extra:
        raise ConfigError(
            f"{path}: parameter {name!r} must be {{float: [low, high]}}, {{int: [low, high]}} or "
            f"{{choice: [...]}} (with optional log/step), got {spec!r}."
        )
    (kind,) = kinds
    bounds = spec[kind]
    if kind == "choice":
        if not isinstance(bounds, list) or not bounds:
            raise ConfigError(f"{path}: parameter {name!r}: choice needs a non-empty list, got {bounds!r}.")
        return
    numbers = (
        isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds)
    )
    if not numbers or bounds[0] > bounds[1] or (spec.get("log") and bounds[0] <= 0):
        raise ConfigError(
            f"{path}: parameter {name!r}: {kind} needs [low, high] with low <= high (low > 0 with log), "
            f"got {bounds!r}."
        )


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """Config values for one trial: each parameter sampled by ``trial`` (an ``optuna.Trial``), fixed ones as is."""
    values = {}
    for name, spec in space.items():
        if not isinstance(spec, dict):
            values[name] = spec
        elif "float" in spec:
            low, high = spec["float"]
            values[name] = trial.suggest_float(name, float(low), float(high), log=bool(spec.get("log")))
        elif "int" in spec:
            low, high = spec["int"]
            step = int(spec.get("step", 1))
            values[name] = trial.suggest_int(name, int(low), int(high), step=step, log=bool(spec.get("log")))
        else:
            values[name] = _suggest_choice(trial, name, spec["choice"])
    return values


def _suggest_choice(trial, name: str, choices: list) -> Any:
    if all(isinstance(c, _PRIMITIVE) for c in choices):
        return trial.suggest_categorical(name, choices)
    # Lists and mappings (e.g. hidden_sizes) are stored in the study as their JSON text.
    return json.loads(trial.suggest_categorical(name, [json.dumps(c) for c in choices]))


def decode_params(space: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A finished trial's ``params`` as config values (JSON-encoded choices decoded), plus the fixed values."""
    values = {name: spec for name, spec in space.items() if not isinstance(spec, dict)}
    for name, value in params.items():
        spec = space.get(name)
        encoded = (
            isinstance(spec, dict)
            and "choice" in spec
            and not all(isinstance(c, _PRIMITIVE) for c in spec["choice"])
        )
        values[name] = json.loads(value) if encoded else value
    return values

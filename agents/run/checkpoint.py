"""Checkpoints: everything needed to act and to resume, saved so that no crash can leave a broken one.

What is saved (one ``tf.train.Checkpoint``): the agent's items (network, optimizer with its slots, the
sampling ``tf.random.Generator``, schedule variables), counters (env steps, updates, training time, best
evaluation return), the observation/reward normalization statistics of the training env (they belong to the
policy: a policy evaluated with other statistics sees other inputs) and ``run_info``, a JSON string naming the
env, algorithm, spaces and network so that a checkpoint loaded into the wrong run is refused by name.
The environments' own state (positions, episode progress) is not saved: a resumed run starts new episodes.

Atomicity: `Saver` writes ``ckpt-STEP.data*`` and then ``ckpt-STEP.index`` (TensorFlow renames each into place
when complete), and only then atomically rewrites the ``checkpoint`` pointer file, as ``tf.train.CheckpointManager``
does. A process killed at any moment therefore leaves the pointer on the previous, complete checkpoint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from agents.run.rundir import RunInputError, write_text_atomic

CHECKPOINT_PREFIX = "ckpt"
POINTER_FILE = "checkpoint"
"""In each checkpoint directory: names the latest checkpoint and the ones kept (what ``tf.train.latest_checkpoint``
reads)."""
CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"
_RUN_INFO_KEY = "run_info/.ATTRIBUTES/VARIABLE_VALUE"


class CheckpointError(RunInputError):
    """A checkpoint is missing, unreadable, or belongs to another env/algorithm/network."""


class NormalizationVariables(tf.Module):
    """Normalization statistics (``envs.get_normalization_state`` dicts) as checkpointable variables."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        super().__init__(name="normalization")
        self.keys = sorted(state)
        self.variables_by_key = {
            key: tf.Variable(np.asarray(state[key], np.float64), trainable=False, name=key)
            for key in self.keys
        }

    def assign(self, state: dict[str, np.ndarray]) -> None:
        for key in self.keys:
            self.variables_by_key[key].assign(np.asarray(state[key], np.float64))

    def state(self) -> dict[str, np.ndarray]:
        return {key: var.numpy() for key, var in self.variables_by_key.items()}


def make_checkpoint(
    items: dict, normalization: NormalizationVariables, counters: dict, run_info: dict | None = None
) -> tf.train.Checkpoint:
    """One ``tf.train.Checkpoint`` over the agent's items, normalization variables, counters and run info."""
    extra = {}
    if run_info is not None:
        extra["run_info"] = tf.Variable(json.dumps(run_info, sort_keys=True), trainable=False)
    return tf.train.Checkpoint(
        **items, normalization=normalization.variables_by_key, counters=counters, **extra
    )


class Saver:
    """Saves ``checkpoint`` as ``directory/ckpt-STEP`` (the env step makes the name meaningful) and keeps the
    ``keep`` newest, as ``tf.train.CheckpointManager`` does, through a write compiled once. Creates nothing yet.

    Why not the manager: its ``save`` gathers the object graph and reads every variable in Python each time,
    ~25 ms on the masking benchmark's small PPO model, 10 periodic saves per run by default; a ``tf.function``
    write, traced at the first save, writes the same files in ~4 ms (``benchmarks/checkpoint_cost.py``). The
    files are ordinary object-based checkpoints, and the order is the one the module docstring relies on:
    data and index first, then the pointer file (replaced atomically), then the checkpoints beyond ``keep``
    deleted. The trace fixes which variables are written: ``count_variables`` (the number of variables behind
    the checkpoint, e.g. an optimizer's slots appear at its first step) is asked at each save, and a change
    retraces; without it (the default) the first save's variables are the ones written ever after.
    """

    def __init__(
        self,
        checkpoint: tf.train.Checkpoint,
        directory: Path,
        keep: int,
        count_variables: Callable[[], int] = lambda: 0,
    ) -> None:
        self.directory = Path(directory)
        self.keep = max(1, keep)
        # Checkpoint.save would create (and count) save_counter; restore() expects it, as in older runs' files.
        checkpoint.save_counter  # noqa: B018 (the property creates the variable)
        self._checkpoint, self._count_variables = checkpoint, count_variables
        self._write, self._traced_for = None, None
        state = tf.train.get_checkpoint_state(str(self.directory)) if self.directory.is_dir() else None
        # Names of the checkpoints the pointer file lists, oldest first (a resumed run goes on deleting them).
        self._kept = [Path(path).name for path in state.all_model_checkpoint_paths] if state else []

    def save(self, step: int) -> str:
        """Write ``ckpt-STEP``, point the pointer file at it, delete the oldest beyond ``keep``; returns the prefix."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{CHECKPOINT_PREFIX}-{step}"
        prefix = str(self.directory / name)
        count = self._count_variables()
        if count != self._traced_for:  # the first save, or variables created since (optimizer slots): retrace
            self._write, self._traced_for = tf.function(self._checkpoint.write, autograph=False), count
        self._write(tf.constant(prefix))
        kept = [old for old in self._kept if old != name] + [name]
        dropped, self._kept = kept[: -self.keep], kept[-self.keep :]
        pointer = [
            f'model_checkpoint_path: "{name}"',
            *(f'all_model_checkpoint_paths: "{k}"' for k in self._kept),
        ]
        write_text_atomic(self.directory / POINTER_FILE, "\n".join(pointer) + "\n")
        for old in dropped:  # no longer named by the pointer file
            for path in self.directory.glob(f"{old}.*"):
                path.unlink(missing_ok=True)
        return prefix


def latest_in(directory: Path) -> str | None:
    """Prefix of the newest complete checkpoint in ``directory`` (per its ``checkpoint`` pointer), or None.

    Raises:
        CheckpointError: the pointer file exists but cannot be parsed (e.g. overwritten with garbage).
    """
    if not Path(directory).is_dir():
        return None
    pointer = Path(directory) / POINTER_FILE
    try:
        prefix = tf.train.latest_checkpoint(str(directory))
    except (ValueError, tf.errors.OpError) as err:  # UnicodeDecodeError is a ValueError
        prefix, reason = None, _first_line(err)
    else:
        reason = "it names no checkpoint"
    if prefix is None and pointer.is_file():
        raise CheckpointError(
            f"The checkpoint pointer file {pointer} is unreadable ({reason}). Pass a checkpoint with "
            f"--checkpoint PATH, or restore the file. {_available(Path(directory).parent)}"
        )
    return prefix


def resolve_checkpoint(run_dir: Path, which: str = "latest") -> str:
    """Checkpoint prefix for ``which``: ``latest`` (checkpoint/), ``best`` (best/), or a path.

    A path may be a checkpoint prefix (``.../ckpt-4096``), its ``.index`` file, or a folder with a pointer file.

    Raises:
        CheckpointError: nothing loadable there; the message lists what the run does have.
    """
    if which in ("latest", "best"):
        directory = run_dir / (CHECKPOINT_DIR if which == "latest" else BEST_DIR)
        prefix = latest_in(directory)
        if prefix is None:
            hint = (
                "the run saved no best model (it needs --eval-every > 0)"
                if which == "best"
                else "the run was stopped before its first checkpoint; start it again"
            )
            raise CheckpointError(f"No {which} checkpoint in {directory}: {hint}. {_available(run_dir)}")
        return prefix
    path = Path(which)
    if path.is_dir():
        prefix = latest_in(path)
        if prefix is None:
            raise CheckpointError(f"No checkpoint pointer file in {path}. {_available(run_dir)}")
        return prefix
    prefix = str(path)[: -len(".index")] if str(path).endswith(".index") else str(path)
    if not Path(prefix + ".index").exists():
        raise CheckpointError(f"No checkpoint at {prefix} ({prefix}.index is missing). {_available(run_dir)}")
    return prefix


def _available(run_dir: Path) -> str:
    found = sorted(str(p)[: -len(".index")] for p in Path(run_dir).glob("*/ckpt-*.index"))
    return f"Checkpoints in {run_dir}: {', '.join(found)}." if found else f"{run_dir} holds no checkpoints."


def restore(checkpoint: tf.train.Checkpoint, prefix: str, run_info: dict | None = None) -> None:
    """Restore ``prefix`` into ``checkpoint``'s objects after checking that it is readable and belongs here.

    Every saved value must find its object and every object its value (same network and agent shapes).

    Raises:
        CheckpointError: missing or corrupt files, another env/algorithm/spaces/network, or shape mismatch.
    """
    if not Path(prefix + ".index").exists():
        raise CheckpointError(f"No checkpoint at {prefix} ({prefix}.index is missing).")
    try:
        reader = tf.train.load_checkpoint(prefix)
        saved = reader.get_tensor(_RUN_INFO_KEY) if reader.has_tensor(_RUN_INFO_KEY) else None
    except (tf.errors.OpError, ValueError, IndexError) as err:  # IndexError: a truncated .data file
        raise CheckpointError(_corrupt(prefix, err)) from err
    if saved is not None and run_info is not None:
        _check_run_info(prefix, json.loads(saved), run_info)
    try:
        checkpoint.restore(prefix).assert_consumed()
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError, IndexError) as err:
        raise CheckpointError(_corrupt(prefix, err)) from err
    except (tf.errors.OpError, ValueError, AssertionError) as err:
        raise CheckpointError(
            f"Checkpoint {prefix} does not fit this run's network/agent: {_first_line(err)} "
            f"It was probably saved by a run with another config; evaluate or resume it from its own run "
            f"directory. Nothing was changed."
        ) from err


def _check_run_info(prefix: str, saved: dict[str, Any], expected: dict[str, Any]) -> None:
    diffs = [
        f"{key}: checkpoint has {saved.get(key)!r}, this run has {expected.get(key)!r}"
        for key in sorted(expected)
        if not _same(saved.get(key), expected.get(key))
    ]
    if diffs:
        raise CheckpointError(
            f"Checkpoint {prefix} was saved by a different run ({'; '.join(diffs)}). Load it with the "
            f"config.json of the run that wrote it. Nothing was changed."
        )


def _same(saved: Any, expected: Any) -> bool:
    """Equal, where a dict (the network config) may have gained keys since the checkpoint was written: a
    checkpoint from before a new network option existed was made without it, i.e. with its default."""
    if isinstance(saved, dict) and isinstance(expected, dict):
        return all(key in expected and _same(value, expected[key]) for key, value in saved.items())
    return saved == expected


def _corrupt(prefix: str, err: Exception) -> str:
    return (
        f"Checkpoint {prefix} is unreadable or corrupt ({_first_line(err)}). If the run kept older "
        f"checkpoints, pass one with --checkpoint PATH; otherwise start a new run. Nothing was changed."
    )


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def remove_stale(directory: Path, after_step: int) -> None:
    """Delete leftovers of saves newer than ``after_step`` that never completed (a kill during a save).

    Called when a run resumes from ``after_step``: those files are not referenced by the pointer file and the
    resumed run would write the same names again.
    """
    for path in Path(directory).glob(f"{CHECKPOINT_PREFIX}-*"):
        step_text = path.name[len(CHECKPOINT_PREFIX) + 1 :].split(".", 1)[0].split("_", 1)[0]
        if step_text.isdigit() and int(step_text) > after_step:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

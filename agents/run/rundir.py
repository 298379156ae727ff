"""Run directories: naming, config.json/summary.json IO, resume overrides and TensorBoard event trimming.

A run directory ``LOGDIR/RUN_NAME/`` holds:
    events.out.tfevents.*   TensorBoard scalars, x-axis = environment steps
    config.json             the full resolved config (written first, atomically)
    checkpoint/ckpt-STEP.*  periodic checkpoints (the last K; agents/run/checkpoint.py Saver), ``checkpoint`` = latest
    best/ckpt-STEP.*        the checkpoint with the best periodic evaluation return, and best.json
    summary.json            written last: env, algo, seed, total_steps, wall_time_s, sps, eval_* ...
Other tools read this layout and these keys; extend them, don't rename them.

Every function here that reads user input raises ``RunInputError`` with a message that names the file and
says what to do, and writes nothing before the input is known to be good.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tensorflow as tf
from tensorboard.compat.proto import event_pb2

from agents.config import ConfigError, ResolvedConfig
from agents.validation import check_output_dir, check_run_name, validate

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"

RESUME_SAFE_FIELDS = frozenset(
    {"total_steps", "eval_every", "eval_episodes", "eval_envs", "checkpoint_every", "keep_checkpoints"}
    | {"periodic_eval_episodes", "stop_at_return", "stop_patience"}
)
"""Fields a resumed run may change: they say how long to train and how often to evaluate or save, not what the
network, optimizer or data are. Anything else would silently make the restored state mean something else."""


class RunInputError(ValueError):
    """Bad user input about a run (directory, config.json, checkpoint); the message says what to do."""


class RunDirError(RunInputError, FileExistsError):
    """The run directory cannot be used (it already holds a run)."""


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temp file and rename it over ``path``: readers see the old or the new file, whole."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp file and rename it over ``path``: readers see the old or the new file, whole."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: no half-written leftover beside the good file
        raise


LOCK_FILE = ".tfpg.lock"
"""Held (``flock``) by the process writing the run; released by the kernel when that process ends, even by kill -9."""


def _holds_files(run_dir: Path) -> bool:
    return run_dir.exists() and any(p.name != LOCK_FILE for p in run_dir.iterdir())


def check_run_dir(logdir: str, run_name: str) -> Path:
    """``logdir/run_name``, refusing one that already holds files (never overwrite a run), a run name that
    would leave ``logdir``, and a ``logdir`` that cannot be written. Creates nothing.

    Raises:
        RunDirError: the run directory holds files.
        RunInputError: a bad run name, or a ``logdir`` that is a file or not writable.
    """
    try:
        check_run_name(run_name)
        check_output_dir(logdir, "--logdir")
    except ConfigError as err:
        raise RunInputError(str(err)) from err
    run_dir = Path(logdir) / run_name
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir} exists and is not a directory; pick another --logdir or --run-name.")
    if _holds_files(run_dir):
        raise RunDirError(
            f"Run directory {run_dir} already exists and is not empty; tfpg never overwrites a run. "
            f"Pick another --run-name, move that directory away, or continue it with --resume {run_dir}."
        )
    return run_dir


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` is a failed write for lack of space (``OSError`` ENOSPC or TensorFlow's wrapper of it)."""
    return getattr(err, "errno", None) == errno.ENOSPC or "No space left on device" in str(err)


@contextlib.contextmanager
def claim_run_dir(run_dir: Path, new: bool) -> Iterator[None]:
    """Hold ``run_dir`` for this process: a second tfpg process writing the same run is refused.

    Args:
        run_dir: the run directory (created if missing).
        new: a new run: the directory must not hold a run (checked again under the lock, so two trainings
            started at once with the same name cannot both pass).

    Raises:
        RunDirError: another process holds the run, or a new run's directory holds files.
    """
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RunDirError(
            f"Cannot create the run directory {run_dir}: {err}. Pick a writable --logdir."
        ) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(
                f"Run directory {run_dir} is being written by another tfpg process right now; wait for it to "
                f"finish, or pick another --run-name."
            ) from None
        if new and _holds_files(run_dir):
            raise RunDirError(
                f"Run directory {run_dir} was filled by another process after this one checked it; tfpg never "
                f"overwrites a run. Pick another --run-name."
            )
        yield
    finally:
        os.close(fd)


def never_saved(run_dir: Path) -> bool:
    """True for a run that stopped before its first checkpoint: no checkpoint, no best checkpoint, and no
    summary.json naming one. A run whose checkpoints were deleted after it saved is *not* restarted (its
    best/ and summary.json would be lost): resuming it is an error that names the missing checkpoint."""
    from agents.run.checkpoint import BEST_DIR, CHECKPOINT_DIR, latest_in  # checkpoint.py imports this module

    if latest_in(run_dir / CHECKPOINT_DIR) or latest_in(run_dir / BEST_DIR):
        return False
    summary = run_dir / SUMMARY_FILE
    if not summary.exists():
        return True
    try:
        return json.loads(summary.read_text()).get("checkpoint") is None
    except (OSError, ValueError):
        return False


def clear_unstarted(run_dir: Path) -> None:
    """Remove what a run wrote before its first checkpoint (config.json, event files, best/, videos/,
    summary.json), so that it can start again in place from step 0. Only for a run with no checkpoint."""
    for path in run_dir.iterdir():
        if path.name == LOCK_FILE:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def default_run_name(config: ResolvedConfig) -> str:
    rc = config.run
    env = rc.env_id.replace("/", "_")  # one directory per run, also for namespaced ids (ALE/Pong-v5)
    return f"{env}__{rc.algo}__s{rc.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def find_run_dir(path: str | os.PathLike) -> Path:
    """The run directory holding ``path``: the path itself, or the nearest parent with a config.json.

    ``path`` may be a run directory, its ``checkpoint/`` or ``best/`` folder, or a checkpoint prefix such as
    ``RUN/checkpoint/ckpt-4096``.
    """
    path = Path(path)
    probe = path if path.exists() else path.parent
    if not probe.exists():
        raise RunInputError(
            f"{path} does not exist. Pass a run directory that train_agent.py created (LOGDIR/RUN_NAME), "
            f"or a checkpoint inside one."
        )
    for candidate in [probe, *probe.resolve().parents][:4]:
        if (candidate / CONFIG_FILE).exists():
            return candidate
    raise RunInputError(
        f"No {CONFIG_FILE} in {probe} or its parents, so {path} is not inside a tfpg run directory. "
        f"Pass the LOGDIR/RUN_NAME directory that train_agent.py created."
    )


def load_run_config(run_dir: Path) -> ResolvedConfig:
    """Read ``run_dir/config.json`` into a ``ResolvedConfig``.

    Raises:
        RunInputError: the file is missing, not JSON, or does not describe a valid config.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise RunInputError(
            f"Run directory {run_dir} does not exist. Pass the LOGDIR/RUN_NAME directory that train_agent.py "
            f"printed when it started."
        )
    if not path.exists():
        raise RunInputError(
            f"{path} is missing, so the run's configuration is unknown. A run directory always has one "
            f"(train_agent.py writes it first); check the path, or restore the file from a backup."
        )
    try:
        data = json.loads(path.read_text())
        return ResolvedConfig.from_dict(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError) as err:
        reason = err
    except (KeyError, TypeError, AttributeError) as err:
        reason = f"missing or unexpected field ({type(err).__name__}: {err})"
    raise RunInputError(
        f"{path} cannot be read: {reason}. It must be the JSON file train_agent.py wrote for this run; "
        f"restore it (e.g. from a copy of the run), or start a new run. Nothing was changed."
    )


def apply_resume_overrides(config: ResolvedConfig, values: dict[str, Any]) -> ResolvedConfig:
    """``config`` with the fields in ``values`` changed, refusing changes that are unsafe on resume.

    A value equal to the saved one is always accepted (so repeating the original flags is harmless).

    Raises:
        RunInputError: an unknown field, a changed field outside ``RESUME_SAFE_FIELDS``, or a bad value.
    """
    parts = {"run": config.run, "network": config.network, "agent": config.agent}
    owner = {f.name: part for part, obj in parts.items() for f in dataclasses.fields(obj)}
    changes: dict[str, dict[str, Any]] = {part: {} for part in parts}
    refused = []
    for key, value in values.items():
        name = key.split(".", 1)[-1]
        if name not in owner:
            raise RunInputError(f"Unknown config field {key!r}; valid fields: {', '.join(sorted(owner))}.")
        current = getattr(parts[owner[name]], name)
        if value == current:
            continue
        if name not in RESUME_SAFE_FIELDS:
            refused.append(f"{name} (saved {current!r}, given {value!r})")
            continue
        if name == "stop_at_return":  # a return threshold: any number, or None for none
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise RunInputError(f"stop_at_return must be a number or null, got {value!r}.")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RunInputError(f"{name} must be a non-negative integer, got {value!r}.")
        changes[owner[name]][name] = value
    if refused:
        raise RunInputError(
            f"Cannot change {', '.join(refused)} when resuming: the checkpoint's network, optimizer and "
            f"statistics were made with the saved values. On resume only {', '.join(sorted(RESUME_SAFE_FIELDS))} "
            f"may change; drop the other flags, or start a new run with --run-name."
        )
    changed = dataclasses.replace(
        config,
        run=dataclasses.replace(config.run, **changes["run"]),
        network=dataclasses.replace(config.network, **changes["network"]),
        agent=dataclasses.replace(config.agent, **changes["agent"]),
    )
    try:
        validate(changed)
    except ConfigError as err:
        raise RunInputError(f"{err} Nothing was changed.") from err
    return changed


def trim_events_after(run_dir: Path, step: int) -> int:
    """Drop TensorBoard events with ``step`` > ``step`` from the event files directly in ``run_dir``.

    A resumed run continues from its last checkpoint; whatever the stopped process logged after it will be
    logged again, so it is removed here (each file is rewritten atomically, and only if it changes; a record
    torn by a kill at the end of a file is not copied). Returns the number of events removed.
    """
    removed = 0
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        kept, dropped = [], 0
        try:
            for record in tf.data.TFRecordDataset(str(path)):
                event = event_pb2.Event.FromString(record.numpy())
                if event.step > step:
                    dropped += 1
                else:
                    kept.append(record.numpy())
        except tf.errors.DataLossError:
            dropped += 1  # a torn last record
        if not dropped:
            continue
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with tf.io.TFRecordWriter(str(tmp)) as writer:
                for record in kept:
                    writer.write(record)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # e.g. a full disk: the original event file stays as it was
            raise
        removed += dropped
    return removed

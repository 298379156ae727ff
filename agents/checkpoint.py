"""Checkpoints: a ``tf.train.Checkpoint`` of everything needed to act and to resume, written atomically.

What is saved: the network, the optimizer (with its slots), the sampling generator, counters and the
observation/reward normalization statistics of the training env (they belong to the policy: a policy
evaluated with other statistics sees other inputs).

Atomicity: a checkpoint is written into a fresh temporary directory beside its destination and renamed into
place only when complete, so a reader never sees a half-written checkpoint and an interrupted write leaves
the previous one intact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

CHECKPOINT_PREFIX = "ckpt"


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
    items: dict, normalization: NormalizationVariables, counters: dict
) -> tf.train.Checkpoint:
    """One ``tf.train.Checkpoint`` over the agent's items, normalization variables and counter variables."""
    return tf.train.Checkpoint(**items, normalization=normalization.variables_by_key, counters=counters)


def save_checkpoint(checkpoint: tf.train.Checkpoint, directory: str | os.PathLike) -> Path:
    """Atomically (re)write ``directory`` with the checkpoint; returns the path prefix of the files."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        checkpoint.write(str(tmp / CHECKPOINT_PREFIX))
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory / CHECKPOINT_PREFIX


def restore_checkpoint(checkpoint: tf.train.Checkpoint, directory: str | os.PathLike) -> None:
    """Restore every saved value into ``checkpoint``'s objects; all of them must match.

    Raises:
        FileNotFoundError: no checkpoint in ``directory``.
    """
    prefix = Path(directory) / CHECKPOINT_PREFIX
    if not Path(f"{prefix}.index").exists():
        raise FileNotFoundError(f"No checkpoint at {prefix}.index")
    checkpoint.read(str(prefix)).assert_consumed()

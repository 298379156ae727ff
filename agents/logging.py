"""Metric logging: a one-method protocol and its TensorBoard implementation.

Keys are namespaced (``rollout/``, ``train/``, ``time/``, ``eval/``) and the step is always the number of
environment steps, so curves from runs with different num_envs or rollout lengths line up.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import tensorflow as tf


class Logger(Protocol):
    """Anything that can take a dict of scalars at an env step."""

    def write(self, metrics: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


class TensorBoardLogger:
    """Writes ``tf.summary`` scalars, histograms, images, text and hparams into one event-file directory.

    Scalars go through one compiled call per set of tags: an eager ``tf.summary.scalar`` costs ~0.5 ms, so
    17 of them per update were ~15% of a CartPole run; one graph call writes them all for about the price
    of one. ``seconds`` accumulates the time spent in this logger (reported as the logging share of a run).
    """

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir
        self._writer = tf.summary.create_file_writer(logdir)
        self._scalar_writers: dict[tuple[str, ...], Any] = {}
        self.seconds = 0.0

    def write(self, metrics: Mapping[str, float], step: int) -> None:
        start = time.perf_counter()
        tags = tuple(metrics)
        write_all = self._scalar_writers.get(tags)
        if write_all is None:
            write_all = self._scalar_writers[tags] = tf.function(
                functools.partial(self._write_scalars, tags),
                input_signature=[tf.TensorSpec([len(tags)], tf.float32), tf.TensorSpec([], tf.int64)],
                autograph=False,
            )
        write_all(np.asarray(list(metrics.values()), np.float32), np.int64(step))
        self.seconds += time.perf_counter() - start

    def _write_scalars(self, tags: tuple[str, ...], values: tf.Tensor, step: tf.Tensor):
        with self._writer.as_default(step=step):
            for i, tag in enumerate(tags):
                tf.summary.scalar(tag, values[i])

    def text(self, tag: str, text: str, step: int = 0) -> None:
        with self._writer.as_default(step=step):
            tf.summary.text(tag, text)

    def histograms(self, values: Mapping[str, object], step: int) -> None:
        """One histogram per tag (weights, gradients, actions, advantages, ...)."""
        start = time.perf_counter()
        with self._writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.histogram(tag, value)
        self.seconds += time.perf_counter() - start

    def images(self, tag: str, images, step: int, max_outputs: int = 8) -> None:
        """uint8 images [K, H, W, C] under one tag (TensorBoard shows up to ``max_outputs`` of them)."""
        with self._writer.as_default(step=step):
            tf.summary.image(tag, images, max_outputs=max_outputs)

    def hparams(
        self, hparams: Mapping[str, bool | int | float | str], metrics: list[str], trial_id: str
    ) -> None:
        """The run's hyperparameters for TensorBoard's HParams tab; ``metrics`` are scalar tags to compare."""
        from tensorboard.plugins.hparams import api as hp

        with self._writer.as_default(step=0):
            hp.hparams_config(
                hparams=[hp.HParam(name) for name in hparams], metrics=[hp.Metric(m) for m in metrics]
            )
            hp.hparams(dict(hparams), trial_id=trial_id)

    def trace_on(self) -> None:
        """Record the graphs of the ``tf.function``s run until ``trace_export``."""
        tf.summary.trace_on(graph=True, profiler=False)

    def trace_export(self, name: str, step: int) -> None:
        with self._writer.as_default(step=step):
            tf.summary.trace_export(name=name, step=step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()


def read_scalars(run_dir: str, tag: str) -> tuple[list[int], list[float]]:
    """All (step, value) points of one scalar tag in a run directory's event files, sorted by step.

    Reads through TensorBoard's own EventAccumulator, so what comes back is what TensorBoard shows.
    Raises KeyError (listing the tags that exist) if the run has no such tag.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir, size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    if tag in tags.get("tensors", []):
        points = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    elif tag in tags.get("scalars", []):
        points = [(e.step, float(e.value)) for e in acc.Scalars(tag)]
    else:
        available = sorted(tags.get("tensors", []) + tags.get("scalars", []))
        raise KeyError(f"{run_dir} has no scalar {tag!r}; it has: {', '.join(available) or 'none'}")
    points.sort()
    return [s for s, _ in points], [v for _, v in points]

"""Metric logging: a one-method protocol and its TensorBoard implementation.

Keys are namespaced (``rollout/``, ``train/``, ``time/``, ``eval/``) and the step is always the number of
environment steps, so curves from runs with different num_envs or rollout lengths line up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol

import numpy as np
import tensorflow as tf
from tensorboard.compat.proto import summary_pb2, types_pb2
from tensorboard.plugins.scalar.summary_v2 import scalar_pb


class Logger(Protocol):
    """Anything that can take a dict of scalars at an env step."""

    def write(self, metrics: Mapping[str, float], step: int) -> None: ...

    def close(self) -> None: ...


# What tf.summary.scalar attaches to every scalar: the scalars plugin's metadata (built once).
_SCALAR_METADATA = scalar_pb("_", 0.0).value[0].metadata


class TensorBoardLogger:
    """Writes ``tf.summary`` scalars, histograms, images, text and hparams into one event-file directory.

    Scalars and histograms are built as Summary protos in NumPy by TensorBoard's own ``scalar_pb`` /
    ``histogram_pb`` and written through the TF writer in one ``tf.summary.experimental.write_raw_pb`` call:
    an eager ``tf.summary.scalar`` costs ~0.5 ms (17 of them per update were ~15% of a CartPole run), a
    compiled batch costs a trace per tag set, and this costs ~0.5 ms per update with nothing to trace.
    ``seconds`` accumulates the time spent in this logger (reported as the logging share of a run).
    """

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir
        self._writer = tf.summary.create_file_writer(logdir)
        self.seconds = 0.0

    def write(self, metrics: Mapping[str, float], step: int) -> None:
        start = time.perf_counter()
        summary = summary_pb2.Summary()
        for tag, value in metrics.items():
            entry = summary.value.add(tag=tag, metadata=_SCALAR_METADATA)
            entry.tensor.dtype = types_pb2.DT_FLOAT  # a 0-d float32 tensor, as tf.summary.scalar writes it
            entry.tensor.float_val.append(float(value))
        self._write_protos([summary], step)
        self.seconds += time.perf_counter() - start

    def histograms(self, values: Mapping[str, object], step: int) -> None:
        """One histogram per tag (weights, gradients, actions, advantages, ...)."""
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb

        start = time.perf_counter()
        self._write_protos([histogram_pb(tag, np.asarray(v, np.float64)) for tag, v in values.items()], step)
        self.seconds += time.perf_counter() - start

    def _write_protos(self, protos: list, step: int) -> None:
        serialized = tf.constant([proto.SerializeToString() for proto in protos])
        with self._writer.as_default(step=step):
            tf.summary.experimental.write_raw_pb(serialized, step=step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        with self._writer.as_default(step=step):
            tf.summary.text(tag, text)

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

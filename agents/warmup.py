"""Compile an agent's update before the first env step, leaving its state exactly as it was.

A ``tf.function``'s first call traces, optimizes and instantiates the graph: ~0.85 s for PPO's update on a
quiet 2-core machine, more than the first dozen updates together. Paid inside the training loop, it delays
everything a user watches (first curve point, time to a solved env); paid here, it is start-up, measured and
reported as such (process start → first env step, BENCHMARKS.md).

The call runs on an all-zero batch and then every variable the update may write — network weights,
optimizer slots and step counter, learning-rate and clip-range variables, the sampling generator — is put
back, so a run with the warm-up is step-for-step identical to one without it (tests/test_warmup.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf


def state_variables(items: Mapping[str, object]) -> list:
    """Every variable behind an agent's ``checkpoint_items()``: models, optimizers, generators, variables."""
    found = []
    for item in items.values():
        if isinstance(item, tf.random.Generator):
            found.append(item.state)
        elif isinstance(item, tf.Variable):
            found.append(item)
        else:  # a Keras model (weights, trainable or not) or optimizer (slots, iterations, learning rate)
            found.extend(getattr(item, "weights", None) or item.variables)
    return found


def zeros_like_signature(signature):
    """NumPy zeros for every ``tf.TensorSpec`` in a (nested) input signature; specs must be fully defined."""
    return tf.nest.map_structure(lambda spec: np.zeros(spec.shape, spec.dtype.as_numpy_dtype), signature)


def compile_ahead(functions: list[Callable], items: Mapping[str, object], policy=None) -> None:
    """Call each compiled function once on zeros shaped by its ``input_signature``, then restore ``items``.

    Args:
        functions: ``tf.function``s with a fully defined ``input_signature``.
        items: the agent's ``checkpoint_items()``: everything the calls may change.
        policy: the agent's ``Policy``; a snapshot an update staged for the next rollout is dropped.
    """
    variables = state_variables(items)
    saved = [np.array(v.numpy()) for v in variables]
    for fn in functions:
        fn(*zeros_like_signature(fn.input_signature))
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value)
    if policy is not None:
        policy.drop_staged()

"""Agents' compiled updates: called without per-call dispatch, and compiled before the first env step.

``SignatureFunction`` is a ``tf.function`` over a full ``input_signature``, called through its one concrete
function with arguments already converted to tensors of the signature's dtypes. The ``tf.function`` call path
binds, casts and looks up the trace on every call: ~300 µs of Python per call on a 2-core machine (cProfile:
``bind_function_inputs``, ``trace_function``), close to the ~450 µs A2C's whole update graph takes to run,
and A2C updates every 40 env steps. ``benchmarks/update_call_cost.py`` times both paths.

``compile_ahead``: a ``tf.function``'s first call traces, optimizes and instantiates the graph: ~0.85 s for
PPO's update on a quiet 2-core machine, more than the first dozen updates together. Paid inside the training
loop, it delays everything a user watches (first curve point, time to a solved env); paid here, it is
start-up, measured and reported as such (process start → first env step, BENCHMARKS.md).

The call runs on an all-zero batch and then every variable the update may write — network weights,
optimizer slots and step counter, learning-rate and clip-range variables, the sampling generator — is put
back, so a run with the warm-up is step-for-step identical to one without it (tests/test_warmup.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf


class SignatureFunction:
    """``tf.function(python_fn, input_signature, **options)``, called through its concrete function.

    Same results, same single trace (``experimental_get_tracing_count``); arguments may be NumPy arrays or
    Python numbers, nested like the signature, and are converted to the signature's dtypes here.
    """

    def __init__(self, python_fn: Callable, input_signature: list, **options) -> None:
        self.function = tf.function(python_fn, input_signature=input_signature, **options)
        self.input_signature = self.function.input_signature
        self._dtypes = [spec.dtype for spec in tf.nest.flatten(self.input_signature)]
        self._concrete = None  # traced on the first call (or by compile_ahead), not at construction

    def __call__(self, *args):
        if self._concrete is None:
            self._concrete = self.function.get_concrete_function()
        flat = [tf.constant(x, dtype) for x, dtype in zip(tf.nest.flatten(args), self._dtypes, strict=True)]
        return self._concrete(*tf.nest.pack_sequence_as(self.input_signature, flat))

    def experimental_get_tracing_count(self) -> int:
        return self.function.experimental_get_tracing_count()


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


def count_state_variables(checkpoint_items: Callable[[], Mapping[str, object]]) -> int:
    """How many variables ``state_variables`` finds now (a checkpoint Saver retraces its write when it changes)."""
    return len(state_variables(checkpoint_items()))


def zeros_like_signature(signature):
    """NumPy zeros for every ``tf.TensorSpec`` in a (nested) input signature; specs must be fully defined."""
    return tf.nest.map_structure(lambda spec: np.zeros(spec.shape, spec.dtype.as_numpy_dtype), signature)


def compile_ahead(functions: list[Callable], items: Mapping[str, object]) -> None:
    """Call each compiled function once on zeros shaped by its ``input_signature``, then restore ``items``.

    What the calls return (e.g. an update's snapshot of the zero-batch weights) is dropped.

    Args:
        functions: ``tf.function``s or ``SignatureFunction``s with a fully defined ``input_signature``.
        items: the learner's ``checkpoint_items()``: everything the calls may change.
    """
    variables = state_variables(items)
    saved = [np.array(v.numpy()) for v in variables]
    for fn in functions:
        fn(*zeros_like_signature(fn.input_signature))
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value)

"""NumPy forward of one LSTM / GRU core step, for acting without a TF call (see numpy_mirror.py's rationale).

Same math, gate order, state layout and reset rule as networks/cores.py: ``episode_start`` zeroes a row's
state before the step reads it. Weights are the core's variables as arrays, in ``core.weights`` order:
LSTM (kernel [F, 4H], recurrent_kernel [H, 4H], bias [4H]); GRU (kernel [F, 3H], recurrent_kernel [H, 3H],
bias [3H], recurrent_bias [3H]). Tests hold these equal to the TF layers over sequences with resets.

Why NumPy for recurrent acting: benchmarks/recurrent_acting_cost.py (LSTM 256 policy + critic cores, 64x64
MLPs, 8 envs; 2026-11-27, 2-core machine under heavy load from other jobs, so absolute figures are inflated)
measured 2.1 ms/step NumPy vs 7.9 ms/step for one compiled TF call (GRU: 2.6 vs 9.1) — but only with OpenBLAS
on ONE thread: with two threads competing for the loaded cores NumPy took 36 ms/step. A [8, 256] x [256, 1024]
matmul is large enough for OpenBLAS to go multi-threaded, the MLP mirror's are not; so a recurrent policy that
acts through NumPy pins NumPy's OpenBLAS to one thread (``one_blas_thread``, at run time, process-wide; an
explicit ``OPENBLAS_NUM_THREADS`` in the environment wins; ``OMP_NUM_THREADS``, which benchmark drivers set for
TensorFlow, does not).

numpy_layers.py's ``CORES`` table maps each Keras core type to its step here.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large |x|, and as accurate as 1 / (1 + exp(-x)) in float32.
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def lstm_step(
    weights: list[np.ndarray], inputs: np.ndarray, state: np.ndarray, episode_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step: inputs [B, F], state [B, 2H] = [h, c], episode_start [B] → (h' [B, H], state' [B, 2H])."""
    kernel, recurrent_kernel, bias = weights
    units = recurrent_kernel.shape[0]
    state = np.where(np.asarray(episode_start, bool)[:, None], np.float32(0.0), state)
    h, c = state[:, :units], state[:, units:]
    h, c = lstm_cell(inputs @ kernel + h @ recurrent_kernel + bias, c)
    return h, np.concatenate([h, c], axis=-1)


def lstm_cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The LSTM's gate math: pre-activations z [..., 4H] (gates i, f, g, o) and cell c [..., H] → (h', c')."""
    units = c.shape[-1]
    gates = sigmoid(z)  # one call for i, f and o (g's quarter is unused: tanh below)
    c = gates[..., units : 2 * units] * c + gates[..., :units] * np.tanh(z[..., 2 * units : 3 * units])
    return gates[..., 3 * units :] * np.tanh(c), c


def gru_step(
    weights: list[np.ndarray], inputs: np.ndarray, state: np.ndarray, episode_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One GRU step: inputs [B, F], state h [B, H], episode_start [B] → (h' [B, H], h' [B, H])."""
    kernel, recurrent_kernel, bias, recurrent_bias = weights
    h = np.where(np.asarray(episode_start, bool)[:, None], np.float32(0.0), state)
    zx, rx, nx = np.split(inputs @ kernel + bias, 3, axis=-1)
    zh, rh, nh = np.split(h @ recurrent_kernel + recurrent_bias, 3, axis=-1)
    z = sigmoid(zx + zh)
    r = sigmoid(rx + rh)
    n = np.tanh(nx + r * nh)
    h = (1.0 - z) * n + z * h
    return h, h


# NumPy wheels bundle OpenBLAS under these symbol names (scipy-openblas builds first, then plain builds).
_SET_THREADS = (
    "scipy_openblas_set_num_threads64_",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


@functools.cache
def one_blas_thread() -> bool:
    """Pin NumPy's bundled OpenBLAS to one thread (once per process); False where that does not apply.

    Not applied when the user chose ``OPENBLAS_NUM_THREADS``, or when NumPy's BLAS is not a bundled OpenBLAS
    (then nothing is changed). TensorFlow's own thread pools are unaffected.
    """
    if "OPENBLAS_NUM_THREADS" in os.environ:
        return False
    libs = Path(np.__file__).parent.with_name("numpy.libs")
    for path in sorted(libs.glob("*openblas*")):
        library = ctypes.CDLL(str(path))  # already loaded by NumPy: this returns the same handle
        for name in _SET_THREADS:
            if hasattr(library, name):
                getattr(library, name)(1)
                return True
    return False

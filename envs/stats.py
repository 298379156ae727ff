"""Arithmetic on normalization statistics, for merging what several env copies saw (e.g. Ray workers).

A state is the dict of ``get_normalization_state``: per prefix (``obs``, ``ret``) a running ``mean``, ``var``
(population variance) and ``count``. Running statistics combine exactly (Chan, Golub & LeVeque, "Algorithms
for computing the sample variance", 1979): with M2 = var * count,

    count = ca + cb,  mean = ma + (mb - ma) * cb / count,  M2 = M2a + M2b + (mb - ma)^2 * ca * cb / count.

So when a worker starts from the shared state ``before`` and ends at ``after``, what it saw in between is
recoverable exactly (``stats_delta``), and every worker's delta folds into the shared state (``merge_deltas``)
as if one env had seen all the observations.
"""

from __future__ import annotations

import numpy as np

State = dict[str, np.ndarray]


def _prefixes(state: State) -> list[str]:
    return sorted({key.rsplit("_", 1)[0] for key in state})


def _combine(ma, va, ca, mb, vb, cb):
    count = ca + cb
    if count == 0:
        return ma, va, count
    delta = mb - ma
    mean = ma + delta * cb / count
    m2 = va * ca + vb * cb + np.square(delta) * ca * cb / count
    return mean, m2 / count, count


def stats_delta(after: State, before: State) -> State:
    """Statistics of exactly the data added between ``before`` and ``after`` (same keys, float64)."""
    out: State = {}
    for p in _prefixes(after):
        ma, va, ca = (np.asarray(after[f"{p}_{s}"], np.float64) for s in ("mean", "var", "count"))
        m0, v0, c0 = (np.asarray(before[f"{p}_{s}"], np.float64) for s in ("mean", "var", "count"))
        cb = ca - c0
        if cb <= 0:
            mb, vb = np.zeros_like(ma), np.zeros_like(va)
        else:
            mb = (ma * ca - m0 * c0) / cb
            m2b = va * ca - v0 * c0 - np.square(mb - m0) * c0 * cb / ca
            vb = np.maximum(m2b / cb, 0.0)  # clamp tiny negative round-off
        out[f"{p}_mean"], out[f"{p}_var"], out[f"{p}_count"] = mb, vb, np.asarray(max(cb, 0.0))
    return out


def merge_deltas(base: State, deltas: list[State]) -> State:
    """``base`` with every delta folded in (order does not matter beyond round-off)."""
    out = {key: np.array(value, np.float64, copy=True) for key, value in base.items()}
    for delta in deltas:
        for p in _prefixes(delta):
            mean, var, count = _combine(
                out[f"{p}_mean"], out[f"{p}_var"], out[f"{p}_count"],
                delta[f"{p}_mean"], delta[f"{p}_var"], delta[f"{p}_count"],
            )  # fmt: skip
            out[f"{p}_mean"], out[f"{p}_var"], out[f"{p}_count"] = mean, var, np.asarray(count)
    return out

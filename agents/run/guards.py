"""Non-finite numbers stop a run: checked where it is cheap, so that no NaN reaches a checkpoint, best/ or an export.

An env that returns NaN or Inf observations or rewards, or an update that diverges (a NaN learning rate, an
exploding loss), would otherwise train on to a "successful" end with NaN in every weight. Checked: each
rollout's rewards, float observations and values (a few thousand numbers); each update's metrics (already
Python floats); and the weights themselves before every save (a save is rare, the weights are many).
"""

from __future__ import annotations

import numpy as np


class NonFiniteError(RuntimeError):
    """Training produced or received NaN/Inf; the message names the step, the quantity and what is kept."""


def first_non_finite_rollout_field(rollout) -> str | None:
    """The name of the first of rewards / float observations / values holding NaN or Inf, or None."""
    observations = rollout.observations
    parts = observations.items() if isinstance(observations, dict) else [("", observations)]
    checks = [("rewards", rollout.rewards), ("values", rollout.values)]
    checks += [(f"observations{'/' + key if key else ''}", x) for key, x in parts]
    for name, values in checks:
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            return name
    return None


def first_non_finite_metric(metrics: dict[str, float]) -> str | None:
    return next((name for name, value in metrics.items() if not np.isfinite(value)), None)


def first_non_finite_weight(model) -> str | None:
    return next((v.path for v in model.weights if not np.isfinite(v.numpy()).all()), None)

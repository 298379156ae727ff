"""Masked sample / mode / log-prob in NumPy, mirroring the masked categoricals of networks/distributions.py.

Invalid logits become ``MASKED_LOGIT`` exactly as in TF (``np.where`` on float32, the same constant), then the
unmasked NumPy mirror runs on them, so given the same noise the two paths sample the same actions and agree
on log-probs to float32 rounding. ``mask`` is None (no masking) or bool [B, param_size], True = valid.

Interim home (issue 13, phase 1): these join ``networks/numpy_mirror.py``'s dispatch once the seam lands.
"""

from __future__ import annotations

import numpy as np

from networks import numpy_mirror
from networks.distributions import MASKED_LOGIT, Categorical, MultiCategorical


def masked_params(distribution, params: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """params [B, P] with invalid logits set to MASKED_LOGIT (params itself when mask is None).

    Raises:
        ValueError: A mask for a distribution other than Categorical / MultiCategorical.
    """
    if mask is None:
        return params
    if not isinstance(distribution, Categorical | MultiCategorical):
        raise ValueError(
            f"{type(distribution).__name__} actions cannot be masked: action masking applies to Discrete and "
            f"MultiDiscrete action spaces only. Set action_mask=none for this env."
        )
    return np.where(mask, params, np.float32(MASKED_LOGIT)).astype(params.dtype, copy=False)


def sample(distribution, params: np.ndarray, noise: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Valid actions [B, ...] from params [B, P] and Gumbel-uniform noise [B, P] (``numpy_mirror.sample``)."""
    return numpy_mirror.sample(distribution, masked_params(distribution, params, mask), noise)


def mode(distribution, params: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The most likely valid action [B, ...]."""
    return numpy_mirror.mode(distribution, masked_params(distribution, params, mask))


def log_prob(
    distribution, params: np.ndarray, actions: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """log π(actions) [B] under the distribution renormalized over the valid actions."""
    return numpy_mirror.log_prob(distribution, masked_params(distribution, params, mask), actions)

"""Vector environments for tfpg: construction, seeding and normalization state.

The ``tfpg-test/`` envs live in ``envs.testing`` and register themselves when first used; the ``tfpg/``
envs (``tfpg/CartPoleNoVel-v1``, envs.partially_observed) register on ``import envs``, so
``gymnasium.make`` finds them too.
"""

import envs.partially_observed  # noqa: F401  (registers the tfpg/ ids)
from envs.make import make_vector_env
from envs.wrappers import freeze_normalization, get_normalization_state, set_normalization_state

__all__ = [
    "freeze_normalization",
    "get_normalization_state",
    "make_vector_env",
    "set_normalization_state",
]

"""Vector environments for tfpg: construction, seeding and normalization state.

The ``tfpg-test/`` envs live in ``envs.testing`` and register themselves when first used.
"""

from envs.make import make_vector_env
from envs.wrappers import freeze_normalization, get_normalization_state, set_normalization_state

__all__ = [
    "freeze_normalization",
    "get_normalization_state",
    "make_vector_env",
    "set_normalization_state",
]

"""Networks, action distributions and space helpers for tfpg."""

from networks.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical, make_distribution
from networks.spaces import (
    action_spec,
    dummy_observation,
    observation_spec,
    space_from_config,
    space_to_config,
)

__all__ = [
    "Bernoulli",
    "Categorical",
    "DiagGaussian",
    "MultiCategorical",
    "action_spec",
    "dummy_observation",
    "make_distribution",
    "observation_spec",
    "space_from_config",
    "space_to_config",
]

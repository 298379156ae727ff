"""Networks, action distributions and space helpers for tfpg."""

from networks.actor_critic import ActorCritic
from networks.cores import GRUCore, LSTMCore, make_core
from networks.distributions import (
    Bernoulli,
    Categorical,
    DiagGaussian,
    MultiCategorical,
    SquashedDiagGaussian,
    make_distribution,
)
from networks.encoders import (
    ConvEncoder,
    DictEncoder,
    FlattenCast,
    MultiOneHot,
    OneHot,
    TupleEncoder,
    make_encoder,
)
from networks.heads import (
    BernoulliHead,
    CategoricalHead,
    GaussianHead,
    MultiCategoricalHead,
    ValueHead,
    make_policy_head,
)
from networks.layers import MLP, Linear
from networks.spaces import (
    action_spec,
    dummy_observation,
    observation_spec,
    space_from_config,
    space_to_config,
)

__all__ = [
    "MLP",
    "ActorCritic",
    "Bernoulli",
    "BernoulliHead",
    "Categorical",
    "CategoricalHead",
    "ConvEncoder",
    "DiagGaussian",
    "DictEncoder",
    "FlattenCast",
    "GRUCore",
    "GaussianHead",
    "LSTMCore",
    "Linear",
    "MultiCategorical",
    "MultiCategoricalHead",
    "MultiOneHot",
    "OneHot",
    "SquashedDiagGaussian",
    "TupleEncoder",
    "ValueHead",
    "action_spec",
    "dummy_observation",
    "make_core",
    "make_distribution",
    "make_encoder",
    "make_policy_head",
    "observation_spec",
    "space_from_config",
    "space_to_config",
]

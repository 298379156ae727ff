"""Small helpers shared by agents: building an optimizer by name and splitting policy/value variables."""

from __future__ import annotations

import keras
import tensorflow as tf

OPTIMIZERS = ("adam", "rmsprop")


def make_optimizer(
    name: str, learning_rate: float, epsilon: float, rmsprop_rho: float = 0.99
) -> keras.optimizers.Optimizer:
    """An Adam or RMSprop optimizer.

    Keras' RMSprop adds ``epsilon`` inside the square root (as TF1 and SB3's ``RMSpropTFLike`` do), not
    outside it as PyTorch does; with epsilon 1e-5 this floors the denominator at about 3e-3.

    Args:
        name: "adam" or "rmsprop".
        learning_rate: initial step size (agents assign annealed values to ``optimizer.learning_rate``).
        epsilon: numerical-stability epsilon.
        rmsprop_rho: RMSprop's decay of the squared-gradient average (PyTorch's ``alpha``).

    Raises:
        ValueError: an unknown optimizer name.
    """
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, epsilon=epsilon)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, rho=rmsprop_rho, epsilon=epsilon)
    raise ValueError(f"Unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}.")


def policy_and_value_variables(model) -> tuple[list[tf.Variable], list[tf.Variable]]:
    """The trainable variables of an ``ActorCritic``'s policy branch and of its value branch.

    Raises:
        ValueError: the model shares one trunk between policy and value, so the split is not disjoint.
    """
    if model.share_trunk:
        raise ValueError(
            "Separate policy and value optimizers need separate trunks, but share_trunk=True. "
            "Set share_trunk=false, or separate_optimizers=false."
        )
    policy = [model.policy_encoder, model.policy_mlp, model.policy_head]
    value = [model.value_encoder, model.value_mlp, model.value_head]
    return (
        [v for layer in policy for v in layer.trainable_variables],
        [v for layer in value for v in layer.trainable_variables],
    )

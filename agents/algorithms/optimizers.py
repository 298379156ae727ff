"""Small helpers shared by agents: building an optimizer by name and splitting policy/value variables."""

from __future__ import annotations

import keras
import tensorflow as tf

OPTIMIZERS = ("adam", "rmsprop")


def make_optimizer(
    name: str, learning_rate: float, epsilon: float, rmsprop_rho: float = 0.99
) -> keras.optimizers.Optimizer:
    """An Adam or RMSprop optimizer whose ``epsilon`` means what it means in PyTorch (and so in SB3).

    Both libraries' Adam add epsilon to the square root of the second moment. Keras' RMSprop adds it *inside*
    the root (``lr * g / sqrt(v + eps)``) where PyTorch's adds it outside (``lr * g / (sqrt(v) + eps)``): with
    epsilon 1e-5 the Keras denominator is floored at sqrt(1e-5) ~ 3e-3, 300x PyTorch's floor, which damps every
    step whose gradients are small. That difference made tfpg's A2C learn CartPole far more slowly than SB3's
    (BENCHMARKS.md, speed). So RMSprop gets ``epsilon ** 2``: then sqrt(v + eps^2) equals sqrt(v) + eps at
    v = 0 and as v grows, and is within a factor sqrt(2) of it in between.

    Args:
        name: "adam" or "rmsprop".
        learning_rate: initial step size (agents assign annealed values to ``optimizer.learning_rate``).
        epsilon: numerical-stability epsilon, added to the root of the second moment (PyTorch's convention).
        rmsprop_rho: RMSprop's decay of the squared-gradient average (PyTorch's ``alpha``).

    Raises:
        ValueError: an unknown optimizer name.
    """
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, epsilon=epsilon)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, rho=rmsprop_rho, epsilon=epsilon**2)
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

"""make_optimizer: epsilon follows PyTorch's convention, pinned against hand-computed single steps."""

import math

import numpy as np
import pytest
import tensorflow as tf

from agents.algorithms.optimizers import make_optimizer


def one_step(name: str, grad: float, lr: float = 0.1, eps: float = 1e-5) -> float:
    """How far one optimizer step moves a scalar variable that starts at 0."""
    var = tf.Variable([0.0])
    opt = make_optimizer(name, lr, eps, rmsprop_rho=0.99)
    opt.apply([tf.constant([grad])], [var])
    return -float(var.numpy()[0])


def test_rmsprop_epsilon_is_added_to_the_root_like_pytorch():
    # PyTorch RMSprop, first step from v = 0: v = (1 - 0.99) g^2; step = lr g / (sqrt(v) + eps).
    g = 1e-3
    v = 0.01 * g * g  # 1e-8, sqrt = 1e-4
    torch_step = 0.1 * g / (math.sqrt(v) + 1e-5)  # 0.9091
    keras_inside = 0.1 * g / math.sqrt(v + 1e-5)  # 0.0316: what passing eps straight to Keras would do
    step = one_step("rmsprop", g)
    # Keras gets eps^2 inside the root: 0.1 g / sqrt(1e-8 + 1e-10) = 0.9950, within sqrt(2) of PyTorch's.
    assert step == pytest.approx(0.1 * g / math.sqrt(v + 1e-10), rel=1e-4)
    assert torch_step / math.sqrt(2) <= step <= torch_step * math.sqrt(2)
    assert step > 20 * keras_inside


@pytest.mark.parametrize("g", [1e-6, 1e-2, 1.0])
def test_rmsprop_matches_pytorch_where_eps_is_negligible_or_dominant(g):
    v = 0.01 * g * g
    torch_step = 0.1 * g / (math.sqrt(v) + 1e-5)
    assert one_step("rmsprop", g) == pytest.approx(torch_step, rel=0.05 if g >= 1e-2 else 0.3)


def test_adam_first_step_uses_epsilon_hat():
    # Keras folds Adam's bias correction into the step size ("epsilon hat"): the first step is
    # lr * g / (|g| + eps / sqrt(1 - beta2)); PyTorch's is lr * g / (|g| + eps). Same as t grows; left as is.
    g = 1e-3
    assert one_step("adam", g) == pytest.approx(0.1 * g / (g + 1e-5 / math.sqrt(0.001)), rel=1e-4)


def test_unknown_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="adam, rmsprop"):
        make_optimizer("sgd", 1e-3, 1e-5)
    assert np.isfinite(one_step("rmsprop", 0.0))

"""Pure loss terms for policy-gradient agents, on flat minibatches of shape [B].

Every term takes a ``mask`` [B] (1.0 for real transitions, 0.0 for the autoreset rows of Gymnasium's
NEXT_STEP vector envs) and averages over the masked-in entries only, so fixed-shape batches can carry
rows that must not be learned from.

PPO terms follow Schulman et al., "Proximal Policy Optimization Algorithms" (2017): the clipped surrogate
is eq. 7, the combined objective eq. 9.
"""

from __future__ import annotations

import tensorflow as tf


def masked_mean(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of ``x`` over entries where ``mask`` is 1; 0 when the mask is empty."""
    return tf.reduce_sum(x * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def normalize_advantages(advantages: tf.Tensor, mask: tf.Tensor, eps: float = 1e-8) -> tf.Tensor:
    """Zero-mean, unit-std advantages, with statistics over the masked-in entries only."""
    mean = masked_mean(advantages, mask)
    var = masked_mean(tf.square(advantages - mean), mask)
    return (advantages - mean) / (tf.sqrt(var) + eps)


def clipped_surrogate_loss(
    log_prob: tf.Tensor,
    old_log_prob: tf.Tensor,
    advantages: tf.Tensor,
    clip_range: tf.Tensor | float,
    mask: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """PPO's clipped surrogate, negated to be minimized.

    L = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)),  ratio = exp(log_prob - old_log_prob)

    Returns:
        (loss, clip_fraction): the scalar loss and the fraction of entries whose ratio left [1-eps, 1+eps].
    """
    ratio = tf.exp(log_prob - old_log_prob)
    unclipped = ratio * advantages
    clipped = tf.clip_by_value(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
    loss = -masked_mean(tf.minimum(unclipped, clipped), mask)
    clip_fraction = masked_mean(tf.cast(tf.abs(ratio - 1.0) > clip_range, tf.float32), mask)
    return loss, clip_fraction


def value_loss(
    values: tf.Tensor,
    old_values: tf.Tensor,
    returns: tf.Tensor,
    mask: tf.Tensor,
    clip_range_vf: float | None = None,
) -> tf.Tensor:
    """Half mean squared error to the value targets, optionally PPO2-clipped around the old values.

    Half, as in CleanRL and the PPO paper's code; SB3 uses the full MSE, so its vf_coef c equals 2c here.

    With clipping, the loss is the elementwise max of the unclipped and clipped squared errors, where the
    clipped prediction is old_values + clip(values - old_values, -c, c).
    """
    squared = tf.square(values - returns)
    if clip_range_vf is not None:
        clipped_values = old_values + tf.clip_by_value(values - old_values, -clip_range_vf, clip_range_vf)
        squared = tf.maximum(squared, tf.square(clipped_values - returns))
    return 0.5 * masked_mean(squared, mask)


def approx_kl(log_prob: tf.Tensor, old_log_prob: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Low-variance estimator of KL(old || new): mean((ratio - 1) - log ratio) (Schulman, 2020 blog note)."""
    log_ratio = log_prob - old_log_prob
    return masked_mean(tf.exp(log_ratio) - 1.0 - log_ratio, mask)


def explained_variance(predictions: tf.Tensor, targets: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """1 - Var[targets - predictions] / Var[targets] over masked-in entries; NaN-free (0 when Var is 0)."""
    mean_t = masked_mean(targets, mask)
    var_t = masked_mean(tf.square(targets - mean_t), mask)
    residual = targets - predictions
    mean_r = masked_mean(residual, mask)
    var_r = masked_mean(tf.square(residual - mean_r), mask)
    return tf.where(var_t > 0.0, 1.0 - var_r / tf.maximum(var_t, 1e-12), 0.0)


def policy_gradient_loss(log_prob: tf.Tensor, advantages: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The score-function (REINFORCE / A2C) surrogate, negated to be minimized.

    L = -mean(log pi(a_t | s_t) * A_t); its gradient is the policy-gradient estimate of Williams (1992)
    (A_t = reward-to-go, possibly minus a baseline) and of Mnih et al. (2016), "Asynchronous Methods for Deep
    Reinforcement Learning", Algorithm S3 (A_t = n-step or GAE advantage). ``advantages`` is a constant
    (no gradient flows into it).
    """
    return -masked_mean(log_prob * tf.stop_gradient(advantages), mask)

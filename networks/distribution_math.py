"""The math of each action distribution as pure TF functions: log-prob, entropy, KL, sample and mode of the
categorical, Gaussian (plain and tanh-squashed) and Bernoulli families, and the masking of categorical logits.

``networks/distributions.py`` wraps them in one frozen dataclass per action space. Everything here works inside
``tf.function``. Sampling draws randomness only from the ``tf.random.Generator`` passed in, so checkpointing that
generator makes a run reproducible. Categoricals sample with the Gumbel-max trick (Gumbel, 1954; Maddison et al.,
2014): argmax(logits + G), G = -log(-log U), U ~ Uniform(0, 1).

Masking (categoricals only): ``mask`` is None or bool, the shape of the logits, True = valid. Invalid logits are
replaced by ``MASKED_LOGIT``, a large finite negative number (not -inf: no inf - inf or 0 * inf anywhere, in values
or gradients), so every function is that of the distribution renormalized over the valid actions and the
gradient wrt an invalid logit is 0. Each row must have at least one valid action; the caller checks that
(agents/experience/masks.py).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Smallest positive float32, so that log(U) stays finite.
_TINY = float(np.finfo(np.float32).tiny)
MASKED_LOGIT = -1e9
"""The logit of an invalid action. Finite, and far below any real logit plus Gumbel noise (G < 17 for
U < 1 in float32), so an invalid action is never the Gumbel-max or the argmax, and exp(MASKED_LOGIT - max)
is exactly 0 in float32: log-probs of valid actions equal those of the renormalized valid-only softmax."""


def mask_logits(logits: tf.Tensor, mask: tf.Tensor | None) -> tf.Tensor:
    """logits where mask is True, MASKED_LOGIT elsewhere (logits itself when mask is None). [B, n] → [B, n].

    tf.where passes no gradient to the replaced entries, so d(anything)/d(invalid logit) = 0.
    """
    if mask is None:
        return logits
    return tf.where(tf.cast(mask, tf.bool), logits, tf.constant(MASKED_LOGIT, logits.dtype))


# ----------------------------------------------------------------------------------------- categorical
# mask: None, or bool [B, n] (True = valid); see the module docstring.
def categorical_log_prob(logits: tf.Tensor, actions: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """log softmax(logits)[action] (over the valid actions). logits [B, n], actions [B] int → [B]."""
    log_p = tf.nn.log_softmax(mask_logits(logits, mask), axis=-1)
    return tf.gather(log_p, tf.cast(actions, tf.int32), axis=-1, batch_dims=1)


def categorical_entropy(logits: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """-Σ p log p (over the valid actions: their p is exactly 0). logits [B, n] → [B]."""
    log_p = tf.nn.log_softmax(mask_logits(logits, mask), axis=-1)
    # multiply_no_nan: a -inf logit has p = 0 and contributes 0, not 0 * -inf = nan.
    return -tf.reduce_sum(tf.math.multiply_no_nan(log_p, tf.exp(log_p)), axis=-1)


def categorical_kl(logits_p: tf.Tensor, logits_q: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """KL(p || q) = Σ p (log p - log q), both restricted to the same valid actions. logits [B, n] → [B]."""
    log_p = tf.nn.log_softmax(mask_logits(logits_p, mask), axis=-1)
    log_q = tf.nn.log_softmax(mask_logits(logits_q, mask), axis=-1)
    return tf.reduce_sum(tf.math.multiply_no_nan(log_p - log_q, tf.exp(log_p)), axis=-1)


def categorical_sample(
    logits: tf.Tensor, generator: tf.random.Generator, mask: tf.Tensor | None = None
) -> tf.Tensor:
    """Gumbel-max sample (a valid action). logits [B, n] → [B] int32.

    Draws the same noise with or without a mask, so a masked rollout consumes the generator identically.
    """
    u = generator.uniform(tf.shape(logits), minval=_TINY, maxval=1.0, dtype=logits.dtype)
    gumbel = -tf.math.log(-tf.math.log(u))
    return tf.argmax(mask_logits(logits, mask) + gumbel, axis=-1, output_type=tf.int32)


def categorical_mode(logits: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """argmax (over the valid actions). logits [B, n] → [B] int32."""
    return tf.argmax(mask_logits(logits, mask), axis=-1, output_type=tf.int32)


# -------------------------------------------------------------------------------------------- gaussian
def gaussian_log_prob(mean: tf.Tensor, log_std: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
    """Diagonal Gaussian log-density summed over action dims. All [B, d] → [B]."""
    z = (tf.cast(actions, mean.dtype) - mean) * tf.exp(-log_std)
    return tf.reduce_sum(-0.5 * tf.square(z) - log_std - _HALF_LOG_2PI, axis=-1)


def gaussian_entropy(log_std: tf.Tensor) -> tf.Tensor:
    """Σ (log σ + ½ log 2πe). log_std [B, d] → [B]."""
    return tf.reduce_sum(log_std + _HALF_LOG_2PI + 0.5, axis=-1)


def gaussian_kl(
    mean_p: tf.Tensor, log_std_p: tf.Tensor, mean_q: tf.Tensor, log_std_q: tf.Tensor
) -> tf.Tensor:
    """KL(p || q) = Σ log σq/σp + (σp² + (μp - μq)²) / 2σq² - ½. All [B, d] → [B]."""
    var_ratio = tf.exp(2.0 * (log_std_p - log_std_q))
    mean_term = tf.square((mean_p - mean_q) * tf.exp(-log_std_q))
    return tf.reduce_sum(log_std_q - log_std_p + 0.5 * (var_ratio + mean_term) - 0.5, axis=-1)


def gaussian_sample(mean: tf.Tensor, log_std: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
    """μ + σ ε, ε ~ N(0, I). [B, d] → [B, d] float32."""
    return mean + tf.exp(log_std) * generator.normal(tf.shape(mean), dtype=mean.dtype)


# ------------------------------------------------------------------------------- tanh-squashed gaussian
# Largest |tanh(u)| accepted when inverting an action: float32 tanh saturates to exactly ±1 for |u| > ~9,
# where atanh is infinite. 1 - 1e-6 maps back to |u| ≈ 7.25; sampling and learning both go through the
# same inversion (log-probs are always computed from the stored action), so they stay consistent.
_SQUASH_LIMIT = 1.0 - 1e-6


def log_one_minus_tanh_sq(u: tf.Tensor) -> tf.Tensor:
    """log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|. Elementwise."""
    return 2.0 * (math.log(2.0) - u - tf.nn.softplus(-2.0 * u))


def squashed_gaussian_log_prob(
    mean: tf.Tensor, log_std: tf.Tensor, actions: tf.Tensor, low: tf.Tensor, high: tf.Tensor
) -> tf.Tensor:
    """Log-density of a = c + s tanh(u), u ~ N(mean, std), c = (high + low)/2, s = (high - low)/2.

    Change of variables: log p(a) = log N(u) - Σ log |da/du| = log N(u) - Σ [log s + log(1 - tanh(u)^2)],
    with u = atanh((a - c) / s). mean, log_std, actions [B, d]; low, high [d] → [B].
    """
    scale = (high - low) / 2.0
    center = (high + low) / 2.0
    y = tf.clip_by_value((tf.cast(actions, mean.dtype) - center) / scale, -_SQUASH_LIMIT, _SQUASH_LIMIT)
    u = tf.atanh(y)
    log_det = tf.reduce_sum(tf.math.log(scale) + log_one_minus_tanh_sq(u), axis=-1)
    return gaussian_log_prob(mean, log_std, u) - log_det


# ------------------------------------------------------------------------------------------- bernoulli
def bernoulli_log_prob(logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
    """Σ a log σ(l) + (1-a) log(1-σ(l)) = Σ a l - softplus(l). [B, n] → [B]."""
    actions = tf.cast(actions, logits.dtype)
    return tf.reduce_sum(actions * logits - tf.nn.softplus(logits), axis=-1)


def bernoulli_entropy(logits: tf.Tensor) -> tf.Tensor:
    """Σ softplus(l) - σ(l) l (the -p log p - (1-p) log(1-p) of each bit). [B, n] → [B]."""
    return tf.reduce_sum(tf.nn.softplus(logits) - tf.sigmoid(logits) * logits, axis=-1)


def bernoulli_kl(logits_p: tf.Tensor, logits_q: tf.Tensor) -> tf.Tensor:
    """KL(p || q) summed over bits. [B, n] → [B]."""
    p = tf.sigmoid(logits_p)
    # log p = -softplus(-l), log(1-p) = -softplus(l).
    on = p * (tf.nn.softplus(-logits_q) - tf.nn.softplus(-logits_p))
    off = (1.0 - p) * (tf.nn.softplus(logits_q) - tf.nn.softplus(logits_p))
    return tf.reduce_sum(on + off, axis=-1)


def bernoulli_sample(logits: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
    """1 where U < σ(l). [B, n] → [B, n] int32."""
    u = generator.uniform(tf.shape(logits), dtype=logits.dtype)
    return tf.cast(u < tf.sigmoid(logits), tf.int32)


def bernoulli_mode(logits: tf.Tensor) -> tf.Tensor:
    """1 where σ(l) > ½. [B, n] → [B, n] int32."""
    return tf.cast(logits > 0.0, tf.int32)

"""Masked Categorical / MultiCategorical: hand-computed numbers, gradients, sampling, and the NumPy mirror."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from networks import (
    Bernoulli,
    Categorical,
    DiagGaussian,
    MultiCategorical,
    SquashedDiagGaussian,
)
from networks import distribution_math as M
from networks.numpy_distributions import MirroredDistribution

LOGITS = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0]], np.float32)
LOGITS_Q = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0], [-3.0, 4.0, 1.0]], np.float32)
MASK = np.array([[True, False, True], [False, True, True], [False, False, True]])
# Hand values. Row 0: the valid logits are 1 and 0.5, so p = (σ(0.5), 1 - σ(0.5)) = (0.62245933, 0.37754067)
# and H = log(e + e^0.5) - (1·e + 0.5·e^0.5) / (e + e^0.5) = 0.66284732. Row 1: uniform over two, H = log 2.
# Row 2: one valid action, H = 0 and its log-prob is 0.
ENTROPY = np.array([0.66284732, math.log(2.0), 0.0])
P0 = 0.62245933


def _valid_only(logits, mask):
    """Reference: the softmax of each row's valid logits alone, as float64 (invalid entries 0)."""
    p = np.zeros(logits.shape)
    for i, (row, m) in enumerate(zip(logits, mask, strict=True)):
        p[i, m] = special.softmax(row[m].astype(np.float64))
    return p


def test_masked_entropy_log_prob_mode_hand_numbers():
    dist = Categorical(3)
    np.testing.assert_allclose(dist.entropy(LOGITS, mask=MASK), ENTROPY, atol=1e-6)
    log_p = dist.log_prob(LOGITS, np.array([0, 2, 2]), mask=MASK).numpy()
    np.testing.assert_allclose(log_p, [math.log(P0), math.log(0.5), 0.0], atol=1e-6)
    # Mode: row 0's best logit (index 1) is invalid, so it is index 0; row 2's only valid action is 2.
    np.testing.assert_array_equal(dist.mode(LOGITS, mask=MASK), [0, 1, 2])
    np.testing.assert_array_equal(dist.mode(LOGITS), [1, 0, 1])  # unmasked API unchanged


def test_masked_kl_is_over_the_valid_actions():
    p, q = _valid_only(LOGITS, MASK), _valid_only(LOGITS_Q, MASK)
    ref = [stats.entropy(p[i, MASK[i]], q[i, MASK[i]]) for i in range(3)]
    np.testing.assert_allclose(M.categorical_kl(LOGITS, LOGITS_Q, MASK), ref, atol=1e-6)
    np.testing.assert_allclose(Categorical(3).kl(LOGITS, LOGITS, mask=MASK), 0.0, atol=1e-6)


def test_multicategorical_mask_is_flat_and_split_per_dimension():
    dist = MultiCategorical((3, 2))
    logits = np.array([[1.0, 2.0, 0.5, 0.0, 0.0]], np.float32)
    mask = np.array([[True, False, True, True, True]])
    np.testing.assert_allclose(dist.entropy(logits, mask=mask), [ENTROPY[0] + math.log(2.0)], atol=1e-6)
    log_p = dist.log_prob(logits, np.array([[2, 1]]), mask=mask)
    np.testing.assert_allclose(log_p, [math.log(1.0 - P0) + math.log(0.5)], atol=1e-6)
    np.testing.assert_array_equal(dist.mode(logits, mask=mask), [[0, 0]])
    np.testing.assert_allclose(dist.kl(logits, logits, mask=mask), [0.0], atol=1e-6)


def test_gradient_is_finite_zero_on_invalid_and_equals_the_valid_only_gradient():
    logits = tf.Variable(LOGITS)
    q = tf.constant(LOGITS_Q)
    actions = np.array([0, 2, 2])
    with tf.GradientTape() as tape:
        dist = Categorical(3)
        loss = tf.reduce_sum(
            dist.log_prob(logits, actions, mask=MASK)
            + 0.3 * dist.entropy(logits, mask=MASK)
            + 0.7 * dist.kl(logits, q, mask=MASK)
        )
    grad = tape.gradient(loss, logits).numpy()
    assert np.isfinite(grad).all()
    np.testing.assert_array_equal(grad[~MASK], 0.0)
    # Row 0 restricted to its valid logits [1, 0.5] must give the same gradient as the masked computation.
    sub = tf.Variable(LOGITS[:1, [0, 2]])
    with tf.GradientTape() as tape:
        dist2 = Categorical(2)
        ref = tf.reduce_sum(
            dist2.log_prob(sub, np.array([0]))
            + 0.3 * dist2.entropy(sub)
            + 0.7 * dist2.kl(sub, tf.constant(LOGITS_Q[:1, [0, 2]]))
        )
    np.testing.assert_allclose(grad[0, [0, 2]], tape.gradient(ref, sub).numpy()[0], atol=1e-6)
    np.testing.assert_allclose(
        loss.numpy(),
        ref.numpy()
        + 0.3 * math.log(2.0)
        + 0.7 * float(M.categorical_kl(LOGITS[1:2], LOGITS_Q[1:2], MASK[1:2])[0])
        + math.log(0.5),
        atol=1e-5,
    )


def test_sampling_never_picks_an_invalid_action_and_follows_the_renormalized_probabilities():
    n = 20000
    logits = np.tile(np.log(np.array([[0.2, 0.5, 0.3]], np.float32)), (n, 1))
    mask = np.tile([[True, False, True]], (n, 1))
    actions = Categorical(3).sample(logits, tf.random.Generator.from_seed(1), mask=mask).numpy()
    assert not (actions == 1).any()
    np.testing.assert_allclose(np.bincount(actions, minlength=3) / n, [0.4, 0.0, 0.6], atol=0.015)


def test_invalid_entries_are_finite_not_minus_inf():
    # An invalid action's log-prob is huge and negative but finite, so a ratio exp(new - old) or a loss on
    # it stays a number; -inf would make it inf - inf = nan.
    masked = M.mask_logits(LOGITS, MASK).numpy()
    assert np.isfinite(masked).all() and (masked[~MASK] == M.MASKED_LOGIT).all()
    log_p = Categorical(3).log_prob(LOGITS, np.array([1, 0, 0]), mask=MASK).numpy()
    assert np.isfinite(log_p).all() and (log_p < -1e8).all()
    assert np.isfinite(log_p - log_p).all()


def test_masked_logit_dominates_extreme_valid_logits():
    # A valid logit of -1e4 still beats every invalid one, whatever the noise.
    logits = np.array([[-1e4, 50.0, 50.0]] * 1000, np.float32)
    mask = np.array([[True, False, False]] * 1000)
    actions = Categorical(3).sample(logits, tf.random.Generator.from_seed(0), mask=mask).numpy()
    assert (actions == 0).all()
    assert np.isfinite(Categorical(3).entropy(logits, mask=mask)).all()


def test_masked_distribution_in_a_compiled_function():
    dist = MultiCategorical((3, 2))
    gen = tf.random.Generator.from_seed(0)

    @tf.function(
        input_signature=[tf.TensorSpec([None, 5], tf.float32), tf.TensorSpec([None, 5], tf.bool)],
        autograph=False,
    )
    def act(params, mask):
        actions = dist.sample(params, gen, mask=mask)
        return actions, dist.log_prob(params, actions, mask=mask)

    mask = np.array([[False, True, False, True, False]] * 4)
    actions, log_p = act(np.zeros((4, 5), np.float32), mask)
    np.testing.assert_array_equal(actions, [[1, 0]] * 4)
    np.testing.assert_allclose(log_p, 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "dist",
    [DiagGaussian(2), SquashedDiagGaussian((-1.0, -1.0), (1.0, 1.0)), Bernoulli(2)],
    ids=lambda d: type(d).__name__,
)
def test_box_and_multibinary_refuse_a_mask(dist):
    params = np.zeros((1, dist.param_size), np.float32)
    mask = np.ones((1, dist.param_size), bool)
    assert not dist.maskable
    for call in (
        lambda: dist.mode(params, mask=mask),
        lambda: dist.entropy(params, mask=mask),
        lambda: dist.sample(params, tf.random.Generator.from_seed(0), mask=mask),
    ):
        with pytest.raises(ValueError, match=r"cannot be masked.*Discrete and MultiDiscrete"):
            call()
    if not isinstance(dist, SquashedDiagGaussian):  # the mirror has no squashed Gaussian at all
        with pytest.raises(ValueError, match="cannot be masked"):
            MirroredDistribution(dist).mode(params, mask)
    dist.entropy(params)  # mask=None still works


# --- NumPy mirror -----------------------------------------------------------------------------------------
def _random_mask(rng, batch, nvec):
    """bool [B, sum(nvec)] with at least one valid entry per dimension."""
    blocks = []
    for n in nvec:
        block = rng.random((batch, n)) < 0.4
        block[np.arange(batch), rng.integers(0, n, batch)] = True
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


@pytest.mark.parametrize(
    "dist",
    [Categorical(7), MultiCategorical((3, 5, 2)), MultiCategorical((4, 4, 4))],
    ids=["discrete", "multi", "multi-equal"],  # equal dimensions take the rollout path's reshaped branch
)
def test_numpy_mirror_equals_tf_under_random_masks(dist):
    rng = np.random.default_rng(0)
    batch = 256
    params = (3.0 * rng.standard_normal((batch, dist.param_size))).astype(np.float32)
    mask = _random_mask(rng, batch, getattr(dist, "nvec", (dist.param_size,)))
    noise = tf.random.Generator.from_seed(3).uniform(
        (batch, dist.param_size), minval=float(np.finfo(np.float32).tiny), maxval=1.0
    )
    # TF reference with that noise: Gumbel-max per dimension over M.mask_logits (MultiCategorical.sample
    # draws its noise per dimension, so the generator path is compared directly for Categorical only).
    nvec = getattr(dist, "nvec", (dist.param_size,))
    gumbel = M.mask_logits(params, mask) - tf.math.log(-tf.math.log(noise))
    parts = tf.split(gumbel, list(nvec), axis=-1)
    tf_actions = tf.stack([tf.argmax(g, axis=-1, output_type=tf.int32) for g in parts], axis=-1).numpy()
    if isinstance(dist, Categorical):
        tf_actions = tf_actions[:, 0]
        generator_actions = dist.sample(params, tf.random.Generator.from_seed(3), mask=mask).numpy()
        np.testing.assert_array_equal(generator_actions, tf_actions)
    mirrored = MirroredDistribution(dist)
    np_actions = mirrored.sample(params, noise.numpy(), mask)
    np.testing.assert_array_equal(np_actions, tf_actions)
    np.testing.assert_array_equal(mirrored.mode(params, mask), dist.mode(params, mask=mask))
    tf_log_probs = dist.log_prob(params, tf_actions, mask=mask).numpy()
    np.testing.assert_allclose(mirrored.log_prob(params, np_actions, mask), tf_log_probs, atol=1e-5)
    # The rollout actor's path (noise turned into Gumbel once, sampling and log-prob in one call): the same.
    fast_actions, fast_log_probs = mirrored.sample_and_log_prob(
        params, mirrored.prepare_noise(noise.numpy()), mask
    )
    np.testing.assert_array_equal(fast_actions, tf_actions)
    np.testing.assert_allclose(fast_log_probs, tf_log_probs, atol=1e-5)
    # Every sampled entry is valid: index the flat mask at each dimension's offset + action.
    offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    flat = offsets + np_actions.reshape(batch, -1)
    assert np.take_along_axis(mask, flat, axis=1).all()
    # And the mask matters: unmasked sampling with the same noise picks invalid entries here.
    unmasked = offsets + mirrored.sample(params, noise.numpy()).reshape(batch, -1)
    assert not np.take_along_axis(mask, unmasked, axis=1).all()

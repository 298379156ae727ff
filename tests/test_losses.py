"""Loss terms (PPO, REINFORCE/A2C) pinned against hand-computed numbers."""

import numpy as np
import pytest
import tensorflow as tf

from agents.algorithms import losses

RATIOS = np.array([1.5, 0.5, 1.0, 1.1], np.float32)
ADV = tf.constant([1.0, 1.0, -1.0, 2.0])
OLD = tf.zeros(4)
NEW = tf.constant(np.log(RATIOS))
ALL = tf.ones(4)


def test_clipped_surrogate_takes_pessimistic_term():
    # per-entry min(r*A, clip(r)*A): min(1.5, 1.2)=1.2, min(.5, .8)=.5, -1, min(2.2, 2.2)=2.2
    loss, clip_frac = losses.clipped_surrogate_loss(NEW, OLD, ADV, 0.2, ALL)
    assert float(loss) == pytest.approx(-(1.2 + 0.5 - 1.0 + 2.2) / 4, rel=1e-5)
    assert float(clip_frac) == pytest.approx(0.5)


def test_mask_excludes_entries_from_mean():
    mask = tf.constant([1.0, 1.0, 1.0, 0.0])
    loss, clip_frac = losses.clipped_surrogate_loss(NEW, OLD, ADV, 0.2, mask)
    assert float(loss) == pytest.approx(-(1.2 + 0.5 - 1.0) / 3, rel=1e-5)
    assert float(clip_frac) == pytest.approx(2 / 3, rel=1e-5)


def test_surrogate_gradient_is_zero_where_clipped():
    logp = tf.Variable(np.log(RATIOS))
    with tf.GradientTape() as tape:
        loss, _ = losses.clipped_surrogate_loss(logp, OLD, ADV, 0.2, ALL)
    grad = tape.gradient(loss, logp).numpy()
    # entry 0 (ratio 1.5, A>0) is clipped: no gradient; entry 1 (ratio .5, A>0) is not: d/dlogp = -r*A/4
    assert grad[0] == 0.0
    assert grad[1] == pytest.approx(-0.5 / 4, rel=1e-5)


def test_value_loss_unclipped_and_clipped():
    values, old, returns = tf.constant([1.0, 2.0]), tf.constant([0.0, 0.0]), tf.constant([2.0, 2.0])
    mask = tf.ones(2)
    assert float(losses.value_loss(values, old, returns, mask)) == pytest.approx(0.25)
    # clipped predictions 0.5, 0.5 → squared errors 2.25, 2.25 are larger than 1, 0 → max taken
    assert float(losses.value_loss(values, old, returns, mask, clip_range_vf=0.5)) == pytest.approx(1.125)


def test_approx_kl():
    kl = losses.approx_kl(tf.constant([np.log(2.0), 0.0], tf.float32), tf.zeros(2), tf.ones(2))
    assert float(kl) == pytest.approx((1.0 - np.log(2.0)) / 2, rel=1e-5)


def test_normalize_advantages_uses_masked_statistics():
    adv = tf.constant([1.0, 3.0, 100.0])
    out = losses.normalize_advantages(adv, tf.constant([1.0, 1.0, 0.0])).numpy()
    np.testing.assert_allclose(out[:2], [-1.0, 1.0], rtol=1e-5)


def test_explained_variance():
    targets = tf.constant([1.0, 2.0, 3.0, 4.0])
    mask = tf.ones(4)
    assert float(losses.explained_variance(targets, targets, mask)) == pytest.approx(1.0)
    assert float(losses.explained_variance(tf.fill([4], 2.5), targets, mask)) == pytest.approx(0.0, abs=1e-6)
    # residual var 1.25 over target var 1.25 → 0 ; a prediction of zeros has residual var = target var → 0
    assert float(losses.explained_variance(tf.zeros(4), targets, mask)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.explained_variance(tf.zeros(4), tf.zeros(4), mask)) == 0.0


# ------------------------------------------------------------------------------------ REINFORCE / A2C
def test_policy_gradient_loss_hand_value_mask_and_gradient():
    log_prob = tf.Variable([-0.5, -1.0, -2.0, -0.1])
    adv = tf.Variable([1.0, 1.0, -1.0, 2.0])
    mask = tf.constant([1.0, 1.0, 1.0, 0.0])  # the last row is an autoreset row
    with tf.GradientTape(persistent=True) as tape:
        loss = losses.policy_gradient_loss(log_prob, adv, mask)
    # -(-0.5*1 + -1*1 + -2*-1) / 3 = -(0.5) / 3
    assert float(loss) == pytest.approx(-0.5 / 3, rel=1e-6)
    # d/d log_prob = -A * mask / 3: raising log pi of a positive-advantage action lowers the loss.
    np.testing.assert_allclose(tape.gradient(loss, log_prob), [-1 / 3, -1 / 3, 1 / 3, 0.0], rtol=1e-6)
    assert tape.gradient(loss, adv) is None  # advantages are constants


def test_policy_gradient_loss_of_categorical_matches_hand_score_function():
    # One state, 2 actions, logits (0, 0): pi = (.5, .5). Action 0 taken with advantage 2.
    # d(-log pi(0) * 2)/d logits = -2 * (onehot(0) - pi) = (-1, 1).
    logits = tf.Variable([[0.0, 0.0]])
    with tf.GradientTape() as tape:
        log_p = tf.nn.log_softmax(logits)[:, 0]
        loss = losses.policy_gradient_loss(log_p, tf.constant([2.0]), tf.ones(1))
    assert float(loss) == pytest.approx(2 * np.log(2.0), rel=1e-6)
    np.testing.assert_allclose(tape.gradient(loss, logits), [[-1.0, 1.0]], rtol=1e-6)

"""Distribution math against NumPy/SciPy references on fixed numbers."""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from networks import Bernoulli, Categorical, DiagGaussian, MultiCategorical, make_distribution
from networks import distribution_math as M
from networks import distributions as D

LOGITS = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0]], np.float32)
LOGITS_Q = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0], [-3.0, 4.0, 1.0]], np.float32)


def _softmax(x):
    return special.softmax(x.astype(np.float64), axis=-1)


def _gen(seed=0):
    return tf.random.Generator.from_seed(seed)


# ----------------------------------------------------------------------------------------- categorical
def test_categorical_log_prob_entropy_kl():
    actions = np.array([1, 2, 0])
    p, q = _softmax(LOGITS), _softmax(LOGITS_Q)
    np.testing.assert_allclose(
        M.categorical_log_prob(LOGITS, actions), np.log(p[np.arange(3), actions]), rtol=1e-5
    )
    np.testing.assert_allclose(M.categorical_entropy(LOGITS), stats.entropy(p, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(M.categorical_kl(LOGITS, LOGITS_Q), stats.entropy(p, q, axis=-1), atol=1e-6)
    np.testing.assert_allclose(M.categorical_kl(LOGITS, LOGITS), 0.0, atol=1e-6)
    # Uniform over 3: entropy log 3 (hand value).
    assert M.categorical_entropy(LOGITS[1:2]).numpy()[0] == pytest.approx(np.log(3.0), rel=1e-6)


def test_categorical_masked_logit_is_finite():
    logits = np.array([[0.0, -np.inf, 0.0]], np.float32)
    assert M.categorical_entropy(logits).numpy()[0] == pytest.approx(np.log(2.0), rel=1e-6)
    assert np.isfinite(M.categorical_kl(logits, logits).numpy()).all()


def test_categorical_mode_and_sampling():
    dist = Categorical(3)
    assert dist.param_size == 3
    np.testing.assert_array_equal(dist.mode(LOGITS), [1, 0, 1])
    logits = np.tile(np.log(np.array([[0.2, 0.5, 0.3]], np.float32)), (20000, 1))
    actions = dist.sample(logits, _gen(1))
    assert actions.dtype == tf.int32 and actions.shape == (20000,)
    freq = np.bincount(actions.numpy(), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.015)
    np.testing.assert_array_equal(dist.sample(logits[:50], _gen(7)), dist.sample(logits[:50], _gen(7)))


# -------------------------------------------------------------------------------------------- gaussian
MEAN = np.array([[0.0, 1.0], [-2.0, 0.5]], np.float32)
LOG_STD = np.array([[0.0, -0.5], [0.3, 1.0]], np.float32)


def test_gaussian_log_prob_entropy():
    actions = np.array([[0.5, 0.0], [-1.0, 2.0]], np.float32)
    dist = DiagGaussian(2)
    params = np.concatenate([MEAN, LOG_STD], -1)
    ref = stats.norm.logpdf(actions, MEAN, np.exp(LOG_STD)).sum(-1)
    np.testing.assert_allclose(dist.log_prob(params, actions), ref, rtol=1e-5)
    np.testing.assert_allclose(M.gaussian_log_prob(MEAN, LOG_STD, actions), ref, rtol=1e-5)
    ref_h = stats.norm.entropy(MEAN, np.exp(LOG_STD)).sum(-1)
    np.testing.assert_allclose(dist.entropy(params), ref_h, rtol=1e-5)


def test_gaussian_kl_closed_form():
    mean_q, log_std_q = MEAN + 1.0, LOG_STD - 0.2
    sp, sq = np.exp(LOG_STD.astype(np.float64)), np.exp(log_std_q.astype(np.float64))
    ref = (np.log(sq / sp) + (sp**2 + (MEAN - mean_q) ** 2) / (2 * sq**2) - 0.5).sum(-1)
    np.testing.assert_allclose(M.gaussian_kl(MEAN, LOG_STD, mean_q, log_std_q), ref, rtol=1e-5)
    dist = DiagGaussian(2)
    params = np.concatenate([MEAN, LOG_STD], -1)
    np.testing.assert_allclose(dist.kl(params, params), 0.0, atol=1e-6)
    # 1-D hand value: KL(N(0,1) || N(1,1)) = 1/2.
    assert M.gaussian_kl(
        *(np.zeros((1, 1), np.float32),) * 2, np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32)
    ).numpy()[0] == pytest.approx(0.5)


def test_gaussian_mode_and_sampling():
    dist = DiagGaussian(2)
    assert dist.param_size == 4
    params = np.concatenate([MEAN, LOG_STD], -1)
    np.testing.assert_array_equal(dist.mode(params), MEAN)
    big = np.tile(params[1:2], (20000, 1))
    actions = dist.sample(big, _gen(2)).numpy()
    assert actions.dtype == np.float32 and actions.shape == (20000, 2)
    np.testing.assert_allclose(actions.mean(0), MEAN[1], atol=0.05)
    np.testing.assert_allclose(actions.std(0), np.exp(LOG_STD[1]), rtol=0.03)
    np.testing.assert_array_equal(dist.sample(params, _gen(3)), dist.sample(params, _gen(3)))


# ------------------------------------------------------------------------------------ multicategorical
def test_multicategorical_matches_sum_of_categoricals():
    dist = MultiCategorical((3, 2))
    assert dist.param_size == 5
    params = np.array([[1.0, 2.0, 0.5, 0.0, 1.0], [0.0, 0.0, 0.0, -2.0, 2.0]], np.float32)
    params_q = params[::-1].copy()
    actions = np.array([[2, 1], [0, 0]], np.int32)
    p3, p2 = _softmax(params[:, :3]), _softmax(params[:, 3:])
    ref = np.log(p3[np.arange(2), actions[:, 0]]) + np.log(p2[np.arange(2), actions[:, 1]])
    np.testing.assert_allclose(dist.log_prob(params, actions), ref, rtol=1e-5)
    np.testing.assert_allclose(
        dist.entropy(params), stats.entropy(p3, axis=-1) + stats.entropy(p2, axis=-1), rtol=1e-5
    )
    q3, q2 = _softmax(params_q[:, :3]), _softmax(params_q[:, 3:])
    ref_kl = stats.entropy(p3, q3, axis=-1) + stats.entropy(p2, q2, axis=-1)
    np.testing.assert_allclose(dist.kl(params, params_q), ref_kl, rtol=1e-5)
    np.testing.assert_allclose(dist.kl(params, params), 0.0, atol=1e-6)
    np.testing.assert_array_equal(dist.mode(params), [[1, 1], [0, 1]])


def test_multicategorical_sampling():
    dist = MultiCategorical((2, 3))
    params = np.log(np.tile(np.array([[0.9, 0.1, 0.1, 0.1, 0.8]], np.float32), (20000, 1)))
    actions = dist.sample(params, _gen(4))
    assert actions.dtype == tf.int32 and actions.shape == (20000, 2)
    np.testing.assert_allclose(
        np.bincount(actions[:, 0].numpy(), minlength=2) / 20000, [0.9, 0.1], atol=0.015
    )
    np.testing.assert_allclose(
        np.bincount(actions[:, 1].numpy(), minlength=3) / 20000, [0.1, 0.1, 0.8], atol=0.015
    )


# ------------------------------------------------------------------------------------------- bernoulli
def test_bernoulli_log_prob_entropy_kl():
    dist = Bernoulli(3)
    logits = np.array([[0.0, 2.0, -1.0], [5.0, -3.0, 0.5]], np.float32)
    logits_q = np.array([[1.0, -2.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    actions = np.array([[1, 0, 1], [1, 1, 0]], np.int32)
    p, q = special.expit(logits.astype(np.float64)), special.expit(logits_q.astype(np.float64))
    np.testing.assert_allclose(
        dist.log_prob(logits, actions), stats.bernoulli.logpmf(actions, p).sum(-1), rtol=1e-5
    )
    np.testing.assert_allclose(dist.entropy(logits), stats.bernoulli.entropy(p).sum(-1), rtol=1e-5)
    ref_kl = (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))).sum(-1)
    np.testing.assert_allclose(dist.kl(logits, logits_q), ref_kl, rtol=1e-5)
    np.testing.assert_allclose(dist.kl(logits, logits), 0.0, atol=1e-6)
    np.testing.assert_array_equal(dist.mode(logits), [[0, 1, 0], [1, 0, 1]])


def test_bernoulli_is_stable_for_large_logits():
    logits = np.array([[100.0, -100.0]], np.float32)
    assert M.bernoulli_log_prob(logits, np.array([[1, 0]])).numpy()[0] == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(M.bernoulli_log_prob(logits, np.array([[0, 1]])).numpy()).all()
    assert M.bernoulli_entropy(logits).numpy()[0] == pytest.approx(0.0, abs=1e-6)


def test_bernoulli_sampling():
    dist = Bernoulli(2)
    params = np.tile(special.logit(np.array([[0.25, 0.7]], np.float32)), (20000, 1))
    actions = dist.sample(params, _gen(5))
    assert actions.dtype == tf.int32 and actions.shape == (20000, 2)
    np.testing.assert_allclose(actions.numpy().mean(0), [0.25, 0.7], atol=0.015)
    np.testing.assert_array_equal(dist.sample(params[:20], _gen(9)), dist.sample(params[:20], _gen(9)))


# ------------------------------------------------------------------------------------ factory / graph
def test_make_distribution():
    assert make_distribution(gym.spaces.Discrete(4)) == Categorical(4)
    assert make_distribution(gym.spaces.Box(-1, 1, (3,))) == DiagGaussian(3)
    assert make_distribution(gym.spaces.MultiDiscrete([2, 5])) == MultiCategorical((2, 5))
    assert make_distribution(gym.spaces.MultiBinary(4)) == Bernoulli(4)
    with pytest.raises(ValueError, match="one-dimensional"):
        make_distribution(gym.spaces.Box(-1, 1, (2, 3)))
    with pytest.raises(ValueError, match="Unsupported"):
        make_distribution(gym.spaces.Tuple([gym.spaces.Discrete(2)]))


def test_generator_state_makes_sampling_reproducible_in_tf_function():
    dist = Categorical(3)
    gen = _gen(11)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def sample(logits):
        return dist.sample(logits, gen), dist.log_prob(logits, dist.sample(logits, gen))

    state = gen.state.numpy()
    first = sample(LOGITS)[0].numpy()
    gen.reset(state)
    np.testing.assert_array_equal(sample(LOGITS)[0], first)
    assert sample.experimental_get_tracing_count() == 1


# ------------------------------------------------------------------------------ tanh-squashed gaussian
def test_squashed_gaussian_log_prob_hand_values():
    # u = 0.5 under N(0, 1): log N = -0.125 - 0.9189385 = -1.0439385; log(1 - tanh(.5)^2) = -0.2402290.
    # Bounds [-1, 1]: log p(tanh .5) = -1.0439385 + 0.2402290 = -0.8037095.
    # Bounds [-2, 2] (Pendulum): one more -log 2 for the rescale: -1.4968567.
    params = np.array([[0.0, 0.0]], np.float32)
    unit = D.SquashedDiagGaussian([-1.0], [1.0])
    a = np.array([[np.tanh(0.5)]], np.float32)
    assert unit.log_prob(params, a).numpy()[0] == pytest.approx(-0.8037095, abs=2e-6)
    wide = D.SquashedDiagGaussian([-2.0], [2.0])
    assert wide.log_prob(params, 2 * a).numpy()[0] == pytest.approx(-1.4968567, abs=2e-6)
    # Asymmetric bounds [0, 4]: center 2, scale 2, same u; and dims add up.
    two = D.SquashedDiagGaussian([-1.0, 0.0], [1.0, 4.0])
    p2 = np.zeros((1, 4), np.float32)
    lp = two.log_prob(p2, np.array([[np.tanh(0.5), 2 + 2 * np.tanh(0.5)]], np.float32)).numpy()[0]
    assert lp == pytest.approx(-0.8037095 + -1.4968567, abs=4e-6)
    assert M.log_one_minus_tanh_sq(tf.constant(0.5)).numpy() == pytest.approx(-0.2402290, abs=1e-6)


def test_squashed_gaussian_density_integrates_to_one_and_matches_change_of_variables():
    dist = D.SquashedDiagGaussian([-2.0], [2.0])
    params = np.array([[0.7, -0.4]], np.float32)  # mean 0.7, std e^-0.4
    grid = np.linspace(-2.0, 2.0, 200_001)[1:-1]
    logp = dist.log_prob(np.repeat(params, grid.size, 0), grid[:, None].astype(np.float32)).numpy()
    assert np.trapezoid(np.exp(logp), grid) == pytest.approx(1.0, abs=1e-3)
    # Reference: p(a) = N(atanh(a/2); .7, e^-.4) / (2 (1 - (a/2)^2)).
    a = np.array([-1.5, 0.0, 1.0, 1.9])
    u = np.arctanh(a / 2)
    ref = stats.norm.logpdf(u, 0.7, np.exp(-0.4)) - np.log(2 * (1 - (a / 2) ** 2))
    got = dist.log_prob(np.repeat(params, 4, 0), a[:, None].astype(np.float32)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4)


def test_squashed_gaussian_samples_stay_in_bounds_and_log_probs_are_finite():
    dist = D.SquashedDiagGaussian([-2.0, 0.0], [2.0, 1.0])
    params = np.tile(np.array([[5.0, -5.0, 1.5, 1.5]], np.float32), (5000, 1))  # saturating mean, wide std
    actions = dist.sample(params, _gen(6)).numpy()
    assert (actions >= [-2.0, 0.0]).all() and (actions <= [2.0, 1.0]).all()
    assert np.isfinite(dist.log_prob(params, actions).numpy()).all()
    np.testing.assert_allclose(
        dist.mode(params[:1]), [[2 * np.tanh(5.0), 0.5 + 0.5 * np.tanh(-5.0)]], atol=1e-6
    )
    # KL is that of the pre-squash Gaussians (invariant under the shared bijection).
    q = params[:1] + 0.3
    np.testing.assert_allclose(dist.kl(params[:1], q), DiagGaussian(2).kl(params[:1], q), rtol=1e-6)


def test_make_distribution_squash():
    box = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 3.0], np.float32))
    assert make_distribution(box, squash=True) == D.SquashedDiagGaussian((-1.0, 0.0), (1.0, 3.0))
    assert make_distribution(gym.spaces.Discrete(3), squash=True) == Categorical(3)
    with pytest.raises(ValueError, match="finite Box bounds"):
        make_distribution(gym.spaces.Box(-np.inf, np.inf, (2,)), squash=True)

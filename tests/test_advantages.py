"""GAE pinned against hand-computed numbers, including truncation vs termination."""

import numpy as np
import pytest

from agents.algorithms.advantages import compute_gae, monte_carlo_returns

GAMMA, LAM = 0.9, 0.5
REWARDS = np.array([[1.0], [2.0], [3.0]])
VALUES = np.array([[0.5], [1.0], [1.5]])
LAST = np.array([2.0])


def test_gae_no_done_matches_hand_computation():
    # deltas: 1+.9*1-.5=1.4, 2+.9*1.5-1=2.35, 3+.9*2-1.5=3.3 ; A2=3.3, A1=2.35+.45*3.3, A0=1.4+.45*A1
    zeros = np.zeros((3, 1), bool)
    adv, ret = compute_gae(REWARDS, VALUES, zeros, zeros, LAST, GAMMA, LAM)
    a1 = 2.35 + 0.45 * 3.3
    np.testing.assert_allclose(adv[:, 0], [1.4 + 0.45 * a1, a1, 3.3], rtol=1e-6)
    np.testing.assert_allclose(ret, adv + VALUES, rtol=1e-6)


def test_termination_drops_bootstrap_and_cuts_recursion():
    terminated = np.array([[False], [True], [False]])
    truncated = np.zeros((3, 1), bool)
    adv, _ = compute_gae(REWARDS, VALUES, terminated, truncated, LAST, GAMMA, LAM)
    # delta1 = 2 + 0 - 1 = 1.0 (no bootstrap); A1 does not see A2; A0 = 1.4 + .45 * 1.0
    np.testing.assert_allclose(adv[:, 0], [1.85, 1.0, 3.3], rtol=1e-6)


def test_truncation_bootstraps_from_final_observation_value_but_cuts_recursion():
    terminated = np.zeros((3, 1), bool)
    truncated = np.array([[False], [True], [False]])
    adv, _ = compute_gae(REWARDS, VALUES, terminated, truncated, LAST, GAMMA, LAM)
    # delta1 = 2 + .9 * V(row 2 = final obs) 1.5 - 1 = 2.35 (bootstrapped), A1 = 2.35 (cut), A0 = 1.4 + .45*2.35
    np.testing.assert_allclose(adv[:, 0], [2.4575, 2.35, 3.3], rtol=1e-6)


def test_truncated_and_terminated_differ_only_in_bootstrap():
    term = np.array([[False], [True], [False]])
    none = np.zeros((3, 1), bool)
    adv_term, _ = compute_gae(REWARDS, VALUES, term, none, LAST, GAMMA, LAM)
    adv_trunc, _ = compute_gae(REWARDS, VALUES, none, term, LAST, GAMMA, LAM)
    assert adv_trunc[1, 0] - adv_term[1, 0] == pytest.approx(GAMMA * VALUES[2, 0])
    assert adv_trunc[2, 0] == adv_term[2, 0]


def test_lambda_one_gamma_one_is_monte_carlo_return_minus_value():
    rewards = np.ones((4, 2))
    values = np.full((4, 2), 0.25)
    none = np.zeros((4, 2), bool)
    adv, ret = compute_gae(rewards, values, none, none, np.zeros(2), 1.0, 1.0)
    np.testing.assert_allclose(ret[:, 0], [4, 3, 2, 1], rtol=1e-6)
    np.testing.assert_allclose(adv, ret - values, rtol=1e-6)


def test_last_value_bootstraps_final_row_and_envs_are_independent():
    rewards = np.array([[1.0, 0.0]])
    values = np.array([[0.0, 0.0]])
    terminated = np.array([[False, True]])
    adv, _ = compute_gae(
        rewards, values, terminated, np.zeros((1, 2), bool), np.array([10.0, 10.0]), 0.5, 1.0
    )
    np.testing.assert_allclose(adv[0], [1.0 + 5.0, 0.0])


# ------------------------------------------------------------------------ Monte-Carlo reward-to-go
# One env column [T=5]: rows 0-1 are the end of an episode that terminates at row 1, row 2 is the autoreset
# row (invalid), rows 3-4 a new episode still running when the rollout ends.
MC_REWARDS = np.array([[1.0], [2.0], [0.0], [3.0], [4.0]])
MC_VALUES = np.array([[0.5], [1.0], [7.0], [1.5], [2.5]])  # row 2 holds V(final obs) = 7
MC_LAST = np.array([10.0])
MC_TERM = np.array([[False], [True], [False], [False], [False]])
NO = np.zeros((5, 1), bool)


def test_monte_carlo_returns_bootstrap_rollout_cut_but_not_termination():
    ret, complete = monte_carlo_returns(MC_REWARDS, MC_TERM, NO, MC_VALUES, MC_LAST, GAMMA)
    # G1 = 2 (terminal), G0 = 1 + .9 * 2 = 2.8; G4 = 4 + .9 * 10 = 13, G3 = 3 + .9 * 13 = 14.7
    np.testing.assert_allclose(ret[[0, 1, 3, 4], 0], [2.8, 2.0, 14.7, 13.0], rtol=1e-6)
    np.testing.assert_array_equal(complete, 1.0)


def test_monte_carlo_returns_truncation_bootstraps_from_final_observation_value():
    ret, _ = monte_carlo_returns(MC_REWARDS, NO, MC_TERM, MC_VALUES, MC_LAST, GAMMA)
    # truncated at row 1: G1 = 2 + .9 * V(final obs at row 2) 7 = 8.3, G0 = 1 + .9 * 8.3 = 8.47
    np.testing.assert_allclose(ret[[0, 1], 0], [8.47, 8.3], rtol=1e-6)


def test_monte_carlo_returns_without_bootstrap_masks_cut_episode_and_ends_truncation():
    for term, trunc in [(MC_TERM, NO), (NO, MC_TERM)]:
        ret, complete = monte_carlo_returns(
            MC_REWARDS, term, trunc, MC_VALUES, MC_LAST, GAMMA, bootstrap=False
        )
        # Time limit or termination: both end the return (no learned value to continue it).
        np.testing.assert_allclose(ret[[0, 1], 0], [2.8, 2.0], rtol=1e-6)
        # The cut episode's rows are flagged unusable; its returns just sum what was seen (G3 = 3 + .9*4).
        np.testing.assert_array_equal(complete[:, 0], [1, 1, 0, 0, 0])
        np.testing.assert_allclose(ret[[3, 4], 0], [6.6, 4.0], rtol=1e-6)


def test_monte_carlo_returns_equal_gae_returns_at_lambda_one():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    term, trunc = rng.random((9, 3)) < 0.2, rng.random((9, 3)) < 0.2
    last = rng.normal(size=3)
    ret, _ = monte_carlo_returns(rewards, term, trunc, values, last, 0.95)
    _, gae_ret = compute_gae(rewards, values, term, trunc, last, 0.95, 1.0)
    np.testing.assert_allclose(ret, gae_ret, rtol=1e-5, atol=1e-5)

"""GAE pinned against hand-computed numbers, including truncation vs termination."""

import numpy as np
import pytest

from agents.advantages import compute_gae

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

"""One update on a fixed, hand-made rollout moves each algorithm's policy and value the right way.

These pin the signs that the loss-term unit tests cannot see from outside: an update that negated PPO's
normalized advantages, flipped the entropy bonus, inverted the target-KL test, flipped REINFORCE's baseline or
the value loss would still produce finite losses, and fail here.

The rollout: CartPole-shaped observations, one-step episodes (every row terminated), actions alternating 0 / 1,
so that each row's advantage is its reward minus the value stored with it.
"""

import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.experience.schema import Rollout
from agents.run.building import build_run

T, N = 16, 4
ALGOS = ["ppo", "a2c", "reinforce"]
SMALL = {"num_envs": N, "num_steps": T, "hidden_sizes": [16], "eval_envs": 1, "learning_rate": 1e-2}
PER_ALGO = {
    "ppo": {"minibatch_size": 32, "update_epochs": 2, "anneal_lr": False},
    "a2c": {"optimizer": "adam"},
    "reinforce": {"bootstrap": False},
}


def make_run(algo: str, **extra):
    return build_run(resolve_config(algo, "CartPole-v1", {**SMALL, **PER_ALGO[algo], **extra}))


def fixed_rollout(run, actions, rewards, values) -> Rollout:
    """A rollout of one-step episodes whose behaviour log-probs are the current policy's."""
    schema = run.policy.schema
    data = schema.allocate(T, N)
    obs = np.random.default_rng(0).normal(size=(T, N, 4)).astype(np.float32) * 0.5
    data["observations"][:] = obs
    data["actions"][:] = actions
    data["rewards"][:] = rewards
    data["values"][:] = values
    data["terminated"][:] = True
    data["valid"][:] = 1.0
    data["last_values"][:] = 0.0
    params = run.policy.model(obs.reshape(-1, 4))["policy"]
    data["log_probs"][:] = run.policy.distribution.log_prob(params, actions.reshape(-1)).numpy().reshape(T, N)
    return Rollout(schema, data)


def alternating_actions() -> np.ndarray:
    return np.tile(np.array([0, 1], np.int32), (T, N // 2))  # [T, N]


def policy_stats(run, rollout) -> tuple[float, float]:
    """(mean log π(action 0), mean entropy) over the rollout's observations."""
    logits = run.policy.model(rollout.observations.reshape(-1, 4))["policy"]
    log_p = tf.nn.log_softmax(logits)
    entropy = -tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)
    return float(tf.reduce_mean(log_p[:, 0])), float(tf.reduce_mean(entropy))


def value_error(run, rollout, returns) -> float:
    values = run.policy.model(rollout.observations.reshape(-1, 4))["value"].numpy()
    return float(np.mean((values - returns.reshape(-1)) ** 2))


@pytest.mark.parametrize("algo", ALGOS)
def test_one_update_raises_the_log_prob_of_positive_advantage_actions(algo):
    run = make_run(algo, ent_coef=0.0)
    try:
        actions = alternating_actions()
        rollout = fixed_rollout(run, actions, rewards=(actions == 0).astype(np.float32), values=0.5)
        before, _ = policy_stats(run, rollout)
        run.agent.learn(rollout, progress=0.0)
        after, _ = policy_stats(run, rollout)
        assert after > before + 1e-3, (before, after)
    finally:
        run.close()


@pytest.mark.parametrize("algo", ALGOS)
def test_an_entropy_bonus_raises_entropy_when_advantages_are_zero(algo):
    run = make_run(algo, ent_coef=0.5)
    try:
        # Start away from the maximum-entropy policy, or there is nowhere to go.
        run.policy.model.policy_head.logits.bias.assign([2.0, -2.0])
        # Every action pays what its value predicts: zero advantage, so only the entropy term moves the policy.
        rollout = fixed_rollout(run, alternating_actions(), rewards=1.0, values=1.0)
        _, before = policy_stats(run, rollout)
        run.agent.learn(rollout, progress=0.0)
        _, after = policy_stats(run, rollout)
        assert after > before + 1e-3, (before, after)
    finally:
        run.close()


@pytest.mark.parametrize("algo", ALGOS)
def test_one_update_lowers_the_value_error(algo):
    run = make_run(algo, ent_coef=0.0)
    try:
        actions = alternating_actions()
        rewards = (actions == 0).astype(np.float32) * 3.0
        rollout = fixed_rollout(run, actions, rewards=rewards, values=0.0)
        before = value_error(run, rollout, rewards)
        run.agent.learn(rollout, progress=0.0)
        after = value_error(run, rollout, rewards)
        assert after < before - 1e-3, (before, after)
    finally:
        run.close()


def test_target_kl_stops_the_epoch_loop_and_only_then():
    actions = alternating_actions()
    epochs = {}
    for target_kl in (1e9, 1e-9):
        run = make_run("ppo", ent_coef=0.0, update_epochs=10, target_kl=target_kl)
        try:
            rollout = fixed_rollout(run, actions, rewards=(actions == 0).astype(np.float32), values=0.5)
            metrics, _ = run.agent.learn(rollout, progress=0.0)
            epochs[target_kl] = metrics["epochs"]
        finally:
            run.close()
    assert epochs[1e9] == 10  # a KL that is never reached never stops
    # The first minibatch's KL is 0 (same weights as the behaviour policy); the second one's exceeds 1.5e-9.
    assert epochs[1e-9] == 1.0  # stopped after two minibatches: one epoch's worth


def test_a_perfect_reinforce_baseline_cancels_the_update():
    """Every return equals its baseline: zero advantage, no policy change. A baseline added instead of
    subtracted would push up whichever action was sampled more (action 0, three times in four)."""
    run = make_run("reinforce", ent_coef=0.0, normalize_advantage=False, baseline=True)
    try:
        actions = np.tile(np.array([0, 0, 0, 1], np.int32), (T, 1))
        rollout = fixed_rollout(run, actions, rewards=1.0, values=1.0)
        before, _ = policy_stats(run, rollout)
        run.agent.learn(rollout, progress=0.0)
        after, _ = policy_stats(run, rollout)
        assert abs(after - before) < 1e-6, (before, after)
    finally:
        run.close()


@pytest.mark.parametrize("jit_compile", [True, False])
def test_histogram_gradients_are_the_gradients_of_the_loss_on_the_last_batch(jit_compile):
    """``gradients/`` histograms come from a compiled graph (XLA when the update is): they equal an eager
    GradientTape of PPO's loss on the update's last batch, at the updated weights."""
    run = make_run("ppo", jit_compile=jit_compile)
    try:
        rollout = fixed_rollout(run, alternating_actions(), np.ones((T, N), np.float32), np.zeros((T, N)))
        run.agent.learn(rollout, progress=0.0)
        values = run.agent.histograms()
        variables = run.policy.model.trainable_variables
        batch = {key: tf.constant(value) for key, value in run.agent._last_batch.items()}
        with tf.GradientTape() as tape:
            loss, _ = run.agent._loss(batch)
        expected = tape.gradient(loss, variables)
        compared = 0
        for variable, grad in zip(variables, expected, strict=True):
            if grad is not None:
                np.testing.assert_allclose(values[f"gradients/{variable.path}"], grad.numpy(), atol=1e-5)
                compared += int(np.abs(grad.numpy()).max() > 1e-4)
        assert compared >= 4  # non-zero gradients reach the trunk and both heads
    finally:
        run.close()

"""Recurrent policies through the seam: the actor carries and resets states, the update replays them exactly.

The central check: replaying a collected rollout through ``model.sequence`` from its ``initial_states``, with
its ``episode_starts``, gives back the log-probs and values the actor recorded step by step. It fails if the
actor forgets to reset at an episode start (NEXT_STEP autoreset rows included), if the collector's
``episode_starts`` are shifted, if the initial state is not the one the actor started from, or if the NumPy
mirror and the network disagree.
"""

import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.run.building import build_run
from envs.testing_memory import MEMORY_ID

T, N = 16, 4  # Memory episodes last 11 steps: every env starts an episode inside each rollout


def _run(algo="ppo", **network):
    values = {"num_envs": N, "num_steps": T, "recurrent": "lstm", "recurrent_size": 8, "seed": 3}
    if algo == "ppo":
        values.update(minibatch_size=2 * T, update_epochs=2)
    return build_run(resolve_config(algo, MEMORY_ID, {**values, **network}))


def _replay(policy, rollout):
    """Log-probs, values [T, N] and final states [N, S] of the rollout under the current weights."""
    model = policy.model
    obs = np.swapaxes(rollout.observations, 0, 1)  # [N, T, 3]
    starts = np.swapaxes(rollout.episode_starts, 0, 1)
    out = model.sequence(tf.constant(obs), tf.constant(rollout.initial_states), tf.constant(starts))
    actions = np.swapaxes(rollout.actions, 0, 1).reshape(-1)
    params = tf.reshape(out["policy"], [N * T, -1])
    log_probs = policy.distribution.log_prob(params, actions).numpy().reshape(N, T).T
    return log_probs, out["value"].numpy().T, out["state"].numpy()


@pytest.mark.parametrize("mirror", [True, False], ids=["numpy-actor", "tf-actor"])
@pytest.mark.parametrize(
    "network",
    [
        {"recurrent": "lstm"},
        {"recurrent": "gru"},
        {"recurrent": "lstm", "critic_core": "shared"},
        {"recurrent": "gru", "critic_core": "none"},
        {"recurrent": "lstm", "share_trunk": True},
    ],
    ids=["lstm", "gru", "lstm-shared-critic", "gru-ff-critic", "lstm-one-trunk"],
)
def test_replaying_a_rollout_gives_back_what_the_actor_saw(network, mirror):
    run = _run(**network)
    try:
        policy = run.policy
        assert policy.use_mirror  # every part of these networks has a NumPy mirror
        policy.use_mirror = mirror
        collection = InProcessCollection(run.env, policy, T, seed=0)
        first, _, _ = collection.collect(None)
        second, _, _ = collection.collect(None)
        for rollout in (first, second):
            starts = rollout.episode_starts
            assert starts[1:].any() and (rollout.valid[starts] == 1).all()  # resets inside the rollout
            log_probs, values, _ = _replay(policy, rollout)
            np.testing.assert_allclose(log_probs, rollout.log_probs, atol=2e-5)
            np.testing.assert_allclose(values, rollout.values, atol=2e-5)
        assert first.episode_starts[0].all() and not np.any(first.initial_states)  # fresh envs: zeros
        # The second rollout starts from the first one's last state: carried, not reset.
        np.testing.assert_allclose(second.initial_states, _replay(policy, first)[2], atol=2e-5)
        assert np.abs(second.initial_states).max() > 1e-3
        # last_values: V of the observation after the last row, from the state carried past it
        collector = collection.collector
        expected = policy.value(collector._obs, policy._carry.state, collector._episode_start)
        np.testing.assert_allclose(second.last_values, expected, atol=2e-5)
    finally:
        run.close()


def test_each_collection_and_the_evaluation_keep_their_own_states():
    run = _run()
    try:
        policy = run.policy
        collection = InProcessCollection(run.env, policy, T, seed=0)
        collection.collect(None)
        carried = policy._carry.state.copy()
        predict = policy.predictor(2)
        predict(np.zeros((2, 3), np.float32), np.ones(2, bool))
        np.testing.assert_array_equal(policy._carry.state, carried)  # evaluation did not touch them
    finally:
        run.close()


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_the_update_takes_whole_sequences_with_their_initial_states(algo):
    run = _run(algo)
    try:
        core = run.agent.core
        assert core.layout == "sequences"
        rollout, _, _ = InProcessCollection(run.env, run.policy, T, seed=0).collect(None)
        zeros = np.zeros((T, N), np.float32)
        batch = core.batch(rollout, advantages=zeros, returns=zeros)
        assert batch["observations"].shape == (N, T, 3) and batch["episode_starts"].dtype == bool
        assert batch["initial_states"].shape == (N, run.policy.state_size)
        np.testing.assert_array_equal(batch["actions"][1], rollout.actions[:, 1])  # env 1's sequence
        signature = core.batch_spec
        assert {k: tuple(v.shape) for k, v in signature.items()} == {k: v.shape for k, v in batch.items()}
        before = [w.copy() for w in run.policy.model.get_weights()]
        metrics, snapshot = run.agent.learn(rollout, progress=0.0)
        assert np.isfinite(metrics["policy_loss"]) and np.isfinite(metrics["value_loss"])
        moved = [not np.allclose(a, b) for a, b in zip(before, snapshot.weights, strict=True)]
        core_weights = [i for i, w in enumerate(run.policy.model.weights) if "core" in w.path]
        assert core_weights and all(moved[i] for i in core_weights), "the cores must learn too"
    finally:
        run.close()


def test_ray_workers_each_carry_their_envs_states_and_join_along_the_env_axis(monkeypatch):
    """Two Ray rollout workers, built in-process (the same class a Ray actor runs): each keeps its own envs'
    states across rollouts, and the joined rollout replays exactly on the learner's side."""
    from agents.experience.ray_backend import RolloutWorker

    # A worker process sets its TF thread pools first thing; this process has started TF already.
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", lambda n: None)
    monkeypatch.setattr(tf.config.threading, "set_inter_op_parallelism_threads", lambda n: None)

    config = resolve_config(
        "ppo", MEMORY_ID,
        {"num_envs": N, "num_steps": T, "recurrent": "gru", "recurrent_size": 8, "minibatch_size": 2 * T,
         "backend": "ray", "num_workers": 2, "seed": 5},
    )  # fmt: skip
    run = build_run(config)
    workers = [RolloutWorker(config.to_dict(), i, N // 2, seed=5) for i in range(2)]
    try:
        weights = run.policy.model.get_weights()
        for _ in range(2):
            parts = [worker.collect(weights, {})[0] for worker in workers]
            joined = run.policy.schema.concat(parts)
            assert joined.initial_states.shape == (N, run.policy.state_size)
            log_probs, values, _ = _replay(run.policy, joined)
            np.testing.assert_allclose(log_probs, joined.log_probs, atol=2e-5)
            np.testing.assert_allclose(values, joined.values, atol=2e-5)
        assert np.abs(joined.initial_states).max() > 1e-3  # the second rollouts went on from carried states
    finally:
        run.close()
        for worker in workers:
            worker.env.close()


@pytest.mark.learning
def test_memory_task_is_solved_with_a_core_and_at_chance_without(tmp_path):
    """tfpg-test/Memory-v0: answer the cue shown 10 steps earlier. A GRU policy answers right >= 95% of the
    time after 16k steps (seed 0; measured 100% over 40 episodes); the same PPO without a core cannot beat
    chance by construction (measured 37.5% after 16k steps), so it gets 4k."""
    from agents.run.trainer import train

    values = {
        "num_envs": 8, "num_steps": 32, "minibatch_size": 64, "update_epochs": 4, "learning_rate": 3e-3,
        "gamma": 0.99, "eval_episodes": 40, "seed": 0, "histogram_every": 0, "video": False,
    }  # fmt: skip
    success = {}
    for core in ("gru", "none"):
        # Without a core the answer is a guess whatever the budget: a quarter of it shows that.
        extra = {"recurrent": core, "recurrent_size": 32, "total_steps": 16_384}
        if core == "none":
            extra = {"recurrent": "none", "total_steps": 4_096}
        summary = train(
            resolve_config("ppo", MEMORY_ID, {**values, **extra}), tmp_path / core, progress=False
        )
        success[core] = (summary["eval_mean_return"] + 1.0) / 2.0  # returns are +1 (right) or -1 (wrong)
    assert success["gru"] >= 0.95, success
    assert success["none"] <= 0.7, success

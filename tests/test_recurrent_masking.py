"""Action masking together with a recurrent core (issues 13 and 14): a GRU policy on the masked test env.

The replay of whole sequences in the update must use each step's behaviour-time mask, and training must never
take an invalid action (tfpg's count and the env's own, ``info["invalid_action"]``).
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.run.building import build_run
from agents.run.logging import read_scalars
from agents.run.trainer import train
from envs import testing_masks

T, N = 16, 4
VALUES = {
    "num_envs": N,
    "num_steps": T,
    "recurrent": "gru",
    "recurrent_size": 16,
    "hidden_sizes": [16],
    "minibatch_size": N * T,  # whole sequences: every env's in one minibatch
    "update_epochs": 1,
    "jit_compile": False,
    "eval_envs": 2,
    "eval_episodes": 2,
    "video": False,
    "histogram_every": 0,
    "seed": 2,
}


@pytest.mark.parametrize("mirror", [True, False], ids=["numpy-actor", "tf-actor"])
def test_sequence_replay_uses_the_behaviour_time_masks(mirror):
    """The update replays [N, T] sequences under the [N, T, 16] masks the actor sampled with: the replayed
    log-probs equal the actor's, and the entropy is over the 4 valid actions (≤ log 4), not the 16."""
    run = build_run(resolve_config("ppo", testing_masks.INVALID_ACTION_ID, VALUES))
    try:
        core, policy = run.agent.core, run.policy
        assert core.layout == "sequences" and policy.recurrent and policy.action_masks is not None
        policy.use_mirror = mirror
        rollout, _, _ = InProcessCollection(run.env, policy, T, seed=0).collect(None)
        assert rollout.action_mask.shape == (T, N, 16) and (rollout.action_mask.sum(-1) == 4).all()
        assert rollout.action_mask[np.arange(T)[:, None], np.arange(N), rollout.actions].all()
        zeros = np.zeros((T, N), np.float32)
        batch = core.batch(rollout, advantages=zeros, returns=zeros)
        assert batch["action_mask"].shape == (N, T, 16)
        log_prob, entropy, _ = core.evaluate_actions(tf.nest.map_structure(tf.constant, batch))
        np.testing.assert_allclose(log_prob.numpy(), batch["log_probs"], atol=2e-5)
        assert entropy.numpy().max() <= math.log(4) + 1e-5
    finally:
        run.close()


def test_a_gru_policy_trains_and_evaluates_without_an_invalid_action(tmp_path):
    """4 rollouts of 4 x 16 steps, then the final evaluation (the predictor's own states, the eval env's masks):
    an invalid action would end an episode early (every episode of this env lasts 20 steps)."""
    config = resolve_config(
        "ppo",
        testing_masks.INVALID_ACTION_ID,
        {**VALUES, "total_steps": 4 * N * T, "log_every": 1, "info_keys": ["invalid_action"]},
    )
    summary = train(config, tmp_path / "run", progress=False)
    steps, invalid = read_scalars(str(tmp_path / "run"), "rollout/invalid_actions")
    _, env_counted = read_scalars(str(tmp_path / "run"), "rollout/info/invalid_action")
    assert len(steps) == 4 and sum(invalid) == 0 and sum(env_counted) == 0
    assert summary["eval_mean_length"] == 20

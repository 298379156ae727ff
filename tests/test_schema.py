"""One rollout schema: the in-process rollout, the Ray payload, the learner batch and the update's signature
all derive from it, so a new field declared once reaches all four."""

import pickle

import numpy as np
import pytest

from agents.algorithms.ppo import PPOAgent
from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.experience.schema import ArraySpec, Field, RolloutSchema
from agents.run.building import make_env, make_policy

DUMMY = Field("dummy", ArraySpec((3,), np.float32))
"""A per-step field only this test knows: the actor writes it, the learner receives it."""


class WithDummy:
    """An actor that adds the dummy field to what the policy's own actor returns."""

    def __init__(self, actor):
        self.actor = actor
        self.t = 0

    def act(self, obs, info, episode_start):
        out = self.actor.act(obs, info, episode_start)
        self.t += 1
        out["dummy"] = np.full((len(episode_start), 3), self.t, np.float32)
        return out

    def finish(self, obs, info, episode_start):
        return self.actor.finish(obs, info, episode_start)


def test_a_new_field_reaches_rollout_ray_payload_batch_and_update_signature():
    config = resolve_config("ppo", "CartPole-v1", {"num_envs": 2, "num_steps": 8, "minibatch_size": 8})
    env = make_env(config, 2, seed=0)
    try:
        policy = make_policy(config, env, seed=0)
        policy.schema = policy.schema.extend(DUMMY)  # the only change: one declaration
        policy_actor = policy.actor
        policy.actor = lambda *args: WithDummy(policy_actor(*args))
        agent = PPOAgent(config.agent, policy, env.num_envs)
        rollout, _, _ = InProcessCollection(env, policy, 8, seed=0).collect(None)

        # 1. the in-process rollout: every collected field of the schema, the dummy one included
        assert (
            set(rollout.data)
            == set(policy.schema.fields)
            == set(agent.core.schema.names(source="env")) | set(agent.core.schema.names(source="actor"))
        )
        np.testing.assert_array_equal(rollout.dummy[:, 0, 0], np.arange(1, 9))
        # 2. the Ray payload: pickled as Ray ships it, joined along the env axis by the schema
        parts = [pickle.loads(pickle.dumps(rollout)) for _ in range(2)]
        joined = policy.schema.concat(parts)
        assert set(joined.data) == set(rollout.data)
        assert joined.dummy.shape == (8, 4, 3) and joined.last_values.shape == (4,)
        # 3. the learner batch and 4. the compiled update's input signature
        advantages = np.zeros((8, 2), np.float32)
        batch = agent.core.batch(rollout, advantages=advantages, returns=advantages)
        signature = agent._update.input_signature[0]
        learner_fields = set(agent.core.schema.names(learner=True))
        assert set(batch) == set(signature) == learner_fields
        assert "dummy" in learner_fields and batch["dummy"].shape == (16, 3)
        assert tuple(signature["dummy"].shape) == (16, 3)
        # and the update runs with it
        metrics, snapshot = agent.learn(rollout, progress=0.0)
        assert np.isfinite(metrics["policy_loss"]) and len(snapshot.weights) == len(policy.model.weights)
    finally:
        env.close()


def test_schema_refuses_duplicates_and_unknown_sources():
    with pytest.raises(ValueError, match="twice"):
        RolloutSchema([DUMMY, DUMMY])
    with pytest.raises(ValueError, match="source"):
        Field("x", ArraySpec((), np.float32), source="somewhere")


def test_rollout_fields_are_attributes_and_unknown_ones_are_refused():
    schema = RolloutSchema([Field("rewards", ArraySpec((), np.float32), source="env")])
    rollout = schema.concat([schema_rollout(schema)])
    rollout.rewards = np.ones((2, 1), np.float32)
    assert rollout.data["rewards"].sum() == 2
    with pytest.raises(AttributeError, match="add it to the schema"):
        rollout.typo = 1


def schema_rollout(schema):
    from agents.experience.schema import Rollout

    return Rollout(schema, schema.allocate(2, 1))


def test_sequence_layout_keeps_each_envs_steps_together_and_flat_refuses_per_env_fields():
    state = Field("initial_states", ArraySpec((2,), np.float32), per_step=False)
    schema = RolloutSchema([Field("x", ArraySpec((), np.float32)), state])
    data = schema.allocate(3, 2)
    data["x"][:] = np.arange(6, dtype=np.float32).reshape(3, 2)  # x[t, n] = 2t + n
    data["initial_states"][:] = [[1, 2], [3, 4]]
    rollout = schema_rollout(schema)
    rollout.data.update(data)
    batch = schema.batch(rollout, layout="sequences")
    np.testing.assert_array_equal(batch["x"], [[0, 2, 4], [1, 3, 5]])  # [N, T]: env 0's steps, env 1's
    np.testing.assert_array_equal(batch["initial_states"], [[1, 2], [3, 4]])
    signature = schema.batch_signature(3, 2, layout="sequences")
    assert tuple(signature["x"].shape) == (2, 3) and tuple(signature["initial_states"].shape) == (2, 2)
    with pytest.raises(ValueError, match="layout='sequences'"):
        schema.batch(rollout)
    with pytest.raises(ValueError, match="layout='sequences'"):
        schema.batch_signature(3, 2)
    with pytest.raises(ValueError, match="Unknown batch layout"):
        schema.batch(rollout, layout="chunks")

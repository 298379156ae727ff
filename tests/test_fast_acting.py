"""The NumPy acting path against the TF reference path, and tracing over a real training run."""

import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.run.building import build_run
from agents.run.trainer import train
from envs.testing import ACTION_KINDS, test_env_id
from networks import numpy_mirror
from networks.distributions import Bernoulli, Categorical, DiagGaussian

SMALL = {"num_envs": 4, "num_steps": 16, "minibatch_size": 32, "update_epochs": 2, "eval_envs": 2}


def small_run(env_id: str, algo: str = "ppo", **extra):
    small = SMALL if algo == "ppo" else {"num_envs": 4, "num_steps": 16, "eval_envs": 2}
    return build_run(resolve_config(algo, env_id, {**small, **extra}))


def tf_reference(run, obs, noise):
    """Params, values, sample(noise), mode and log-prob of that sample, all through the TF model."""
    dist = run.policy.distribution
    out = run.policy.model(obs)
    params, values = out["policy"], out["value"]
    if isinstance(dist, DiagGaussian):
        mean, log_std = params[:, : dist.dim], params[:, dist.dim :]
        actions = mean + tf.exp(log_std) * noise
    elif isinstance(dist, Bernoulli):
        actions = tf.cast(noise < tf.sigmoid(params), tf.int32)
    else:  # Gumbel-max, per component for MultiCategorical
        gumbel = params - tf.math.log(-tf.math.log(noise))
        sizes = getattr(dist, "nvec", (params.shape[-1],))
        parts = tf.split(gumbel, list(sizes), axis=-1)
        actions = tf.stack([tf.argmax(p, axis=-1, output_type=tf.int32) for p in parts], axis=-1)
        if isinstance(dist, Categorical):
            actions = actions[:, 0]
    return params, values, actions, dist.mode(params), dist.log_prob(params, actions)


def perturb(model, seed: int = 0) -> None:
    """Move every weight (log-stds included) away from its initial value, so that a mirror that mishandles
    a scale, a sign or a log-std cannot pass by accident (at init log_std = 0 and heads are near zero)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(variable.numpy() + rng.normal(0.0, 0.3, variable.shape).astype(np.float32))


def tile(obs, times: int):
    """A batch of one observation (nested dicts / tuples of [1, ...] arrays) repeated ``times`` times."""
    if isinstance(obs, dict):
        return {key: tile(value, times) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(tile(value, times) for value in obs)
    return np.concatenate([obs] * times)


@pytest.mark.parametrize(
    ("obs_kind", "action_kind", "share_trunk"),
    [(o, a, False) for o in ("vector", "discrete", "dict") for a in ACTION_KINDS]
    + [("discrete", a, True) for a in ACTION_KINDS]
    + [("tuple", "discrete", False)],
)
def test_numpy_mirror_matches_tf_path(obs_kind, action_kind, share_trunk):
    env_id = test_env_id(obs_kind, action_kind)
    run = small_run(
        env_id,
        share_trunk=share_trunk,
        activation="relu" if obs_kind in ("dict", "tuple") else "tanh",
    )
    try:
        assert run.policy.mirror_reason is None, "this model should have a NumPy mirror"
        perturb(run.policy.model)
        noise = run.policy.snapshot(1, 16).noise[0]  # [16, width]
        network, dist = numpy_mirror.mirror(run.policy.model, run.policy.model.get_weights())
        obs = run.env.observation_space.sample()
        obs = tile(obs, 4)
        params, values, actions, mode, log_prob = tf_reference(run, obs, noise)
        np_params, np_values = network.forward(obs)
        # Vector and Discrete observations with separate trunks take the side-by-side (fused) trunk.
        assert (network.fused is not None) == (obs_kind in ("vector", "discrete") and not share_trunk)
        np.testing.assert_allclose(np_params, params.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np_values, values.numpy(), rtol=1e-5, atol=1e-5)
        np_actions = dist.sample(np_params, noise).astype(run.policy.action_dtype)
        if np.issubdtype(np_actions.dtype, np.floating):
            np.testing.assert_allclose(np_actions, actions.numpy(), rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(np_actions, actions.numpy())
        np_mode = dist.mode(np_params).astype(np_actions.dtype)
        np.testing.assert_allclose(np_mode, mode.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            dist.log_prob(np_params, np_actions), log_prob.numpy(), rtol=1e-4, atol=1e-4
        )
        # The rollout actor's one-call path from the prepared noise: the same actions and log-probs.
        fast_actions, fast_log_probs = dist.sample_and_log_prob(np_params, dist.prepare_noise(noise))
        np.testing.assert_array_equal(fast_actions.astype(np_actions.dtype), np_actions)
        np.testing.assert_allclose(fast_log_probs, log_prob.numpy(), rtol=1e-4, atol=1e-4)
    finally:
        run.close()


def test_state_dependent_std_is_mirrored_and_squashed_gaussians_are_not():
    run = small_run(test_env_id("vector", "box"), state_dependent_std=True)
    try:
        assert run.policy.mirror_reason is None
        perturb(run.policy.model)
        obs = np.random.default_rng(1).normal(size=(5, *run.env.single_observation_space.shape))
        obs = obs.astype(np.float32)
        network, _ = numpy_mirror.mirror(run.policy.model, run.policy.model.get_weights())
        params = run.policy.model(obs)["policy"].numpy()
        np.testing.assert_allclose(network.forward(obs)[0], params, rtol=1e-5, atol=1e-5)
    finally:
        run.close()
    squashed = small_run(test_env_id("vector", "box"), squash_actions=True)
    try:
        assert "SquashedDiagGaussian" in squashed.policy.mirror_reason
        assert type(squashed.policy.actor(None, 2, 4)).__name__ == "TFActor"
    finally:
        squashed.close()


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_rollouts_after_an_update_use_the_updated_weights(algo):
    """Each rollout's log-probs and values are those of the TF model at collection time (no stale copy),
    also when the rollout acts from the snapshot the update handed over."""
    run = small_run("CartPole-v1", algo)
    own_snapshots = []
    snapshot_fn = run.policy.snapshot
    run.policy.snapshot = lambda *shape: own_snapshots.append(shape) or snapshot_fn(*shape)
    try:
        num_steps = run.config.agent.num_steps
        collection = InProcessCollection(run.env, run.policy, num_steps, seed=0)
        snapshot = None
        for update in range(3):
            rollout, _, _ = collection.collect(snapshot)
            obs = rollout.observations.reshape(-1, 4)
            out = run.policy.model(obs)
            expected = run.policy.distribution.log_prob(out["policy"], rollout.actions.reshape(-1)).numpy()
            np.testing.assert_allclose(rollout.log_probs.reshape(-1), expected, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(rollout.values.reshape(-1), out["value"].numpy(), rtol=1e-5, atol=1e-5)
            next_obs = collection.collector._obs
            np.testing.assert_allclose(rollout.last_values, run.policy.value(next_obs), rtol=1e-5, atol=1e-5)
            metrics, snapshot = run.agent.learn(rollout, progress=update / 3)
            assert metrics["grad_norm"] > 0  # the weights did change
        assert run.policy.trace_counts()["sample"] == 0  # the TF sampler was never needed
        assert len(own_snapshots) == 1  # only the first rollout fetched its own; the others used the update's
    finally:
        run.close()


def test_sampled_actions_follow_the_policy_distribution():
    """Over many draws, NumPy-path action frequencies match softmax(logits) of the TF model."""
    run = small_run("CartPole-v1")
    try:
        obs = np.tile(np.array([[0.05, -0.2, 0.03, 0.4]], np.float32), (4000, 1))
        out = run.policy.actor(None, num_steps=1, num_envs=4000).act(obs, {}, np.ones(4000, bool))
        actions, log_probs = out["actions"], out["log_probs"]
        probs = tf.nn.softmax(run.policy.model(obs[:1])["policy"]).numpy()[0]
        assert abs(actions.mean() - probs[1]) < 0.03
        np.testing.assert_allclose(np.exp(log_probs), probs[actions], rtol=1e-5)
    finally:
        run.close()


@pytest.mark.parametrize(
    ("algo", "env_id", "network"),
    [
        ("ppo", "CartPole-v1", {}),
        ("a2c", "CartPole-v1", {}),
        ("reinforce", "CartPole-v1", {}),
        ("ppo", "Pendulum-v1", {}),
        # recurrent: sequence minibatches with their initial states, one compiled update traced once
        ("ppo", "tfpg/CartPoleNoVel-v1", {"recurrent": "lstm", "recurrent_size": 8}),
        ("a2c", "tfpg/CartPoleNoVel-v1", {"recurrent": "gru", "recurrent_size": 8}),
    ],
)
def test_no_retracing_after_the_first_iteration(tmp_path, monkeypatch, algo, env_id, network):
    """A real short training run with periodic evaluation: compiled functions trace in the first iteration
    (update, rollout snapshot, the eval's mode at its end; value traced once by build_run), never again."""
    from agents.algorithms.a2c import A2CAgent
    from agents.algorithms.ppo import PPOAgent
    from agents.algorithms.reinforce import ReinforceAgent

    small = {"num_envs": 4, "num_steps": 32, "eval_episodes": 2, "eval_envs": 2}
    if algo == "ppo":
        small.update(minibatch_size=64, update_epochs=2)
    per_iteration = small["num_envs"] * small["num_steps"]
    config = resolve_config(
        algo, env_id, {**small, **network, "total_steps": 4 * per_iteration, "eval_every": per_iteration}
    )
    agent_cls = {"ppo": PPOAgent, "a2c": A2CAgent, "reinforce": ReinforceAgent}[algo]
    counts = []
    learn = agent_cls.learn

    def counting_learn(self, rollout, progress):  # a spy: the real update, then read the trace counters
        out = learn(self, rollout, progress)
        counts.append({"update": self.core.trace_count(), **self.core.policy.trace_counts()})
        return out

    monkeypatch.setattr(agent_cls, "learn", counting_learn)
    train(config, tmp_path / "run", progress=False)
    assert len(counts) == 4
    assert counts[1] == {"update": 1, "sample": 0, "mode": 1, "value": 1, "snapshot": 1}, counts
    assert all(c == counts[1] for c in counts[2:]), counts


@pytest.mark.parametrize("obs_kind", ["vector", "dict"])
def test_observations_of_another_dtype_are_cast_to_the_signatures(obs_kind):
    # Gymnasium's own NormalizeObservation returns float64: both acting paths take it and act as on float32
    # observations. (Removing cast_like's cast does not fail this: the signature and the mirror's first layer
    # convert too.)
    run = small_run(test_env_id(obs_kind, "discrete"))
    obs, _ = run.env.reset(seed=0)
    wide = tf.nest.map_structure(lambda x: np.asarray(x, np.float64), obs)
    np.testing.assert_array_equal(run.policy.value(wide), run.policy.value(obs))  # TF path
    actor = run.policy.actor(None, 4, run.env.num_envs)
    values = actor.finish(wide, {}, np.zeros(run.env.num_envs, bool))["last_values"]  # NumPy mirror
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, run.policy.value(obs), rtol=1e-5, atol=1e-6)
    run.close()

"""Ray rollout backend: same rollouts as in-process for the same seeds, survives a killed worker."""

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.experience.ray_backend import RayRolloutCollector, init_ray
from agents.run.building import make_env, make_policy

SMALL = {"seed": 3, "num_envs": 4, "num_steps": 16, "minibatch_size": 64}


@pytest.fixture(scope="module")
def ray_cluster():
    home_ray = Path.home() / ".ray"
    existed = home_ray.exists()
    ray = init_ray(num_cpus=2)
    yield ray
    ray.shutdown()
    assert existed or not home_ray.exists(), "a local Ray cluster wrote into ~/.ray"


def test_one_worker_reproduces_in_process_rollout(ray_cluster):
    config = resolve_config("ppo", "CartPole-v1", SMALL)
    env = make_env(config, 4, seed=3)
    policy = make_policy(config, env, seed=3)
    local, _, _ = InProcessCollection(env, policy, 16, seed=3).collect(None)
    policy.generator.reset_from_seed(3)  # the worker samples from the same stream as a fresh learner
    remote = RayRolloutCollector(resolve_config("ppo", "CartPole-v1", {**SMALL, "backend": "ray", "num_workers": 1}),
                                 env, policy, seed=3)  # fmt: skip
    try:
        rollout, _, scalars = remote.collect(None)
    finally:
        remote.close()
        env.close()
    np.testing.assert_array_equal(rollout.observations, local.observations)
    np.testing.assert_array_equal(rollout.actions, local.actions)
    np.testing.assert_allclose(rollout.log_probs, local.log_probs, rtol=1e-5)
    np.testing.assert_array_equal(rollout.valid, local.valid)
    assert remote.last_info.failures == 0 and set(scalars) == {
        "time/worker_0_sps", "time/learner_wait_s", "time/worker_failures"
    }  # fmt: skip


def test_two_workers_concatenate_along_env_axis_and_survive_a_kill(ray_cluster, capfd):
    config = resolve_config("ppo", "CartPole-v1", {**SMALL, "backend": "ray", "worker_timeout_s": 60})
    env = make_env(config, 4, seed=3)
    policy = make_policy(config, env, seed=3)
    remote = RayRolloutCollector(config, env, policy, seed=3)
    try:
        first, _, _ = remote.collect(None)
        assert first.observations.shape == (16, 4, 4)
        # sub-envs are seeded 3, 4 (worker 0) and 5, 6 (worker 1): all first observations differ
        assert len({tuple(o) for o in first.observations[0]}) == 4
        os.kill(remote.worker_pids()[1], signal.SIGKILL)
        second, _, scalars = remote.collect(policy.snapshot(16, 4))
        assert remote.last_info.failures >= 1 and scalars["time/worker_failures"] >= 1
        assert second.observations.shape == (16, 4, 4) and np.isfinite(second.values).all()
        assert "rollout worker 1 failed" in capfd.readouterr().err
    finally:
        remote.close()
        env.close()

"""Ray rollout backend: same rollouts as in-process for the same seeds, survives a killed worker, and a local
Ray listens on loopback only."""

import os
import signal
import subprocess
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
    config = resolve_config("ppo", "CartPole-v1", {**SMALL, "backend": "ray", "worker_timeout_s": 180})
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


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue  # exited meanwhile
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def test_local_ray_listens_on_loopback_only(ray_cluster):
    """While 2 workers collect, every socket this process tree listens on (driver, gcs_server, raylet, agents,
    workers: `ss -ltnp`) is on 127.0.0.1, none on 0.0.0.0, * or the machine's address."""
    config = resolve_config("ppo", "CartPole-v1", {**SMALL, "backend": "ray"})
    env = make_env(config, 4, seed=3)
    policy = make_policy(config, env, seed=3)
    remote = RayRolloutCollector(config, env, policy, seed=3)
    try:
        remote.collect(None)
        pids = _descendants(os.getpid())
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
        listening = [line for line in out if any(f"pid={pid}," in line for pid in pids)]
        names = {line.split('users:(("', 1)[1].split('"', 1)[0] for line in listening}
    finally:
        remote.close()
        env.close()
    assert {"gcs_server", "raylet"} <= names and len(listening) >= 4, listening  # the check saw Ray's servers
    local = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")
    assert all(line.split()[3].startswith(local) for line in listening), "\n".join(listening)


def test_workers_that_cannot_all_get_cpus_are_refused_and_worker_cpus_must_be_positive(ray_cluster):
    from agents.config import ConfigError
    from agents.experience.ray_session import RayAddressError, check_cpus

    check_cpus(ray_cluster, 2)  # the fixture's local Ray has 2 CPUs
    with pytest.raises(RayAddressError, match=r"has 2 CPU\(s\) but the rollout workers reserve 4"):
        check_cpus(ray_cluster, 4 * 1.0)
    with pytest.raises(ConfigError, match="worker_cpus must be above 0"):
        resolve_config("ppo", "CartPole-v1", {"backend": "ray", "worker_cpus": 0})


def test_workers_act_with_their_own_envs_action_masks(ray_cluster):
    """Issue 13: workers build their policy from the config, resolve the same mask source, read their envs'
    masks and ship them in the rollout, which joins along the env axis like every other field."""
    from agents.experience.masks import invalid_action_flags
    from envs.testing_masks import (
        INVALID_ACTION_MULTI_ID,
    )  # MultiDiscrete([6, 6]), mask in info, 4 of 12 valid

    config = resolve_config("ppo", INVALID_ACTION_MULTI_ID,
                            {**SMALL, "backend": "ray", "worker_timeout_s": 120})  # fmt: skip
    env = make_env(config, 4, seed=3)
    policy = make_policy(config, env, seed=3)
    remote = RayRolloutCollector(config, env, policy, seed=3)
    try:
        rollout, _, _ = remote.collect(None)
    finally:
        remote.close()
        env.close()
    assert rollout.action_mask.shape == (16, 4, 12) and rollout.action_mask.dtype == bool
    assert len({row.tobytes() for row in rollout.action_mask[0]}) == 4  # each env its own
    assert not invalid_action_flags(rollout.action_mask, rollout.actions, policy.action_space).any()
    assert (rollout.rewards > -10).all()  # the envs' own verdict: no invalid action
    # Each stored mask belongs to the observation of its row: the right action (= the state) is valid.
    right = rollout.observations + np.array([0, 6])  # flat index of each dimension's right entry
    used = rollout.valid > 0
    assert np.take_along_axis(rollout.action_mask, right, axis=-1)[used].all()

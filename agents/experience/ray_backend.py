"""Rollout collection on Ray actors: the same [T, N] rollouts as the in-process collector, from many processes.

Ray is optional (``pip install -e .[ray]``). Each worker is a Ray actor that builds its own vector env and a copy
of the policy network from the run's config. Per iteration the learner puts its weights and the shared
normalization statistics in the object store once (one ``ray.put`` each, not one per worker); every worker
loads them, collects ``num_steps`` steps on its ``envs_per_worker`` envs and returns its rollout, its finished
episodes and the normalization statistics of exactly the data it saw (``envs.stats.stats_delta``), which the
learner folds into the shared statistics (``merge_deltas``). Rollouts concatenate along the env axis, so worker
``w``'s env ``i`` is env ``w * envs_per_worker + i`` of the learner's batch and is seeded ``seed + that index``:
one worker with all envs reproduces the in-process collector exactly.

Faults: a worker that dies (process killed), raises (env error) or times out is replaced by a fresh actor, and
its share of the rollout is collected again; every wait is bounded by ``timeout_s``. Failures are counted and
printed; a rollout that cannot be collected after ``max_retries`` raises instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field

from agents.experience.collector import EpisodeStats
from agents.experience.ray_session import RAY_INSTALL_HINT, import_ray, init_ray  # noqa: F401 (re-exported)
from agents.experience.schema import Rollout
from envs.stats import merge_deltas
from envs.wrappers import get_normalization_state, set_normalization_state


class RolloutWorker:
    """One worker's env + policy copy. Built inside a Ray actor process (or in-process, for tests)."""

    def __init__(self, config_dict: dict, worker_index: int, envs_per_worker: int, seed: int) -> None:
        from agents.run.console import import_tensorflow, wants_onednn

        # As the learner's process imports it: quietly, with oneDNN when the network names a CNN.
        tf = import_tensorflow(onednn=wants_onednn(config_dict["network"].get("cnn", "auto")))

        from agents.config import ResolvedConfig
        from agents.experience.collector import RolloutCollector
        from agents.run.building import make_env, make_policy

        tf.config.threading.set_intra_op_parallelism_threads(1)  # one core per worker
        tf.config.threading.set_inter_op_parallelism_threads(1)
        config = ResolvedConfig.from_dict(config_dict)
        env_seed = seed + worker_index * envs_per_worker  # the learner's env index of this worker's first env
        self.env = make_env(config, envs_per_worker, env_seed)
        # Worker 0 samples with the learner's own seed, so one worker reproduces the in-process run.
        self.policy = make_policy(config, self.env, seed=config.run.seed + worker_index)
        self.num_steps = config.agent.num_steps
        self.collector = RolloutCollector(self.env, self.policy.schema, self.num_steps, env_seed)

    def collect(self, weights: list, normalization: dict) -> tuple[Rollout, EpisodeStats, dict, float]:
        from envs.stats import stats_delta
        from envs.wrappers import get_normalization_state, set_normalization_state

        self.policy.model.set_weights(weights)
        if normalization:
            set_normalization_state(self.env, normalization)
        start = time.perf_counter()
        actor = self.policy.actor(
            None, self.num_steps, self.env.num_envs
        )  # noise from this worker's generator
        rollout, episodes = self.collector.collect(actor)
        elapsed = time.perf_counter() - start
        delta = stats_delta(get_normalization_state(self.env), normalization) if normalization else {}
        return rollout, episodes, delta, elapsed

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        """The Ray node id this worker runs on (node IPs may repeat, e.g. nodes sharing a machine)."""
        import ray

        return ray.get_runtime_context().get_node_id()


@dataclass
class CollectInfo:
    """What one distributed collection cost: for ``time/`` scalars and the console."""

    learner_wait_s: float = 0.0
    worker_sps: list[float] = field(default_factory=list)
    failures: int = 0


class RayRolloutCollector:
    """Collects rollouts on Ray actors; ``collect(policy)`` returns what the in-process collection returns.

    Args:
        config: the run's config (``run.num_workers``, ``run.num_envs``, ``run.ray_address``, ...).
        learner_env: the learner's env; it holds the shared normalization statistics (read at start, written
            after every merge), so checkpoints and evaluation see them as in an in-process run.
        policy: the learner's policy (its schema; its current weights before the first snapshot).
        seed: base env seed; worker w's env i is seeded ``seed + w * envs_per_worker + i``.
        max_retries: failed attempts tolerated for one rollout before giving up with an error.
    """

    def __init__(self, config, learner_env, policy, seed: int, max_retries: int = 3) -> None:
        rc = config.run
        self._owns_ray = not import_ray().is_initialized()
        self.ray = ray = init_ray(rc.ray_address, num_cpus=None)
        self.config_dict = config.to_dict()
        self.learner_env = learner_env
        self.policy = policy  # its schema joins the workers' rollouts; its weights when no snapshot is given
        self.seed = seed
        self.num_workers = rc.num_workers
        self.envs_per_worker = rc.num_envs // rc.num_workers
        self.normalization = get_normalization_state(learner_env)
        self.timeout_s = rc.worker_timeout_s
        self.max_retries = max_retries
        self.total_failures = 0
        # SPREAD: one worker per node before any node gets a second, so a cluster's nodes share the stepping.
        self._actor_cls = ray.remote(num_cpus=rc.worker_cpus, max_restarts=0, scheduling_strategy="SPREAD")(
            RolloutWorker
        )
        self._node_refs: dict[int, object] = {}
        self.workers = [self._start(i) for i in range(self.num_workers)]
        self.report_placement("started")

    def _start(self, index: int):
        worker = self._actor_cls.remote(self.config_dict, index, self.envs_per_worker, self.seed)
        self._node_refs[index] = worker.node.remote()  # resolved when the placement is reported
        return worker

    def placement(self) -> list[str | None]:
        """The node id of each worker (None where the worker could not say, e.g. it died)."""
        nodes: list[str | None] = []
        for index in range(self.num_workers):
            try:
                nodes.append(self.ray.get(self._node_refs[index], timeout=self.timeout_s))
            except (self.ray.exceptions.RayError, TimeoutError):
                nodes.append(None)  # collect() finds out and replaces the worker
        return nodes

    def report_placement(self, when: str) -> None:
        """Print which node each worker runs on (one line, to stderr): where a run's stepping happened."""
        nodes = self.placement()
        names = {node: f"node {node[:8]}" for node in nodes if node}
        where = ", ".join(f"{i} on {names.get(node, 'an unknown node')}" for i, node in enumerate(nodes))
        print(f"tfpg: Ray rollout workers {when} on {len(names)} node(s): {where}", file=sys.stderr)

    def worker_pids(self) -> list[int]:
        return self.ray.get([w.pid.remote() for w in self.workers], timeout=self.timeout_s)

    def collect(self, snapshot) -> tuple[Rollout, EpisodeStats, dict[str, float]]:
        """One rollout from every worker with the snapshot's weights and the current normalization statistics.

        Each worker draws its sampling noise from its own generator; the snapshot's noise is for the learner's
        own envs and is not shipped.
        """
        ray = self.ray
        start = time.perf_counter()
        weights = snapshot.weights if snapshot is not None else self.policy.model.get_weights()
        weights_ref = ray.put(weights)
        norm_ref = ray.put(self.normalization)
        results: dict[int, tuple] = {}
        info = CollectInfo()
        pending = {i: self.workers[i].collect.remote(weights_ref, norm_ref) for i in range(self.num_workers)}
        attempts = 0
        while pending:
            for index, ref in list(pending.items()):
                try:
                    results[index] = ray.get(ref, timeout=self.timeout_s)
                    del pending[index]
                except (ray.exceptions.RayError, TimeoutError) as err:
                    info.failures += 1
                    self.total_failures += 1
                    print(f"tfpg: rollout worker {index} failed ({type(err).__name__}: {err}); "
                          f"restarting it and collecting its share again", file=sys.stderr)  # fmt: skip
                    # Whatever broke (process gone, env raised, hung), start that worker afresh.
                    ray.kill(self.workers[index], no_restart=True)
                    self.workers[index] = self._start(index)
                    pending[index] = self.workers[index].collect.remote(weights_ref, norm_ref)
            attempts += 1
            if pending and attempts > self.max_retries:
                raise RuntimeError(
                    f"Ray rollout workers {sorted(pending)} failed {self.max_retries} times in a row; giving up."
                )
        ordered = [results[i] for i in range(self.num_workers)]
        rollout = self.policy.schema.concat([r[0] for r in ordered])
        episodes = EpisodeStats()
        for r in ordered:
            episodes.merge(r[1])
        if self.normalization:
            self.normalization = merge_deltas(self.normalization, [r[2] for r in ordered])
            set_normalization_state(self.learner_env, self.normalization)
        steps_per_worker = rollout.num_steps * self.envs_per_worker
        info.worker_sps = [steps_per_worker / max(r[3], 1e-9) for r in ordered]
        info.learner_wait_s = time.perf_counter() - start
        self.last_info = info
        scalars = {f"time/worker_{i}_sps": sps for i, sps in enumerate(info.worker_sps)}
        scalars["time/learner_wait_s"] = info.learner_wait_s
        scalars["time/worker_failures"] = float(self.total_failures)
        return rollout, episodes, scalars

    def close(self) -> None:
        if self.total_failures:
            self.report_placement("at the end (after replacements)")
        for worker in self.workers:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(worker, no_restart=True)
        if self._owns_ray:
            self.ray.shutdown()

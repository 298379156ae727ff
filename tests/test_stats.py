"""Merging normalization statistics from several env copies equals computing them over all the data."""

import numpy as np

from envs.make import make_vector_env
from envs.stats import merge_deltas, stats_delta
from envs.wrappers import get_normalization_state, set_normalization_state


def step_env(env, steps, seed):
    rng = np.random.default_rng(seed)
    observations = []
    for _ in range(steps):
        obs, *_ = env.step(rng.integers(0, 2, size=env.num_envs))
        observations.append(np.asarray(obs))
    return observations


def test_worker_deltas_merge_to_statistics_of_all_raw_observations():
    # Two "workers" with normalization, each shadowed by a twin without it (same seed, same actions), so the
    # raw observations each worker's normalizer saw are known.
    workers = [make_vector_env("CartPole-v1", 2, seed=s, normalize_obs=True) for s in (0, 10)]
    twins = [make_vector_env("CartPole-v1", 2, seed=s) for s in (0, 10)]
    for env in (*workers, *twins):
        env.reset(seed=0 if env in (workers[0], twins[0]) else 10)
    shared = get_normalization_state(workers[0])  # after reset: the shared starting point
    deltas, raw = [], []
    for worker, twin, seed in zip(workers, twins, (1, 2), strict=True):
        set_normalization_state(worker, shared)
        step_env(worker, 50, seed)
        raw.extend(step_env(twin, 50, seed))
        deltas.append(stats_delta(get_normalization_state(worker), shared))
    merged = merge_deltas(shared, deltas)
    raw = np.concatenate(raw)  # [2 workers * 50 steps * 2 envs, 4]
    for delta, part in zip(deltas, (raw[:100], raw[100:]), strict=True):
        np.testing.assert_allclose(delta["obs_mean"], part.mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(delta["obs_var"], part.var(0), rtol=1e-5, atol=1e-7)
    assert merged["obs_count"] == shared["obs_count"] + 200
    expected = merge_deltas(
        shared, [{"obs_mean": raw.mean(0), "obs_var": raw.var(0), "obs_count": np.asarray(200.0)}]
    )
    np.testing.assert_allclose(merged["obs_mean"], expected["obs_mean"], rtol=1e-6)
    np.testing.assert_allclose(merged["obs_var"], expected["obs_var"], rtol=1e-6)
    for env in (*workers, *twins):
        env.close()


def test_delta_recovers_batch_statistics_exactly():
    rng = np.random.default_rng(0)
    before_data, batch = rng.normal(2.0, 3.0, (40, 3)), rng.normal(-1.0, 0.5, (25, 3))
    before = {"obs_mean": before_data.mean(0), "obs_var": before_data.var(0), "obs_count": np.asarray(40.0)}
    everything = np.concatenate([before_data, batch])
    after = {"obs_mean": everything.mean(0), "obs_var": everything.var(0), "obs_count": np.asarray(65.0)}
    delta = stats_delta(after, before)
    np.testing.assert_allclose(delta["obs_mean"], batch.mean(0), rtol=1e-9)
    np.testing.assert_allclose(delta["obs_var"], batch.var(0), rtol=1e-9)
    assert delta["obs_count"] == 25
    merged = merge_deltas(before, [delta])
    np.testing.assert_allclose(merged["obs_mean"], everything.mean(0), rtol=1e-9)
    np.testing.assert_allclose(merged["obs_var"], everything.var(0), rtol=1e-9)


def test_merge_of_split_data_equals_numpy_over_all():
    rng = np.random.default_rng(1)
    parts = [rng.normal(i, 1 + i, (10 + 5 * i, 2)) for i in range(3)]
    empty = {"obs_mean": np.zeros(2), "obs_var": np.ones(2), "obs_count": np.asarray(0.0)}
    deltas = [
        {"obs_mean": p.mean(0), "obs_var": p.var(0), "obs_count": np.asarray(float(len(p)))} for p in parts
    ]
    merged = merge_deltas(empty, deltas)
    allx = np.concatenate(parts)
    np.testing.assert_allclose(merged["obs_mean"], allx.mean(0), rtol=1e-9)
    np.testing.assert_allclose(merged["obs_var"], allx.var(0), rtol=1e-9)

"""Checkpoints in-process: save → load round trip, validation errors, crash leftovers, event trimming."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.run import checkpoint as ckpt
from agents.run.building import build_run, restore_run
from agents.run.rundir import RunInputError, apply_resume_overrides, trim_events_after
from envs.wrappers import get_normalization_state

SMALL = {
    "num_envs": 4,
    "num_steps": 32,
    "minibatch_size": 64,
    "update_epochs": 2,
    "hidden_sizes": [16],
    "eval_envs": 2,
    "normalize_obs": True,
}


def trained_run(seed=0, updates=2, **extra):
    run = build_run(resolve_config("ppo", "CartPole-v1", {**SMALL, "seed": seed, **extra}))
    collector = InProcessCollection(run.env, run.policy, 32, seed=seed)
    snapshot = None
    for i in range(updates):
        rollout, _, _ = collector.collect(snapshot)
        _, snapshot = run.agent.learn(rollout, progress=i / updates)
    run.counters["env_steps"].assign(updates * 128)
    run.normalization.assign(get_normalization_state(run.env))
    return run


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained run saved with a checkpoint Saver, and the prefix."""
    directory = tmp_path_factory.mktemp("ckpt")
    run = trained_run()
    prefix = ckpt.Saver(run.checkpoint, directory, 2).save(256)
    yield run, directory, prefix
    run.close()


def test_save_load_gives_identical_actions_values_and_statistics(saved):
    run, _, prefix = saved
    obs = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    other = build_run(resolve_config("ppo", "CartPole-v1", {**SMALL, "seed": 7}))  # other init, other stats
    try:
        assert not np.allclose(other.policy.value(obs), run.policy.value(obs))  # the test can fail
        restore_run(other, prefix)
        np.testing.assert_array_equal(other.policy.predict(obs), run.policy.predict(obs))
        np.testing.assert_array_equal(other.policy.value(obs), run.policy.value(obs))
        # same generator state → the same sampled actions and log-probs
        for a, b in zip(other.policy.act(obs), run.policy.act(obs), strict=True):
            np.testing.assert_array_equal(a, b)
        saved_stats, restored = run.normalization.state(), get_normalization_state(other.env)
        assert saved_stats["obs_count"] > 1
        for key, value in saved_stats.items():
            np.testing.assert_allclose(restored[key], value, rtol=1e-6)
        assert int(other.counters["env_steps"].numpy()) == 256
        assert other.agent.optimizer.iterations.numpy() == run.agent.optimizer.iterations.numpy() > 0
    finally:
        other.close()


def test_foreign_network_and_env_are_refused_by_name(saved):
    _, _, prefix = saved
    wide = build_run(resolve_config("ppo", "CartPole-v1", {**SMALL, "hidden_sizes": [32]}))
    acrobot = build_run(resolve_config("ppo", "Acrobot-v1", {**SMALL}))
    try:
        with pytest.raises(ckpt.CheckpointError, match=r"different run.*hidden_sizes"):
            restore_run(wide, prefix)
        with pytest.raises(ckpt.CheckpointError, match=r"env_id: checkpoint has 'CartPole-v1'.*'Acrobot-v1'"):
            restore_run(acrobot, prefix)
        # Without run_info (e.g. a hand-made checkpoint) the shape check still refuses it.
        wide.checkpoint = tf.train.Checkpoint(model=wide.policy.model)
        with pytest.raises(ckpt.CheckpointError, match="does not fit"):
            ckpt.restore(wide.checkpoint, prefix)
    finally:
        wide.close()
        acrobot.close()


def test_corrupt_and_missing_checkpoints_are_refused(saved, tmp_path):
    run, directory, _prefix = saved
    copy = tmp_path / "c"
    shutil.copytree(directory, copy)
    data = next(copy.glob("ckpt-256.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # flip bytes inside the tensors
    data.write_bytes(bytes(raw))
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.restore(run.checkpoint, str(copy / "ckpt-256"), run.run_info)
    (copy / "ckpt-256.index").write_bytes(b"not an index")
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.restore(run.checkpoint, str(copy / "ckpt-256"), run.run_info)
    with pytest.raises(ckpt.CheckpointError, match="No latest checkpoint"):
        ckpt.resolve_checkpoint(tmp_path, "latest")
    with pytest.raises(ckpt.CheckpointError, match="No best checkpoint"):
        ckpt.resolve_checkpoint(tmp_path, "best")


def test_leftovers_of_a_killed_save_are_ignored_then_removed(saved, tmp_path):
    """What a kill -9 during save 512 leaves: data without index, a temp dir; the pointer still says 256."""
    run, directory, _prefix = saved
    copy = tmp_path / "checkpoint"
    shutil.copytree(directory, copy)
    (copy / "ckpt-512.data-00000-of-00001").write_bytes(b"\x00" * 100)
    (copy / "ckpt-512_temp").mkdir()
    (copy / "ckpt-512_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    latest = ckpt.latest_in(copy)
    assert latest.endswith("ckpt-256")
    ckpt.restore(run.checkpoint, latest, run.run_info)
    before = sorted(p.name for p in directory.iterdir())
    ckpt.remove_stale(copy, 256)
    assert sorted(p.name for p in copy.iterdir()) == before  # the pointer, ckpt-256's index and data shards


def test_trim_events_after_drops_later_steps_and_torn_records(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(1, 6):
            tf.summary.scalar("x", float(step), step=step)
    writer.close()
    events = next(tmp_path.glob("events.out.tfevents.*"))
    with events.open("ab") as f:
        f.write(b"\x10\x00\x00\x00partial")  # a record torn by a kill
    assert trim_events_after(tmp_path, 3) == 2  # steps 4 and 5
    assert not events.read_bytes().endswith(b"partial")  # the torn record is not copied
    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("x")] == [1, 2, 3]
    before = events.read_bytes()
    assert trim_events_after(tmp_path, 3) == 0 and events.read_bytes() == before  # untouched when clean


def test_resume_overrides_allow_budget_changes_only():
    config = resolve_config("ppo", "CartPole-v1", {})
    new = apply_resume_overrides(config, {"total_steps": 200_000, "eval_every": 5000, "seed": 0})
    assert new.run.total_steps == 200_000 and new.run.eval_every == 5000
    assert dataclasses.asdict(new.agent) == dataclasses.asdict(config.agent)
    with pytest.raises(RunInputError, match=r"Cannot change learning_rate \(saved 0.001, given 0.1\)"):
        apply_resume_overrides(config, {"learning_rate": 0.1})
    with pytest.raises(RunInputError, match="Cannot change env_id"):
        apply_resume_overrides(config, {"env_id": "Acrobot-v1"})
    with pytest.raises(RunInputError, match="Unknown config field"):
        apply_resume_overrides(config, {"learnin_rate": 0.1})


def test_saver_writes_each_saves_values_keeps_the_newest_and_a_new_saver_goes_on(tmp_path):
    # The write is traced once: each save must still write the variables' values at that moment.
    run = trained_run()
    kernel = run.policy.model.trainable_variables[0]
    saver = ckpt.Saver(run.checkpoint, tmp_path, keep=2)
    saved_kernels = {}
    for step in (100, 200, 300):
        kernel.assign(kernel + 0.5)
        saved_kernels[step] = kernel.numpy().copy()
        assert saver.save(step) == str(tmp_path / f"ckpt-{step}")
    assert ckpt.latest_in(tmp_path) == str(tmp_path / "ckpt-300")
    names = {p.name.split(".")[0] for p in tmp_path.iterdir() if p.name != "checkpoint"}
    assert names == {"ckpt-200", "ckpt-300"}  # ckpt-100 dropped once the pointer no longer named it
    assert [
        p.name for p in map(Path, tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths)
    ] == [
        "ckpt-200",
        "ckpt-300",
    ]
    for step in (200, 300):
        kernel.assign(tf.zeros_like(kernel))
        ckpt.restore(run.checkpoint, str(tmp_path / f"ckpt-{step}"), run.run_info)
        np.testing.assert_array_equal(kernel.numpy(), saved_kernels[step])
    # A resumed run's saver reads the pointer file and goes on deleting the oldest.
    ckpt.Saver(run.checkpoint, tmp_path, keep=2).save(400)
    assert {p.name.split(".")[0] for p in tmp_path.iterdir() if p.name != "checkpoint"} == {
        "ckpt-300",
        "ckpt-400",
    }
    run.close()


def test_checkpoints_written_by_a_checkpoint_manager_still_restore(tmp_path):
    # Runs saved before the Saver existed (tf.train.CheckpointManager.save) resume and evaluate as before.
    run = trained_run()
    manager = tf.train.CheckpointManager(run.checkpoint, str(tmp_path), max_to_keep=1, checkpoint_name="ckpt")
    prefix = manager.save(checkpoint_number=256)
    weights = [w.numpy().copy() for w in run.policy.model.weights]
    for w in run.policy.model.weights:
        w.assign(tf.zeros_like(w))
    assert ckpt.latest_in(tmp_path) == prefix
    ckpt.restore(run.checkpoint, prefix, run.run_info)
    for w, saved in zip(run.policy.model.weights, weights, strict=True):
        np.testing.assert_array_equal(w.numpy(), saved)
    run.close()


def test_variables_created_after_the_first_save_are_in_later_saves(tmp_path):
    # The compiled write fixes its variables when traced; an optimizer building its slots at its first step
    # after a save (tfpg's optimizers are built up front today) must not be left out of every later checkpoint.
    module = tf.Module()
    module.weight = tf.Variable(1.0)
    saver = ckpt.Saver(tf.train.Checkpoint(model=module), tmp_path, 3, lambda: len(module.variables))
    saver.save(0)
    module.slot = tf.Variable(2.0)
    prefix = saver.save(1)
    saved = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert "model/slot/.ATTRIBUTES/VARIABLE_VALUE" in saved, sorted(saved)

"""The Python API: README's snippets run as written; load → predict applies the eval env's processing exactly."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import agents
from agents.run.building import make_env
from agents.run.loading import load_run

ROOT = Path(__file__).resolve().parents[1]


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def test_import_agents_imports_no_tensorflow():
    code = "import sys, agents; print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_readme_snippets_run_as_written(tmp_path):
    """Every python block of README.md, in order, each in a fresh process, from an empty directory."""
    blocks = readme_python_blocks()
    assert len(blocks) >= 3 and any("agents.load(" in b for b in blocks)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for block in blocks:
        if "exported/cpnv" in block:
            continue  # the recurrent export snippet: run as written on a recurrent export by test_recurrent_export
        if "exported/cp/" in block and not (tmp_path / "exported" / "cp").exists():
            # The export section's snippets read README's `export_policy.py runs/cp --out exported/cp --format
            # all`; the run exported here is the one the first snippet trained. Exported by this process, which
            # has TensorFlow already: a process of its own added only its start-up (~7 CPU-seconds). tfpg-export
            # runs this same main(); test_installed runs the installed command.
            from agents.cli.export import main as export

            run, out = tmp_path / "runs" / "api-cartpole", tmp_path / "exported" / "cp"
            assert export([str(run), "--out", str(out), "--format", "all"]) == 0
        proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=1200)  # fmt: skip
        assert proc.returncode == 0, f"README block failed:\n{block}\n--- stderr:\n{proc.stderr[-3000:]}"
    summary = json.loads((tmp_path / "runs" / "api-cartpole" / "summary.json").read_text())
    assert summary["total_steps"] == 19_968  # 20,000 rounded down to whole 256-step rollouts
    callbacks = json.loads((tmp_path / "runs" / "callbacks" / "summary.json").read_text())
    assert callbacks["stop_reason"].startswith("every episode lasted 500 steps")


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    """A short observation-normalized Pendulum run (continuous actions: any input change shows in them)."""
    run_dir = tmp_path_factory.mktemp("runs") / "pendulum"
    result = agents.train("Pendulum-v1", run_dir=run_dir, progress=False, total_steps=512, normalize_obs=True,
                          num_envs=2, num_steps=128, minibatch_size=64, update_epochs=1, eval_episodes=2,
                          video=False, log_std_init=-1.0)  # fmt: skip
    return result


def raw_and_eval_observations(loaded, steps=30):
    """The same episode's observations raw and as the run's evaluation env feeds them to the policy."""
    config = loaded.config
    raw_config = dataclasses.replace(config, run=dataclasses.replace(config.run, normalize_obs=False))
    raw_env, eval_env = make_env(raw_config, 2, 123), make_env(config, 2, 123)
    from envs.wrappers import freeze_normalization, set_normalization_state

    set_normalization_state(eval_env, loaded.run.normalization.state())
    freeze_normalization(eval_env)
    raw, normalized = [], []
    try:
        obs_raw, _ = raw_env.reset(seed=123)
        obs_eval, _ = eval_env.reset(seed=123)
        rng = np.random.default_rng(0)
        for _ in range(steps):
            raw.append(obs_raw)
            normalized.append(obs_eval)
            actions = rng.uniform(-2, 2, size=(2, 1)).astype(np.float32)
            obs_raw, *_ = raw_env.step(actions)
            obs_eval, *_ = eval_env.step(actions)
    finally:
        raw_env.close()
        eval_env.close()
    return np.concatenate(raw), np.concatenate(normalized)


def test_predict_applies_the_eval_envs_normalization_with_the_checkpoints_statistics(pendulum):
    policy = agents.load(pendulum.run_dir)
    loaded = load_run(pendulum.run_dir)
    try:
        raw, normalized = raw_and_eval_observations(loaded)
        # The evaluation env's input is Gymnasium's formula over the checkpoint's statistics, clipped to ±10.
        reader = tf.train.load_checkpoint(policy.checkpoint)
        mean, var = (
            reader.get_tensor(f"normalization/obs_{k}/.ATTRIBUTES/VARIABLE_VALUE") for k in ("mean", "var")
        )
        np.testing.assert_allclose(
            normalized, np.clip((raw - mean) / np.sqrt(var + 1e-8), -10, 10), rtol=1e-5
        )
        assert np.abs(normalized - raw).max() > 0.1  # normalization does change the input
        expected = np.clip(loaded.run.policy.predict(normalized), -2.0, 2.0)
        np.testing.assert_array_equal(policy.predict(raw), expected)
    finally:
        loaded.close()


def test_predict_takes_one_observation_or_a_batch(pendulum):
    policy = agents.load(pendulum.run_dir / "best")
    batch = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -3.0], [-1.0, 0.0, 8.0]], np.float32)
    actions = policy.predict(batch)
    assert actions.shape == (3, 1) and policy.predict(batch[1]).shape == (1,)
    np.testing.assert_array_equal(policy.predict(batch[1]), actions[1])
    np.testing.assert_array_equal(policy.predict(batch[1].tolist()), actions[1])  # lists are fine too
    assert np.all(np.abs(actions) <= 2.0)  # clipped to the action bounds, as the env receives them
    with pytest.raises(ValueError, match="fits neither one observation"):
        policy.predict(np.zeros((2, 4), np.float32))
    policy.reset()  # a feed-forward policy has no state: nothing changes
    np.testing.assert_array_equal(policy.predict(batch), actions)


def test_evaluate_from_python_reproduces_the_runs_final_evaluation(pendulum):
    result = agents.evaluate(pendulum.run_dir)
    assert result["mean_return"] == pytest.approx(pendulum.summary["eval_mean_return"])
    assert result["episodes"] == pendulum.summary["eval_episodes"] == 2
    stochastic = agents.evaluate(agents.load(pendulum.run_dir), episodes=2, deterministic=False, seed=5)
    assert stochastic["episodes"] == 2 and stochastic["mean_return"] != result["mean_return"]


def test_train_refuses_bad_input_before_writing(tmp_path):
    from agents.config import ConfigError

    with pytest.raises(ConfigError, match="learning_rat"):
        agents.train("CartPole-v1", run_dir=tmp_path / "x", learning_rat=1e-3)
    assert not (tmp_path / "x").exists()

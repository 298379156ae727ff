"""A recurrent run end to end: train, resume, evaluate, and export a SavedModel stepped without tfpg."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gymnasium.wrappers.vector import NormalizeObservation

from agents.config import resolve_config
from agents.run.trainer import train
from envs.wrappers import freeze_normalization

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
STEPS, ENVS = 32, 4


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    values = {
        "recurrent": "lstm", "recurrent_size": 8, "num_envs": ENVS, "num_steps": STEPS,
        "minibatch_size": 2 * STEPS, "update_epochs": 2, "total_steps": 2 * ENVS * STEPS,
        "eval_episodes": 2, "normalize_obs": True, "seed": 4,
        # Neither XLA (the preset's jit_compile), histograms nor videos are tested here: each costs compile time.
        "jit_compile": False, "histogram_every": 0, "video": False,
    }  # fmt: skip
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    summary = train(resolve_config("ppo", "tfpg/CartPoleNoVel-v1", values), run_dir, progress=False)
    assert summary["eval_mean_return"] > 0
    return run_dir


def test_resume_and_evaluate_a_recurrent_run(run_dir):
    from agents.run.loading import evaluate_loaded, load_run

    config = json.loads((run_dir / "config.json").read_text())
    values = {**config["run"], **config["network"], **config["agent"], "total_steps": 3 * ENVS * STEPS}
    values = {k: v for k, v in values.items() if k not in ("algo", "env_id")}
    summary = train(
        resolve_config("ppo", "tfpg/CartPoleNoVel-v1", values), run_dir, progress=False, resume=True
    )
    assert summary["resumed_from_step"] == 2 * ENVS * STEPS and summary["total_steps"] == 3 * ENVS * STEPS
    loaded = load_run(run_dir)
    try:
        first, again = evaluate_loaded(loaded, episodes=3), evaluate_loaded(loaded, episodes=3)
        assert first["episodes"] == 3 and first["returns"] == again["returns"]  # fresh states each time
    finally:
        loaded.close()


def test_exported_recurrent_policy_steps_like_the_agent_without_tfpg(run_dir, tmp_path):
    import export_policy

    from agents.run.loading import load_run

    out = tmp_path / "policy"
    assert export_policy.main([str(run_dir), "--out", str(out)]) == 0
    rng = np.random.default_rng(0)
    raw = rng.normal(scale=0.1, size=(12, 3, 2)).astype(np.float32)  # [time, batch, obs]
    starts = np.zeros((12, 3), bool)
    starts[0], starts[5, 1] = True, True  # env 1 starts a new episode at step 5
    loaded = load_run(run_dir)
    try:
        policy, env = loaded.run.policy, loaded.run.env
        freeze_normalization(env)  # the checkpoint's statistics, unchanged by what follows
        while not isinstance(env, NormalizeObservation):
            env = env.env
        normalize = env.observations
        state, actions, values, states = policy.initial_state(3), [], [], []
        for t in range(len(raw)):
            obs = normalize(raw[t])
            values.append(policy.value(obs, state, starts[t]))
            action, state = policy.predict(obs, True, state=state, episode_start=starts[t])
            actions.append(action)
            states.append(state)
    finally:
        loaded.close()
    np.savez(tmp_path / "in.npz", raw=raw, starts=starts)
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf
        model = tf.saved_model.load({str(out)!r})
        data = np.load({str(tmp_path / "in.npz")!r})
        state = model.signatures["initial_state"](batch=tf.constant(3))["state"]
        actions, values, states = [], [], []
        for obs, start in zip(data["raw"], data["starts"]):
            values.append(model.signatures["value"](observations=obs, state=state, episode_start=start)["value"])
            out = model.signatures["serving_default"](observations=obs, state=state, episode_start=start)
            actions.append(out["actions"]); state = out["state"]; states.append(state)
        np.savez({str(tmp_path / "out.npz")!r}, actions=np.stack(actions), values=np.stack(values),
                 states=np.stack(states))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("agents", "networks", "envs", "gymnasium")))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"  # no tfpg module, no Gymnasium
    got = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(got["actions"], np.stack(actions))
    np.testing.assert_allclose(got["values"], np.stack(values), atol=1e-5)
    np.testing.assert_allclose(got["states"], np.stack(states), atol=1e-5)
    assert np.abs(np.stack(states)).max() > 1e-2  # the state is really carried
    info = json.loads((out / "tfpg_export.json").read_text())
    assert info["recurrent_state_size"] == 32 and "initial_state" in info["signatures"]


def test_readme_recurrent_export_snippet_runs_as_written(run_dir, tmp_path):
    """README's recurrent export block, as written, in a fresh process beside an export of this run."""
    import export_policy

    assert export_policy.main([str(run_dir), "--out", str(tmp_path / "exported" / "cpnv")]) == 0
    readme = (ROOT / "README.md").read_text()
    (block,) = [
        b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL) if "exported/cpnv" in b
    ]
    check = "\nassert action.shape == (1,) and state.shape == (1, 32), (action.shape, state.shape)\n"
    proc = subprocess.run([sys.executable, "-c", block + check], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_recurrent_policy_refuses_onnx_and_tflite_before_writing_anything(run_dir, tmp_path, capsys):
    import export_policy

    from agents.run.export import ExportInputError
    from agents.run.export import export_policy as export_library
    from agents.run.loading import load_run

    loaded = load_run(run_dir)
    try:  # refused whether or not the converters are installed: installing them would not help
        for formats in [("onnx",), ("tflite",), ("savedmodel", "onnx", "tflite")]:
            with pytest.raises(ExportInputError, match=r"SavedModel only.*--format savedmodel"):
                export_library(loaded.run, tmp_path / "lib", formats)
    finally:
        loaded.close()
    assert not (tmp_path / "lib").exists()
    for path in (run_dir, run_dir / "checkpoint"):  # said before the converters are looked for
        assert export_policy.main([str(path), "--out", str(tmp_path / "cli"), "--format", "all"]) == 2
        assert "recurrent=lstm" in capsys.readouterr().err and not (tmp_path / "cli").exists()


def test_the_python_api_carries_a_recurrent_state_between_calls(run_dir):
    """agents.load(run).predict steps the same envs call after call (state carried), fresh after reset()."""
    import agents

    policy = agents.load(run_dir)
    inner, raw = policy._policy, np.random.default_rng(1).normal(scale=0.1, size=(3, 2, 4)).astype(np.float32)
    state = None
    # [time, batch 2, obs 4]: LoadedPolicy takes the unwrapped CartPole's observations (its transform hides the
    # velocities as the env's own HideVelocityVector does; see the report of the recurrent merge).
    for t in range(3):
        starts = np.full(2, t == 0)
        expected, state = inner.predict(policy._normalize(raw[t]), True, state=state, episode_start=starts)
        np.testing.assert_array_equal(policy.predict(raw[t]), expected)
        np.testing.assert_allclose(policy._state, state, atol=1e-6)
    assert np.abs(state).max() > 1e-3
    policy.reset()
    expected, state = inner.predict(policy._normalize(raw[0]), True)
    np.testing.assert_array_equal(policy.predict(raw[0]), expected)
    np.testing.assert_allclose(policy._state, state, atol=1e-6)

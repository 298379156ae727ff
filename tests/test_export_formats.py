"""Exported SavedModel, ONNX and TFLite files, each run in its own runtime in a process without tfpg (issue 18).

Per action-space family and observation kind, a run is built without training, its weights and log-stds are
moved away from their initial values (so that actions really depend on the observation), and it is exported in
every format. One subprocess per runtime (TensorFlow; onnxruntime; LiteRT) runs every exported file on 100 real
raw observations with tfpg, Gymnasium (and, for ONNX/LiteRT, TensorFlow) blocked from import; the ONNX and TFLite
outputs must match the SavedModel's (discrete actions exactly; values and Box actions within 1e-5 relative to
max(1, |v|)), and the SavedModel's must match the agent's own policy. The issue's case, a default-preset
CartPole PPO run, is trained for one rollout and exported through the command line.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import VectorObservationWrapper, VectorWrapper

from agents.config import resolve_config
from agents.run.building import build_run
from agents.run.export import export_policy, sample_inputs
from agents.run.export_formats import FORMATS
from agents.run.trainer import train
from envs.testing import test_env_id
from envs.wrappers import freeze_normalization, set_normalization_state

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

# case -> (env id, config values); together they cover every action family, Dict and image observations,
# and baked-in observation normalization.
SMALL = {"num_envs": 2}
BUILT = {
    "vector-discrete": (test_env_id("vector", "discrete"), SMALL),
    "vector-multidiscrete": (test_env_id("vector", "multidiscrete"), SMALL),
    "dict-box": (test_env_id("dict", "box"), SMALL),
    "image-multibinary": (test_env_id("image", "multibinary"), SMALL),
    "cartpole-normalized": ("CartPole-v1", {"normalize_obs": True}),
}
CASES = [*BUILT, "cartpole-issue"]
N_OBS = 100
TOLERANCE = 1e-5  # the bound, relative to max(1, |v|); export itself checks 1e-4 (export_formats.py)

# Runs in a fresh interpreter (-I: no PYTHONPATH, no script directory on sys.path) whose import system refuses
# tfpg's packages, Gymnasium and the modules of the other runtimes, so the exported files must stand alone.
RUNNER = """
import importlib.abc, json, sys
from pathlib import Path
BLOCKED = {blocked}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} must not be needed to run an exported policy")
sys.meta_path.insert(0, Block())
import numpy as np
{setup}
for case_dir in map(Path, sys.argv[1:]):
    info = json.loads((case_dir / "{fmt}" / "tfpg_export.json").read_text())
    obs = np.load(case_dir / "obs.npz")
    feeds = {{i["name"]: obs[i["name"]] for i in info["inputs"]}}
    assert all(feeds[i["name"]].dtype.name == i["dtype"] for i in info["inputs"])
    out = run(case_dir / "{fmt}" / info["file"], feeds)
    np.savez(case_dir / "{fmt}.npz", **out)
print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""
SETUPS = {
    "savedmodel": """
import tensorflow as tf
def run(path, feeds):
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    return {k: v.numpy() for k, v in signature(**{k: tf.constant(v) for k, v in feeds.items()}).items()}
""",
    "onnx": """
import onnxruntime as ort
def run(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))
""",
    "tflite": """
from ai_edge_litert.interpreter import Interpreter
def run(path, feeds):
    return dict(Interpreter(model_path=str(path)).get_signature_runner("serving_default")(**feeds))
""",
}
TFPG = ["agents", "networks", "envs", "gymnasium"]
BLOCKED = {
    "savedmodel": TFPG,
    "onnx": [*TFPG, "tensorflow", "keras"],
    "tflite": [*TFPG, "tensorflow", "keras"],
}


def perturb(run, seed):
    """Weights and log-stds away from their initial values (policy logits start ~0.01, nearly tied); by about
    the size of a trained network's changes, not more (float32 runtimes' differences grow with weight size)."""
    rng = np.random.default_rng(seed)
    for var in run.policy.model.variables:
        var.assign(var.numpy() + rng.normal(0.0, 0.1, var.shape).astype(np.float32))
    state = run.normalization.state()
    if state:
        shape = state["obs_mean"].shape
        state = {**state, "obs_mean": rng.normal(0.0, 0.3, shape), "obs_var": rng.uniform(0.02, 2.0, shape)}
        set_normalization_state(run.env, state)
        run.normalization.assign(state)


def agent_outputs(run, feeds, inputs):
    """The in-process policy's deterministic actions and values on raw observations (normalized as in training)."""
    obs = {inp.path[0]: feeds[inp.name] for inp in inputs} if inputs[0].path else feeds["observations"]
    freeze_normalization(run.env)
    chain, env = [], run.env
    while isinstance(env, VectorWrapper):
        if isinstance(env, VectorObservationWrapper):
            chain.append(env)
        env = env.env
    for wrapper in reversed(chain):  # innermost first, as the env applies them
        obs = wrapper.observations(obs)
    actions, space = run.policy.predict(obs), run.policy.action_space
    if isinstance(space, gym.spaces.Box):  # the export hands the env clipped actions, as the env would clip
        actions = np.clip(actions, space.low, space.high)
    return actions, run.policy.value(obs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """case -> (directory with one subfolder per format and obs.npz, expected agent outputs)."""
    import export_policy as cli

    from agents.run.export_graph import export_inputs
    from agents.run.loading import load_run

    root = tmp_path_factory.mktemp("exports")
    cases = {}
    for i, (case, (env_id, values)) in enumerate(BUILT.items()):
        run = build_run(resolve_config("ppo", env_id, {"seed": i, **values}))
        try:
            perturb(run, seed=i)
            export_policy(run, root / case, FORMATS)
            inputs = export_inputs(run)
            feeds = sample_inputs(run, inputs, n=N_OBS, seed=100 + i)  # not the export's own check batch
            np.savez(root / case / "obs.npz", **feeds)
            cases[case] = agent_outputs(run, feeds, inputs)
        finally:
            run.close()
    # The run: the README's default CartPole PPO (no normalization), exported through the CLI.
    run_dir = root / "cartpole-run"
    train(
        resolve_config("ppo", "CartPole-v1", {"total_steps": 256, "eval_episodes": 1}),
        run_dir,
        progress=False,
    )
    assert cli.main([str(run_dir), "--out", str(root / "cartpole-issue"), "--format", "all"]) == 0
    loaded = load_run(run_dir)
    try:
        feeds = sample_inputs(loaded.run, export_inputs(loaded.run), n=N_OBS, seed=7)
        np.savez(root / "cartpole-issue" / "obs.npz", **feeds)
        cases["cartpole-issue"] = agent_outputs(loaded.run, feeds, export_inputs(loaded.run))
    finally:
        loaded.close()
    return root, cases


@pytest.fixture(scope="module")
def runtime_outputs(exported):
    """format -> case -> outputs of the exported file, computed in that format's own runtime in a subprocess."""
    root, cases = exported
    results = {}
    for fmt in FORMATS:
        script = RUNNER.format(blocked=BLOCKED[fmt], setup=SETUPS[fmt], fmt=fmt)
        proc = subprocess.run(
            [sys.executable, "-I", "-c", script, *(str(root / case) for case in cases)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=root,  # not the repository
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout  # none of the blocked modules loaded
        results[fmt] = {case: dict(np.load(root / case / f"{fmt}.npz")) for case in cases}
    return results


def assert_close(got, expected, what):
    expected = np.asarray(expected, np.float64)
    diff = np.abs(np.asarray(got, np.float64) - expected)
    assert np.all(diff <= TOLERANCE * np.maximum(1.0, np.abs(expected))), f"{what}: max diff {diff.max()}"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_exported_file_matches_the_saved_model_in_its_own_runtime(exported, runtime_outputs, fmt, case):
    reference = runtime_outputs["savedmodel"][case]
    got = runtime_outputs[fmt][case]
    assert set(got) == {"actions", "values"}
    assert got["actions"].shape[0] == got["values"].shape[0] == N_OBS
    assert np.isfinite(got["values"]).all()
    if got["actions"].dtype.kind == "f":  # Box: continuous actions, compared like values
        assert_close(got["actions"], reference["actions"], "actions")
    else:
        np.testing.assert_array_equal(got["actions"], reference["actions"])
        # a constant policy would prove little: the observations must change the actions
        assert len(np.unique(reference["actions"], axis=0)) > 1
    assert_close(got["values"], reference["values"], "values")
    if fmt == "savedmodel":  # and the SavedModel is the agent itself
        expected_actions, expected_values = exported[1][case]
        assert_close(got["actions"], expected_actions, "SavedModel vs agent actions")
        assert_close(got["values"], expected_values, "SavedModel vs agent values")


def test_export_json_names_inputs_outputs_and_what_each_format_leaves_out(exported):
    root, _ = exported
    for fmt in FORMATS:
        info = json.loads((root / "dict-box" / fmt / "tfpg_export.json").read_text())
        assert [i["name"] for i in info["inputs"]] == ["observations_features", "observations_flag"]
        assert [i["observation_key"] for i in info["inputs"]] == [["features"], ["flag"]]
        assert info["outputs"] == {
            "actions": {"shape": [None, 2], "dtype": "float32"},
            "values": {"shape": [None], "dtype": "float32"},
        }
        if fmt == "savedmodel":
            assert set(info["signatures"]) == {"serving_default", "sample", "value"}
        else:
            assert "sample" in info["omitted"] and info["verified_against_savedmodel"]["observations"] == 64
    info = json.loads((root / "cartpole-normalized" / "tflite" / "tfpg_export.json").read_text())
    assert info["observation_normalization_baked_in"] is True
    info = json.loads((root / "cartpole-issue" / "onnx" / "tfpg_export.json").read_text())
    assert info["checkpoint"].endswith("ckpt-256") and info["inputs"][0]["name"] == "observations"


def test_export_refuses_non_finite_weights_naming_the_variable(exported, tmp_path, capsys):
    import export_policy as cli

    from agents.run.loading import load_run

    run_dir = exported[0] / "cartpole-run"
    loaded = load_run(run_dir)
    try:
        kernel = next(
            v for v in loaded.run.policy.model.variables if v.path.endswith("value_mlp/linear_0/kernel")
        )
        values = kernel.numpy()
        values[0, 0] = np.nan
        kernel.assign(values)
        prefix = loaded.run.checkpoint.write(str(tmp_path / "diverged" / "ckpt-1"))
    finally:
        loaded.close()
    out = tmp_path / "policy"
    assert cli.main([str(run_dir), "--checkpoint", prefix, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "non-finite" in err and "value_mlp/linear_0/kernel (1 of 256 entries)" in err
    assert not out.exists() and not list(tmp_path.glob(".policy.tmp-*"))


def test_export_refuses_a_missing_converter_with_the_install_command(exported, tmp_path, capsys, monkeypatch):
    import export_policy as cli

    from agents.run import export_formats

    # A converter module that is really not installed (find_spec finds nothing), as on a machine without the extra.
    monkeypatch.setitem(export_formats.REQUIRED_MODULES, "tflite", ("tfpg_no_such_converter",))
    out = tmp_path / "policy"
    assert cli.main([str(exported[0] / "cartpole-run"), "--out", str(out), "--format", "all"]) == 2
    err = capsys.readouterr().err
    assert "tfpg_no_such_converter" in err and "pip install -e '.[export]'" in err
    assert not out.exists()

"""evaluate.py and export_policy.py on a short, real, observation-normalized CartPole run."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gymnasium.vector import VectorObservationWrapper, VectorWrapper

from agents.config import resolve_config
from agents.run.trainer import train
from envs.wrappers import freeze_normalization

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    values = {"total_steps": 1024, "eval_episodes": 2, "update_epochs": 2, "normalize_obs": True, "seed": 2}
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    train(resolve_config("ppo", "CartPole-v1", values), run_dir, progress=False)
    return run_dir


def raw_and_normalized(env, n=100):
    """n raw CartPole observations (random actions) and what the trained network saw for them."""
    freeze_normalization(env)  # the checkpoint's statistics, unchanged by these observations
    chain, inner = [], env
    while isinstance(inner, VectorWrapper):
        if isinstance(inner, VectorObservationWrapper):
            chain.append(inner)
        inner = inner.env
    raw = []
    obs, _ = inner.reset(seed=123)
    while len(raw) * inner.num_envs < n:
        raw.append(obs)
        obs, *_ = inner.step(inner.action_space.sample())
    raw = np.concatenate(raw)[:n].astype(np.float32)
    normalized = raw
    for wrapper in reversed(chain):  # innermost first, as the env applies them
        normalized = wrapper.observations(normalized)
    return raw, normalized


def test_exported_saved_model_matches_the_agent_in_a_process_without_tfpg(run_dir, tmp_path):
    import export_policy

    from agents.run.loading import load_run

    out = tmp_path / "policy"
    assert export_policy.main([str(run_dir), "--out", str(out)]) == 0
    loaded = load_run(run_dir)
    try:
        raw, normalized = raw_and_normalized(loaded.run.env)
        assert not np.allclose(raw, normalized)  # normalization is really in play
        expected_actions = loaded.run.policy.predict(normalized)
        expected_values = loaded.run.policy.value(normalized)
    finally:
        loaded.close()
    assert (
        len(set(expected_actions.tolist())) == 2
    )  # both actions occur: a constant policy would prove little
    np.save(tmp_path / "obs.npy", raw)
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf
        model = tf.saved_model.load({str(out)!r})
        obs = tf.constant(np.load({str(tmp_path / "obs.npy")!r}))
        det = model.signatures["serving_default"](observations=obs)["actions"].numpy()
        value = model.signatures["value"](observations=obs)["value"].numpy()
        sample = model.signatures["sample"](observations=obs)["actions"].numpy()
        np.savez({str(tmp_path / "out.npz")!r}, det=det, value=value, sample=sample)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("agents", "networks", "envs", "gymnasium")))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,  # not the repository: tfpg is not importable from here by accident
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"  # no tfpg (or Gymnasium) module was loaded
    got = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(got["det"], expected_actions)
    np.testing.assert_allclose(got["value"], expected_values, rtol=1e-5, atol=1e-6)
    assert set(got["sample"].tolist()) <= {0, 1} and got["sample"].shape == (100,)
    info = json.loads((out / "tfpg_export.json").read_text())
    assert info["observation_normalization_baked_in"] is True and info["env_id"] == "CartPole-v1"


def test_export_refuses_an_existing_output_directory(run_dir, tmp_path, capsys):
    import export_policy

    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert export_policy.main([str(run_dir), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_evaluate_json_reproduces_the_final_evaluation(run_dir, capsys):
    import evaluate

    summary = json.loads((run_dir / "summary.json").read_text())
    assert evaluate.main([str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"mean_return", "std_return", "mean_length", "episodes"}
    assert result["episodes"] == summary["eval_episodes"] == 2
    assert result["mean_return"] == pytest.approx(summary["eval_mean_return"])
    # a checkpoint path works too, and --stochastic / --seed / --episodes are honoured
    best = run_dir / summary["best_checkpoint"]
    assert evaluate.main([str(best), "--stochastic", "--seed", "3", "--episodes", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["episodes"] == 3


def test_evaluate_records_mp4_videos(run_dir, tmp_path, capsys):
    pytest.importorskip("moviepy")
    import evaluate

    video_dir = tmp_path / "videos"
    assert evaluate.main([str(run_dir), "--episodes", "2", "--video", str(video_dir), "--json"]) == 0
    videos = sorted(video_dir.glob("*.mp4"))
    assert len(videos) == 2 and all(v.stat().st_size > 1000 for v in videos)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["episodes"] == 2

"""Runs written before the agents/ restructuring (commit 71b6046) still load, act identically and resume.

``tests/data/runs-71b6046`` holds two tiny runs made by that commit's ``train_agent.py`` (PPO Pendulum with
observation normalization, A2C CartPole) and ``expected.json``: that code's deterministic actions and values on
fixed observations.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.run.loading import load_run

DATA = Path(__file__).parent / "data" / "runs-71b6046"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_checkpoints_act_as_they_did(name, tmp_path):
    run_dir = tmp_path / name
    shutil.copytree(DATA / name, run_dir)
    expected = EXPECTED[name]
    loaded = load_run(run_dir)
    try:
        obs = np.asarray(expected["observations"], np.float32)
        policy = loaded.run.policy
        np.testing.assert_allclose(policy.predict(obs), expected["actions"], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(policy.value(obs), expected["values"], rtol=1e-6, atol=1e-6)
        state = loaded.run.normalization.state()
        for key, value in expected["normalization"].items():
            np.testing.assert_allclose(state[key], value, rtol=1e-6)
    finally:
        loaded.close()


def test_an_old_run_resumes(tmp_path):
    run_dir = tmp_path / "a2c-cartpole"
    shutil.copytree(DATA / "a2c-cartpole", run_dir)
    train = Path(__file__).resolve().parents[1] / "scripts" / "train_agent.py"
    args = [sys.executable, str(train), "--resume", str(run_dir), "--total-steps", "1500", "--no-progress"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["resumed_from_step"] == 1000 and summary["total_steps"] == 1500

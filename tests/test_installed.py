"""The installed commands (``pip install -e .``) work from a directory outside the repository."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
COMMANDS = ("tfpg-train", "tfpg-evaluate", "tfpg-export", "tfpg-plot", "tfpg-tune")


def run(name: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    path = BIN / name
    assert path.exists(), (
        f"{path} is missing: install the package (pip install -e '.[dev]') to get the commands"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing but the installed package
    return subprocess.run([str(path), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("name", COMMANDS)
def test_help(name, tmp_path):
    proc = run(name, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "usage:" in proc.stdout


def test_train_evaluate_export_and_plot_outside_the_repo(tmp_path):
    proc = run("tfpg-train", "--total-steps", "1024", "--eval-episodes", "2", "--run-name", "outside",
               "--set", "video=false", "--no-progress", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "outside"  # the default --logdir, relative to where the command ran
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] == 1024 and summary["eval_episodes"] == 2
    proc = run("tfpg-evaluate", "runs/outside", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mean_return"] == summary["eval_mean_return"]
    proc = run("tfpg-export", "runs/outside", "--out", "exported", cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "exported" / "saved_model.pb").exists(), proc.stderr
    proc = run("tfpg-plot", "runs", "--tag", "eval/mean_return", "--out", "curves.png", cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "curves.png").stat().st_size > 1000, proc.stderr
    proc = run("tfpg-train", "--env", "no_such_module:Env-v0", cwd=tmp_path)
    assert proc.returncode == 2 and "no_such_module" in proc.stderr

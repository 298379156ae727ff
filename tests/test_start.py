"""A fast, quiet start: the CLI's help and config need no TensorFlow, and a default run prints no start-up noise."""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train_agent.py"
NOISE = ("cuInit", "oneDNN", "absl::InitializeLog", "XDG_RUNTIME_DIR", "cuda drivers", "cpu_feature_guard")


def test_config_imports_no_tensorflow():
    code = (
        "import sys, agents.config; print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_help_answers_within_two_seconds():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(TRAIN), "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    assert "--env" in out.stdout and "--verbose" in out.stdout
    assert out.stderr == ""
    assert elapsed < 2.0, f"--help took {elapsed:.2f} s"


def test_default_short_run_prints_no_start_up_noise(tmp_path):
    # With the default video on, CartPole renders frames through pygame/SDL: the XDG_RUNTIME_DIR case.
    args = ["--total-steps", "1024", "--eval-episodes", "1", "--logdir", str(tmp_path), "--run-name", "quiet"]
    out = subprocess.run([sys.executable, str(TRAIN), *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    console = out.stdout + out.stderr
    assert (tmp_path / "quiet" / "videos").is_dir()  # the run did render
    assert not [word for word in NOISE if word in console], console


def test_verbose_shows_them_again(tmp_path):
    args = ["--total-steps", "512", "--eval-episodes", "1", "--logdir", str(tmp_path), "--run-name", "loud"]
    args += ["--set", "video=false", "--set", "num_envs=2", "--set", "num_steps=256", "--verbose"]
    out = subprocess.run([sys.executable, str(TRAIN), *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert (
        "absl::InitializeLog" in out.stderr or "cuda" in out.stderr
    )  # what TensorFlow prints on this machine

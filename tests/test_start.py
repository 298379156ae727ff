"""A fast, quiet start: the CLI's help and config need no TensorFlow, and a default run prints no start-up noise."""

import os
import subprocess
import sys
import time
from pathlib import Path

from agents.run.console import wants_onednn
from envs.testing import test_env_id

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


ONEDNN_ON = "oneDNN custom operations are on"  # TensorFlow's import-time notice (a verbose import shows it)


def _import_notice(onednn: bool, env_value: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if env_value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = env_value
    code = (
        f"from agents.run.console import import_tensorflow; import_tensorflow(verbose=True, onednn={onednn})"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_onednn_is_turned_on_only_when_asked_and_the_user_has_not_chosen():
    # This machine's CPU (AVX2, no AVX-512) is one where TensorFlow leaves oneDNN off by itself.
    assert ONEDNN_ON in _import_notice(onednn=True, env_value=None)
    assert ONEDNN_ON not in _import_notice(onednn=False, env_value=None)
    assert ONEDNN_ON not in _import_notice(onednn=True, env_value="0")  # the user's choice wins


def test_wants_onednn_for_a_named_cnn_only():
    assert [wants_onednn(cnn) for cnn in ("nature", "minatar", "small", "auto")] == [True, True, True, False]


def test_train_imports_tensorflow_with_onednn_for_a_cnn_run(tmp_path):
    args = ["--env", test_env_id("image", "discrete"), "--total-steps", "64", "--eval-episodes", "1"]
    args += ["--logdir", str(tmp_path), "--set", "video=false", "--set", "num_envs=2"]
    args += ["--set", "num_steps=32", "--set", "minibatch_size=32"]
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    for cnn, expected in (("small", True), ("auto", False)):
        run = ["--run-name", cnn, "--set", f"cnn={cnn}", "--verbose"]
        out = subprocess.run(
            [sys.executable, str(TRAIN), *args, *run], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert (ONEDNN_ON in out.stderr) is expected, cnn
        resumed = ["--resume", str(tmp_path / cnn), "--total-steps", "128", "--verbose"]
        out = subprocess.run([sys.executable, str(TRAIN), *resumed], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert (ONEDNN_ON in out.stderr) is expected, f"{cnn}, resumed"

"""tf_threads sizes TensorFlow's intra-op pool in a fresh process, and says so when it cannot."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tensorflow as tf

from agents.config import ConfigError, resolve_config
from agents.run.building import set_op_threads

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import tensorflow as tf; from agents.run.building import set_op_threads; set_op_threads(1); "
    "tf.constant(1.0) + 1.0; print('threads', tf.config.threading.get_intra_op_parallelism_threads())"
)


def test_a_fresh_process_gets_the_asked_threads():
    environ = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("threads")[-1].strip() == "1"


def test_after_the_first_op_the_setting_warns_instead_of_failing_and_the_environment_wins(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    tf.constant(1.0) + 1.0  # this process's TensorFlow is initialized now
    current = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.warns(UserWarning, match="not applied"):
        set_op_threads(current + 3)
    assert tf.config.threading.get_intra_op_parallelism_threads() == current
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")  # the user's choice: left alone, nothing to warn about
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        set_op_threads(current + 3)


def test_negative_threads_are_a_config_error():
    with pytest.raises(ConfigError, match="tf_threads"):
        resolve_config("ppo", "CartPole-v1", {"tf_threads": -1})

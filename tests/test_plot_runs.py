"""plot_runs.py and time_shares.py on real runs: what they report equals what the event files hold."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.run.trainer import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import plot_runs

TAG = "train/value_loss"


def events_by_hand(run_dir: Path, tag: str) -> tuple[list[int], list[float]]:
    """Independent reader: raw tf.Event protos, no TensorBoard code."""
    points = []
    for path in run_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    points.append((event.step, float(tf.make_ndarray(value.tensor))))
    points.sort()
    return [s for s, _ in points], [v for _, v in points]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        values = {"seed": seed, "total_steps": 1024, "eval_episodes": 1, "update_epochs": 1}
        train(resolve_config("ppo", "CartPole-v1", values), logdir / f"s{seed}", progress=False)
    return logdir


def test_plot_writes_png_with_event_file_data(two_runs, tmp_path):
    out, data_file = tmp_path / "curves.png", tmp_path / "curves.json"
    assert plot_runs.main([str(two_runs), "--tag", TAG, "--out", str(out), "--data", str(data_file)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    data = json.loads(data_file.read_text())["CartPole-v1/ppo"]
    expected = {str(two_runs / f"s{seed}"): events_by_hand(two_runs / f"s{seed}", TAG) for seed in (0, 1)}
    assert {k: tuple(v) for k, v in data["runs"].items()} == {
        k: (list(s), list(v)) for k, (s, v) in expected.items()
    }
    assert data["steps"] == list(range(256, 1025, 256))
    runs = np.array([v for _, v in expected.values()])
    np.testing.assert_allclose(data["mean"], runs.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(data["std"], runs.std(axis=0), rtol=1e-6, atol=1e-9)


def test_missing_tag_or_dir_is_a_clear_error(two_runs, tmp_path, capsys):
    assert plot_runs.main([str(two_runs), "--tag", "no/such_tag", "--out", str(tmp_path / "x.png")]) == 2
    assert "no run under" in capsys.readouterr().err
    assert plot_runs.main([str(tmp_path / "missing"), "--out", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_time_shares_add_up_to_the_runs_own_timers(two_runs):
    from benchmarks import time_shares

    run_dir = two_runs / "s0"
    seconds = time_shares.time_shares(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    _, updates = events_by_hand(run_dir, "time/update_s")
    _, collects = events_by_hand(run_dir, "time/collect_s")
    assert seconds["update"] == pytest.approx(sum(updates), rel=1e-6)  # log_every 1: every update is logged
    phases = ("acting", "env stepping", "other collection")
    assert sum(seconds[p] for p in phases) == pytest.approx(sum(collects), rel=1e-6)
    assert all(seconds[p] > 0 for p in (*phases, "update", "logging"))
    assert seconds["train time"] == summary["train_time_s"]
    assert 0 <= seconds["rest"] < seconds["train time"]  # the phases were timed inside the training time

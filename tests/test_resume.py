"""Runs that survive anything, as a user meets them: Ctrl-C, kill -9, --resume, bad input, determinism.

One real CartPole run goes through its whole life in the module fixture: started, stopped by SIGINT (graceful:
exit 130, checkpoint saved), resumed, killed with SIGKILL in the middle of training (possibly during a save),
resumed again to the end. The tests then check its files, its TensorBoard curves and its checkpoints.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train_agent.py"
sys.path.insert(0, str(ROOT / "scripts"))  # the scripts' main() functions are called in-process too
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
TOTAL, ROLLOUT = 4096, 256  # 8 envs x 32 steps per rollout (CartPole preset)
LR0 = 1e-3  # CartPole preset, annealed linearly to 0 over TOTAL


def start(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TRAIN), "--no-progress", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def latest_step(run_dir: Path) -> int:
    pointer = run_dir / "checkpoint" / "checkpoint"
    match = (
        re.search(r'model_checkpoint_path: "ckpt-(\d+)"', pointer.read_text()) if pointer.exists() else None
    )
    return int(match.group(1)) if match else -1


def wait_for_checkpoint_after(proc: subprocess.Popen, run_dir: Path, step: int, timeout=120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if latest_step(run_dir) > step:
            return latest_step(run_dir)
        time.sleep(0.05)
    raise TimeoutError(f"no checkpoint after step {step} in {timeout}s")


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    run_dir = logdir / "life"
    first = start(
        "--total-steps", str(TOTAL), "--checkpoint-every", "512", "--eval-every", "1024", "--eval-episodes", "4",
        "--seed", "1", "--logdir", str(logdir), "--run-name", "life",
        "--set", "update_epochs=2", "--set", "normalize_obs=true",
    )  # fmt: skip
    wait_for_checkpoint_after(first, run_dir, 0)
    first.send_signal(signal.SIGINT)
    out1, err1 = first.communicate(timeout=120)
    summary1 = json.loads((run_dir / "summary.json").read_text())

    second = start("--resume", str(run_dir))
    killed_after = wait_for_checkpoint_after(second, run_dir, summary1["total_steps"] + 512)
    second.kill()  # SIGKILL: no handler, no cleanup, possibly in the middle of a save
    second.communicate(timeout=60)

    third = start("--resume", str(run_dir))
    out3, err3 = third.communicate(timeout=300)
    return {
        "run_dir": run_dir,
        "first": (first.returncode, out1, err1, summary1),
        "killed_after": killed_after,
        "third": (third.returncode, out3, err3),
    }


def test_sigint_saves_a_checkpoint_marks_the_summary_and_exits_nonzero(lifecycle):
    returncode, _out, err, summary = lifecycle["first"]
    assert returncode == 130, err
    assert summary["interrupted"] is True and summary["signal"] == "SIGINT"
    assert summary["checkpoint"] == f"checkpoint/ckpt-{summary['total_steps']}"
    assert 0 < summary["total_steps"] < TOTAL and summary["total_steps"] % ROLLOUT == 0
    assert f"--resume {lifecycle['run_dir']}" in err  # tells the user how to go on


def test_resume_after_kill_finishes_with_continuous_curves_and_schedules(lifecycle):
    returncode, _out, err = lifecycle["third"]
    run_dir = lifecycle["run_dir"]
    assert returncode == 0, err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] == TOTAL and summary["interrupted"] is False
    assert summary["resumed_from_step"] >= lifecycle["killed_after"] > lifecycle["first"][3]["total_steps"]
    # Three processes wrote events; every rollout's step appears exactly once (no gap, no overlap).
    lr = scalars(run_dir, "train/learning_rate")
    assert [step for step, _ in lr] == list(range(ROLLOUT, TOTAL + 1, ROLLOUT))
    # The annealed learning rate continued where it stopped: lr = LR0 * (1 - steps_before_update / TOTAL).
    np.testing.assert_allclose(
        [v for _, v in lr], [LR0 * (1 - (s - ROLLOUT) / TOTAL) for s, _ in lr], rtol=1e-5
    )
    # Every periodic evaluation once, in order; the one due at the step where SIGINT stopped the first process
    # may be missing (a signal cuts an evaluation short and it is not a point of the curve; the resumed run
    # starts after it).
    evals = [s for s, _ in scalars(run_dir, "eval/mean_return")]
    stopped_at = lifecycle["first"][3]["total_steps"]
    assert evals in (
        list(range(1024, TOTAL + 1, 1024)),
        [s for s in range(1024, TOTAL + 1, 1024) if s != stopped_at],
    )
    config = json.loads((run_dir / "config.json").read_text())
    assert len(config["resume_commands"]) == 2 and config["run"]["total_steps"] == TOTAL


def test_final_checkpoint_loads_and_acts(lifecycle):
    from agents.run.loading import load_run

    loaded = load_run(lifecycle["run_dir"])
    try:
        assert loaded.checkpoint.endswith(f"ckpt-{TOTAL}")
        assert int(loaded.run.counters["env_steps"].numpy()) == TOTAL
        assert int(loaded.run.counters["updates"].numpy()) == TOTAL // ROLLOUT
        assert loaded.run.normalization.state()["obs_count"] > TOTAL  # statistics kept growing across resumes
        actions = loaded.run.policy.predict(np.zeros((3, 4), np.float32))
        assert actions.shape == (3,) and set(actions.tolist()) <= {0, 1}
    finally:
        loaded.close()
    kept = sorted(p.name for p in (lifecycle["run_dir"] / "checkpoint").glob("*.index"))
    assert kept == [f"ckpt-{s}.index" for s in (TOTAL - 1024, TOTAL - 512, TOTAL)]  # keep_checkpoints=3


def test_best_model_carries_its_normalization_statistics(lifecycle):
    """evaluate.py on the best checkpoint reproduces the eval return logged when it was saved."""
    import tensorflow as tf

    from agents.run.loading import evaluate_loaded, load_run

    run_dir = lifecycle["run_dir"]
    best = json.loads((run_dir / "best" / "best.json").read_text())
    logged = dict(scalars(run_dir, "eval/mean_return"))
    assert best["mean_return"] == pytest.approx(logged[best["step"]]) == max(logged.values())
    key = "normalization/obs_count/.ATTRIBUTES/VARIABLE_VALUE"
    best_count = tf.train.load_checkpoint(str(run_dir / best["checkpoint"])).get_tensor(key)
    if best["step"] != TOTAL:  # the best model's statistics are its own, not the final ones
        assert best_count < tf.train.load_checkpoint(str(run_dir / f"checkpoint/ckpt-{TOTAL}")).get_tensor(
            key
        )
    loaded = load_run(run_dir, "best")
    try:
        result = evaluate_loaded(loaded)
    finally:
        loaded.close()
    assert result["episodes"] == 4
    assert result["mean_return"] == pytest.approx(best["mean_return"], abs=1e-6)


def test_deterministic_ops_runs_write_identical_scalars(tmp_path):
    args = ["--total-steps", "768", "--eval-episodes", "2", "--seed", "5", "--deterministic-ops",
            "--set", "update_epochs=2", "--logdir", str(tmp_path)]  # fmt: skip
    procs = [start(*args, "--run-name", name) for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    acc = {}
    for name in ("a", "b"):
        acc[name] = EventAccumulator(str(tmp_path / name), size_guidance={"tensors": 0})
        acc[name].Reload()
    tags = [t for t in acc["a"].Tags()["tensors"] if t.startswith(("train/", "rollout/", "eval/"))]
    assert "train/policy_loss" in tags and "eval/mean_return" in tags
    for tag in tags:
        a = [(e.step, e.tensor_proto.SerializeToString()) for e in acc["a"].Tensors(tag)]
        b = [(e.step, e.tensor_proto.SerializeToString()) for e in acc["b"].Tensors(tag)]
        assert a == b, tag
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["run"]["deterministic_ops"] is True


def test_resume_of_a_missing_run_dir_exits_2(tmp_path, capsys):
    import train_agent

    assert train_agent.main(["--resume", str(tmp_path / "nope")]) == 2
    assert f"Run directory {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.fixture
def finished_copy(lifecycle, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(lifecycle["run_dir"], copy)
    return copy


def snapshot(path: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _corrupt_data(run_dir):
    for data in (run_dir / "checkpoint").glob(f"ckpt-{TOTAL}.data-*"):
        raw = bytearray(data.read_bytes())
        raw[100:200] = bytes(100)
        data.write_bytes(bytes(raw))


def _edit_config(run_dir, part, field, value):
    config = json.loads((run_dir / "config.json").read_text())
    config[part][field] = value
    (run_dir / "config.json").write_text(json.dumps(config))


BAD_INPUTS = {
    "missing checkpoint": (lambda d: shutil.rmtree(d / "checkpoint"), "No latest checkpoint in"),
    "corrupt checkpoint": (_corrupt_data, "is unreadable or corrupt"),
    "other network shape": (
        lambda d: _edit_config(d, "network", "hidden_sizes", [8]),
        r"different run \(network: checkpoint has",
    ),
    "other env": (
        lambda d: _edit_config(d, "run", "env_id", "Acrobot-v1"),
        "env_id: checkpoint has 'CartPole-v1', this run has 'Acrobot-v1'",
    ),
    "other algo": (
        lambda d: _edit_config(d, "run", "algo", "nope"),
        "config.json cannot be read",
    ),
    "unreadable config.json": (
        lambda d: (d / "config.json").write_text("{not json"),
        "config.json cannot be read",
    ),
    "missing config.json": (
        lambda d: (d / "config.json").unlink(),
        "config.json is missing|No config.json in",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_a_clear_error_exit_2_and_changes_nothing(finished_copy, case, capsys):
    """Resume (train_agent.py), evaluate.py and export_policy.py, in-process through their main()."""
    import evaluate
    import export_policy
    import train_agent

    damage, message = BAD_INPUTS[case]
    damage(finished_copy)
    before = snapshot(finished_copy)
    out_dir = finished_copy.parent / "export"
    commands = [
        (
            train_agent.main,
            ["--no-progress", "--resume", str(finished_copy), "--total-steps", str(2 * TOTAL)],
        ),
        (evaluate.main, [str(finished_copy), "--episodes", "1"]),
        (export_policy.main, [str(finished_copy), "--out", str(out_dir)]),
    ]
    for main, argv in commands:
        assert main(argv) == 2, (main.__module__, case)
        err = capsys.readouterr().err
        assert re.search(message, err), (main.__module__, err)
        assert snapshot(finished_copy) == before, main.__module__
    assert not out_dir.exists()


def test_unsafe_override_on_resume_is_refused(finished_copy, capsys):
    import train_agent

    before = snapshot(finished_copy)
    argv = ["--resume", str(finished_copy), "--set", "learning_rate=0.5", "--num-envs", "2"]
    assert train_agent.main(argv) == 2
    err = capsys.readouterr().err
    assert "Cannot change num_envs (saved 8, given 2), learning_rate (saved 0.001, given 0.5)" in err
    assert snapshot(finished_copy) == before

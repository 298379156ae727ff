"""Your own envs: ``--env module:EnvId`` + ``--env-kwargs`` + ``--wrapper`` train, evaluate, export and resume;
what cannot be imported is exit 2 naming the module; a failing render never loses a run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from agents.cli import evaluate as evaluate_cli
from agents.cli import export as export_cli
from agents.cli import train as train_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
SMALL = ["--set", "num_envs=2", "--set", "num_steps=64", "--set", "minibatch_size=64", "--set", "video=false"]
ENV_ARGS = [
    "--env",
    "my_envs:GoRight-v0",
    "--env-kwargs",
    "size=4",
    "--wrapper",
    "my_envs:ScaleReward",
    "scale=0.5",
]


def files(path: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def fresh_process(*args, cwd):
    """A command in a new Python process (nothing imported or registered, no PYTHONPATH), from ``cwd``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def go_right(tmp_path_factory):
    """A PPO run on docs/examples/my_envs.py's GoRight with its ScaleReward wrapper, through tfpg-train's main."""
    logdir = tmp_path_factory.mktemp("runs")
    sys.path.insert(0, str(EXAMPLES))
    args = [*ENV_ARGS, *SMALL, "--total-steps", "2048", "--eval-episodes", "4", "--no-progress"]
    assert train_cli.main([*args, "--logdir", str(logdir), "--run-name", "go"]) == 0
    return logdir / "go"


def test_module_env_kwargs_and_wrapper_are_recorded_and_applied(go_right):
    config = json.loads((go_right / "config.json").read_text())["run"]
    assert config["env_id"] == "my_envs:GoRight-v0" and config["env_kwargs"] == {"size": 4}
    assert config["wrappers"] == [{"entry_point": "my_envs:ScaleReward", "kwargs": {"scale": 0.5}}]
    assert config["vectorization"] == "auto"  # made sync by the wrapper (a native vector env cannot wrap)
    summary = json.loads((go_right / "summary.json").read_text())
    # The learned policy walks right: every episode's return is the goal's 1, scaled by the wrapper to 0.5.
    assert summary["eval_mean_return"] == 0.5 and summary["eval_mean_length"] == 3.0  # size=4: three steps


def test_evaluate_and_export_rebuild_the_same_env(go_right, tmp_path, capsys):
    assert evaluate_cli.main([str(go_right), "--episodes", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result.items() >= {
        "mean_return": 0.5, "std_return": 0.0, "mean_length": 3.0, "episodes": 4, "capped_episodes": 0
    }.items()  # fmt: skip
    assert export_cli.main([str(go_right), "--out", str(tmp_path / "saved")]) == 0
    import tensorflow as tf

    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    actions = serve(observations=tf.constant([[0.0], [1 / 3], [2 / 3]], tf.float32))["actions"].numpy()
    assert actions.tolist() == [1, 1, 1]  # right, from every cell


def test_resume_keeps_the_env_and_refuses_another_wrapper(go_right, capsys):
    resumed = ["--resume", str(go_right), "--total-steps", "2304", "--no-progress"]
    before = files(go_right)
    assert train_cli.main([*resumed, "--wrapper", "my_envs:ScaleReward", "scale=2"]) == 2
    assert "wrappers" in capsys.readouterr().err and files(go_right) == before
    assert train_cli.main(resumed) == 0
    summary = json.loads((go_right / "summary.json").read_text())
    assert summary["resumed_from_step"] == 2048 and summary["total_steps"] == 2304
    assert summary["eval_mean_return"] == 0.5  # still the scaled env


@pytest.mark.parametrize(
    "args, says",
    [
        (["--env", "no_such_module:GoRight-v0"], ["'no_such_module'", "--env no_such_module:GoRight-v0", "PYTHONPATH"]),
        (["--env", "my_envs:GoLeft-v0"], ["registered no env 'GoLeft-v0'"]),
        (["--env", "my_envs:GoRight-v0", "--wrapper", "no_such_wrappers:Scale"], ["'no_such_wrappers'", "PYTHONPATH"]),
        (["--env", "my_envs:GoRight-v0", "--wrapper", "my_envs:NoSuchWrapper"], ["no attribute 'NoSuchWrapper'"]),
        (["--env", "GoNowhere-v0"], ["--env your_module:YourEnv-v0"]),
    ],
)  # fmt: skip
def test_what_cannot_be_imported_is_exit_2_naming_it(args, says, tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    assert (
        train_cli.main([*args, *SMALL, "--logdir", str(tmp_path), "--run-name", "bad", "--no-progress"]) == 2
    )
    err = capsys.readouterr().err
    assert all(text in err for text in says), err
    assert not any(tmp_path.iterdir())  # nothing written


def test_evaluate_without_the_env_module_is_exit_2_saying_what_to_set(go_right, tmp_path):
    proc = fresh_process(str(ROOT / "scripts" / "evaluate.py"), str(go_right), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Cannot import module 'my_envs'" in proc.stderr and "PYTHONPATH" in proc.stderr
    assert "Traceback" not in proc.stderr  # with the module importable it evaluates: the test above


@pytest.fixture(scope="module")
def broken_render_run(tmp_path_factory):
    """An env registered from Python (no module in its id) that lists rgb_array but whose render() raises."""
    from user_env_fixtures import BrokenRender

    import agents

    gymnasium.register(id="TfpgTestBrokenRender-v0", entry_point=BrokenRender, max_episode_steps=8)
    run_dir = tmp_path_factory.mktemp("runs") / "broken"
    values = {"num_envs": 2, "num_steps": 32, "minibatch_size": 32, "update_epochs": 2, "eval_episodes": 2}
    result = agents.train("TfpgTestBrokenRender-v0", run_dir=run_dir, total_steps=640, eval_every=128,
                          video=True, progress=False, **values)  # fmt: skip
    return result


def test_a_failing_render_is_a_warning_and_the_run_completes(broken_render_run, capfd):
    run_dir, summary = broken_render_run.run_dir, broken_render_run.summary
    assert summary["total_steps"] == 640 and summary["eval_episodes"] == 2 and not summary["interrupted"]
    assert (run_dir / "summary.json").exists() and (run_dir / "best" / "best.json").exists()
    assert summary["checkpoint"] == "checkpoint/ckpt-640"
    assert not (run_dir / "videos").exists()


def test_the_render_warning_is_printed_once(tmp_path, capfd):
    import agents

    values = {"num_envs": 2, "num_steps": 32, "minibatch_size": 32, "update_epochs": 1, "eval_episodes": 1}
    agents.train("user_env_fixtures:BrokenRender-v0", run_dir=tmp_path / "r", total_steps=256, eval_every=64,
                 video=True, progress=False, **values)  # fmt: skip
    err = capfd.readouterr().err
    assert err.count("warning: no evaluation video") == 1, err
    assert "this env draws nothing" in err and (tmp_path / "r" / "summary.json").exists()


def test_evaluating_a_python_registered_env_elsewhere_says_why(broken_render_run, tmp_path):
    proc = fresh_process(str(ROOT / "scripts" / "evaluate.py"), str(broken_render_run.run_dir), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "registered 'TfpgTestBrokenRender-v0' from Python" in proc.stderr
    assert "--env your_module:TfpgTestBrokenRender-v0" in proc.stderr


def test_wrapper_factories_apply_kwargs_to_every_sub_env(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from envs.make import make_vector_env
    from envs.user import wrapper_factories

    wrappers = wrapper_factories([{"entry_point": "my_envs:ScaleReward", "kwargs": {"scale": 0.25}}])
    env = make_vector_env("my_envs:GoRight-v0", 3, seed=0, env_kwargs={"size": 2}, wrappers=wrappers)
    try:
        env.reset(seed=0)
        _, rewards, terminated, _, _ = env.step(np.ones(3, np.int64))  # size 2: one step right is the goal
        assert rewards.tolist() == [0.25, 0.25, 0.25] and terminated.all()
    finally:
        env.close()

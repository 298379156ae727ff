"""Issue 19, item 3: every bad input of the audit's table is refused before anything is written.

Each case calls a script's ``main()`` in-process and checks: exit code 2, a message naming what was wrong
and the accepted range, and no file created, changed or removed (new runs: the log directory stays as it
was; existing runs: every file byte-identical; exports: no output directory).
"""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from agents.config import resolve_config
from agents.run.trainer import train

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import evaluate  # noqa: E402
import export_policy  # noqa: E402
import train_agent  # noqa: E402

# (argv for train_agent.py, regex the error must match). --logdir/--run-name are added unless given.
NEW_RUN_CASES = {
    "empty env id": (["--env", ""], r"'env_id' must be a Gymnasium env id.*got ''"),
    "zero budget": (["--total-steps", "0"], r"'total_steps' must be an integer >= 1; got 0"),
    "negative budget": (["--total-steps", "-5"], r"'total_steps' must be an integer >= 1; got -5"),
    "budget below one rollout": (
        ["--total-steps", "100"],
        r"total_steps=100 is less than one rollout.*= 256",
    ),
    "zero envs": (["--num-envs", "0"], r"'num_envs' must be an integer in \[1, 4096\]; got 0"),
    "100k envs": (["--num-envs", "100000"], r"'num_envs' must be an integer in \[1, 4096\]; got 100000"),
    "zero rollout": (["--set", "num_steps=0"], r"'num_steps' must be an integer >= 1; got 0"),
    "zero-width layer": (["--set", "hidden_sizes=[0]"], r"'hidden_sizes' must be a list of layer widths"),
    "fractional layer": (["--set", "hidden_sizes=[1.5]"], r"'hidden_sizes' must be .*got \[1.5\]"),
    "zero learning rate": (["--set", "learning_rate=0"], r"'learning_rate' must be a finite number > 0"),
    "negative learning rate": (["--set", "learning_rate=-1e-3"], r"'learning_rate' must be a finite number"),
    "NaN learning rate": (
        ["--set", "learning_rate=.nan"],
        r"'learning_rate' must be a finite number > 0; got nan",
    ),
    "gamma 0": (["--set", "gamma=0"], r"'gamma' must be a finite number in \(0.0, 1.0\]; got 0.0"),
    "gamma above 1": (["--set", "gamma=1.5"], r"'gamma' must be a finite number in \(0.0, 1.0\]; got 1.5"),
    "zero clip range": (["--set", "clip_range=0"], r"'clip_range' must be a finite number > 0"),
    "zero epochs": (["--set", "update_epochs=0"], r"'update_epochs' must be an integer >= 1; got 0"),
    "zero eval episodes": (["--eval-episodes", "0"], r"'eval_episodes' must be an integer >= 1; got 0"),
    "zero eval envs": (["--set", "eval_envs=0"], r"'eval_envs' must be an integer in \[1, 4096\]; got 0"),
    "algo through --set": (["--set", "algo=a2c"], r"algo is chosen with --algo, not --set algo=a2c"),
    "unknown env kwarg": (["--set", "env_kwargs={foo: 1}"], r"cannot be made with env_kwargs \{'foo': 1\}"),
    "run name escaping": (
        ["--run-name", "../../x"],
        r"--run-name '../../x' must be a plain name inside --logdir",
    ),
    "absolute run name": (["--run-name", "/tmp/tfpg-x"], r"must be a plain name inside --logdir"),
    "logdir is a file": (["--logdir", "{tmp}/afile"], r"--logdir .*afile is a file, not a directory"),
    "read-only logdir": (["--logdir", "/proc/tfpg-x"], r"--logdir /proc/tfpg-x cannot be written"),
}


def snapshot(path: Path) -> dict:
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(path.rglob("*"))}


@pytest.mark.parametrize("case", sorted(NEW_RUN_CASES))
def test_new_run_bad_input_exit_2_and_nothing_written(case, tmp_path, capsys):
    argv, message = NEW_RUN_CASES[case]
    (tmp_path / "afile").write_text("not a directory")
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if "--logdir" not in argv:
        argv += ["--logdir", str(tmp_path / "runs")]
    if "--run-name" not in argv:
        argv += ["--run-name", "run"]
    before = snapshot(tmp_path)
    assert train_agent.main(["--no-progress", *argv]) == 2, case
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert snapshot(tmp_path) == before
    assert not Path("/proc/tfpg-x").exists() and not Path("/tmp/tfpg-x").exists()


# --- existing runs: resume, evaluate.py, export_policy.py ---------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    values = {"total_steps": 512, "eval_episodes": 1, "update_epochs": 1, "video": False}
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    train(resolve_config("ppo", "CartPole-v1", values), run_dir, progress=False)
    return run_dir


@pytest.fixture
def run_copy(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def _edit_config(run_dir, part, field, value):
    config = json.loads((run_dir / "config.json").read_text())
    config[part][field] = value
    (run_dir / "config.json").write_text(json.dumps(config))


def _truncate_data(run_dir):
    for data in (run_dir / "checkpoint").glob("ckpt-512.data-*"):
        data.write_bytes(b"")


def _garbage_pointer(run_dir):
    (run_dir / "checkpoint" / "checkpoint").write_bytes(b"\xff\xfe\x00garbage\x81")


RUN_CASES = {  # damage to the run, which tools to try, the error they must print
    "0-byte .data file": (
        _truncate_data,
        "resume evaluate export",
        r"unreadable or corrupt \(Read less bytes",
    ),
    "garbage pointer file": (_garbage_pointer, "resume evaluate export", r"pointer file .* is unreadable"),
    "env module not importable": (
        lambda d: _edit_config(d, "run", "env_id", "no_such_module:Thing-v0"),
        "evaluate export",
        r"Cannot rebuild the (env of )?run .*no_such_module",
    ),
    "zero-width layer in config.json": (
        lambda d: _edit_config(d, "network", "hidden_sizes", [0]),
        "resume evaluate export",
        r"config.json cannot be read: Config field 'hidden_sizes' must be",
    ),
    "NaN learning rate in config.json": (
        lambda d: _edit_config(d, "agent", "learning_rate", float("nan")),
        "resume evaluate export",
        r"'learning_rate' must be a finite number > 0; got nan",
    ),
}


def _commands(run_dir: Path, tools: str):
    out = run_dir.parent / "export"
    all_commands = {
        "resume": (train_agent.main, ["--no-progress", "--resume", str(run_dir), "--total-steps", "1024"]),
        "evaluate": (evaluate.main, [str(run_dir), "--episodes", "1"]),
        "export": (export_policy.main, [str(run_dir), "--out", str(out)]),
    }
    return [all_commands[tool] for tool in tools.split()]


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_damaged_run_exit_2_and_unchanged(case, run_copy, capsys):
    damage, tools, message = RUN_CASES[case]
    damage(run_copy)
    before = snapshot(run_copy.parent)
    for main, argv in _commands(run_copy, tools):
        assert main(argv) == 2, (case, main.__module__)
        err = capsys.readouterr().err
        assert re.search(message, err), (main.__module__, err)
        assert snapshot(run_copy.parent) == before, main.__module__


TOOL_CASES = {
    "evaluate --num-envs 0": (
        evaluate.main,
        ["--num-envs", "0"],
        r"--num-envs must be in \[1, 4096\], got 0",
    ),
    "evaluate --num-envs -3": (
        evaluate.main,
        ["--num-envs", "-3"],
        r"--num-envs must be in \[1, 4096\], got -3",
    ),
    "evaluate --max-episode-steps 0": (evaluate.main, ["--max-episode-steps", "0"], r"at least 1, got 0"),
    "export --out /proc/x": (
        export_policy.main,
        ["--out", "/proc/tfpg-x"],
        r"--out /proc/tfpg-x cannot be written",
    ),
    "resume --set eval_envs=0": (
        train_agent.main,
        ["--no-progress", "--resume", "{run}", "--set", "eval_envs=0"],
        r"'eval_envs' must be an integer in \[1, 4096\]; got 0\. Nothing was changed",
    ),
    "resume --total-steps 0": (
        train_agent.main,
        ["--no-progress", "--resume", "{run}", "--total-steps", "0"],
        r"'total_steps' must be an integer >= 1; got 0\. Nothing was changed",
    ),
}


@pytest.mark.parametrize("case", sorted(TOOL_CASES))
def test_bad_tool_flags_exit_2_and_unchanged(case, run_copy, capsys):
    main, argv, message = TOOL_CASES[case]
    argv = [arg.replace("{run}", str(run_copy)) for arg in argv]
    if main is not train_agent.main:
        argv = [str(run_copy), *argv]
    before = snapshot(run_copy.parent)
    assert main(argv) == 2, case
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert snapshot(run_copy.parent) == before

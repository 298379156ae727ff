"""benchmarks/benchmark.py as a user runs it: parallel real runs, table rows, an error row, a curve PNG."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "benchmark.py"
# No videos: recording the final evaluation (pygame frames, an MP4 through moviepy) cost each run ~2 s of its
# ~4 s in train_agent.py after start-up, and nothing here reads them.
SPEC = """
seeds: [0, 1]
runs:
  - {algo: a2c, env: CartPole-v1, steps: 1040, threshold: 475, set: {eval_episodes: 2, video: false}}
  - {algo: reinforce, env: CartPole-v1, steps: 1024, seeds: [5], set: {num_steps: 32, eval_episodes: 2, video: false}}
  - {algo: ppo, env: Acrobot-v1, steps: 1024, seeds: [0], set: {env_kwargs: {foo: 1}, num_envs: 4}}
"""


@pytest.fixture(scope="module")
def benchmark():
    """benchmarks/benchmark.py imported as a module (registered, so its dataclasses resolve)."""
    module_spec = importlib.util.spec_from_file_location("tfpg_benchmark_script", SCRIPT)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    yield module
    del sys.modules[module_spec.name]


def bench(tmp_path, spec_text, *extra):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(spec_text)
    cmd = [sys.executable, str(SCRIPT), "--spec", str(spec), "--out", str(tmp_path / "BENCH.md")]
    cmd += ["--logdir", str(tmp_path / "runs"), "--plots", str(tmp_path / "plots"), *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_benchmark_writes_rows_error_row_and_plot(tmp_path):
    out = tmp_path / "BENCH.md"
    out.write_text(
        "# Benchmarks\n\nnotes kept\n\n<!-- benchmark:tiny -->\nold\n<!-- /benchmark:tiny -->\n\ntail\n"
    )
    proc = bench(tmp_path, SPEC, "--jobs", "4")
    assert proc.returncode == 1, proc.stderr  # one entry fails on purpose
    text = out.read_text()
    assert "notes kept" in text and "tail" in text and "\nold\n" not in text
    assert text.count("<!-- benchmark:tiny -->") == 1
    rows = [ln for ln in text.splitlines() if ln.startswith(("| a2c", "| reinforce", "| ppo"))]
    assert len(rows) == 3, text
    a2c, reinforce, broken = rows  # the spec's order, whatever order the runs finished in
    assert a2c.startswith("| a2c | CartPole-v1 | 0 1 | 1,040 |") and " ± " in a2c and "**no**" in a2c
    assert "--algo a2c --env CartPole-v1 --seed $S --total-steps 1040 --set eval_episodes=2" in a2c
    assert "(2 episodes)" in a2c
    assert reinforce.startswith("| reinforce | CartPole-v1 | 5 | 1,024 |")
    assert "**error**" in broken and "cannot be made with env_kwargs" in broken
    for seed in (0, 1):  # every seed of every entry is a real run directory
        assert (tmp_path / "runs" / f"CartPole-v1__a2c__1040__s{seed}" / "summary.json").exists()
    png = tmp_path / "plots" / "CartPole-v1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![CartPole-v1](plots/CartPole-v1.png)" in text


def test_bad_spec_exits_2_and_writes_nothing(tmp_path):
    proc = bench(tmp_path, "runs:\n  - {algo: ppo, env: CartPole-v1, steps: 1000, set: {learnin_rate: 1}}\n")
    assert proc.returncode == 2
    assert "Did you mean: learning_rate" in proc.stderr
    assert not (tmp_path / "BENCH.md").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runs: []", "non-empty 'runs' list"),
        ("runs:\n  - {algo: ppo, env: CartPole-v1}", "needs algo, env and steps"),
        ("runs:\n  - {algo: ppo, env: CartPole-v1, steps: 0}", "positive int"),
        ("runs:\n  - {algo: ppo, env: CartPole-v1, steps: 9, seeds: 3}", "list of ints"),
        ("runs:\n  - {algo: ppo, env: CartPole-v1, steps: 9, step: 3}", "unknown keys"),
        ("runs:\n  - {algo: dqn, env: CartPole-v1, steps: 9}", "Unknown algorithm"),
        ("runs:\n  - {algo: ppo, env: CartPole-v1, steps: 9, label: a/b}", "label must be a word"),
    ],
)
def test_spec_errors_say_what_to_fix(benchmark, tmp_path, text, message):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(benchmark.SpecError, match=message):
        benchmark.load_spec(path)


def test_spec_entries_and_reproduce_command(benchmark):
    entries = benchmark.load_spec(ROOT / "benchmarks" / "issue3.yaml")
    assert len(entries) == 10
    assert all(e.seeds == [0, 1, 2] for e in entries)  # the spec-wide seeds, HalfCheetah included
    pairs = {(e.algo, e.env) for e in entries}
    assert {("a2c", "CartPole-v1"), ("reinforce", "CartPole-v1"), ("ppo", "HalfCheetah-v5")} <= pairs
    entry = benchmark.Entry("a2c", "Acrobot-v1", 500, [0, 2], {"hidden_sizes": [32, 32], "anneal_lr": True})
    assert entry.command() == (
        "for S in 0 2; do python scripts/train_agent.py --algo a2c --env Acrobot-v1 --seed $S "
        "--total-steps 500 --set 'hidden_sizes=[32, 32]' --set anneal_lr=true; done"
    )


def test_labelled_entries_of_one_algorithm_on_one_env_get_their_own_runs(benchmark):
    entries = benchmark.load_spec(ROOT / "benchmarks" / "recurrent.yaml")
    names = {e.run_name(0) for e in entries}
    assert len(names) == len(entries) == 3  # lstm, gru, mlp: three run directories, three rows, three curves
    # One path component, as --run-name takes it ('/' -> '_', as for ALE/... and MinAtar/... ids).
    assert "tfpg_CartPoleNoVel-v1__ppo-lstm__200000__s0" in names
    assert {e.name for e in entries} == {"ppo-lstm", "ppo-gru", "ppo-mlp"}


def test_every_shipped_spec_loads_and_names_a_preset(benchmark):
    """Each spec in benchmarks/ parses, and every entry's env has its own preset entry for its algorithm."""
    from agents.config import load_preset

    specs = sorted((ROOT / "benchmarks").glob("*.yaml"))
    assert {p.name for p in specs} >= {"issue3.yaml", "mujoco.yaml"}
    for spec in specs:
        for entry in benchmark.load_spec(spec):
            assert load_preset(entry.algo, entry.env)[1] == entry.env, (spec.name, entry.algo, entry.env)


def test_write_section_keeps_hand_written_heading_and_notes(benchmark, tmp_path):
    """Only the generated block sits between the markers: a rerun keeps the heading and notes around it."""
    out = tmp_path / "B.md"
    benchmark.write_section(out, "x", "<!-- benchmark:x -->\nrow 1\n<!-- /benchmark:x -->")
    assert (
        out.read_text()
        == "# Benchmarks\n\n## Benchmark `x`\n\n<!-- benchmark:x -->\nrow 1\n<!-- /benchmark:x -->\n"
    )
    out.write_text(out.read_text().replace("## Benchmark `x`", "## My title") + "\nmy notes\n")
    benchmark.write_section(out, "x", "<!-- benchmark:x -->\nrow 2\n<!-- /benchmark:x -->")
    text = out.read_text()
    assert "## My title\n\n<!-- benchmark:x -->\nrow 2\n<!-- /benchmark:x -->" in text
    assert text.endswith("my notes\n") and "row 1" not in text and "Benchmark `x`" not in text

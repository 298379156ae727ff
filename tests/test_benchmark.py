"""scripts/benchmark.py as a user runs it: parallel real runs, table rows, an error row, a curve PNG."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "benchmark.py"
SPEC = """
seeds: [0, 1]
runs:
  - {algo: ppo, env: CartPole-v1, steps: 1024, threshold: 475, set: {update_epochs: 1, eval_episodes: 2}}
  - {algo: reinforce, env: CartPole-v1, steps: 1024, seeds: [3], set: {num_steps: 32, eval_episodes: 2}}
  - {algo: ppo, env: Acrobot-v1, steps: 1024, seeds: [0], set: {minibatch_size: 7}}
"""


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
    proc = bench(tmp_path, SPEC, "--jobs", "2")
    assert proc.returncode == 1, proc.stderr  # one entry fails on purpose
    text = out.read_text()
    assert "notes kept" in text and "tail" in text and "\nold\n" not in text
    assert text.count("<!-- benchmark:tiny -->") == 1
    rows = [ln for ln in text.splitlines() if ln.startswith("| ppo") or ln.startswith("| reinforce")]
    assert len(rows) == 3, text
    ppo, reinforce, broken = rows
    assert "| CartPole-v1 | 0 1 | 1,024 |" in ppo and " ± " in ppo and "**no**" in ppo
    assert "--algo ppo --env CartPole-v1 --seed $S --total-steps 1024 --set update_epochs=1" in ppo
    assert "| CartPole-v1 | 3 | 1,024 |" in reinforce
    assert "**error**" in broken and "minibatch_size=7 must divide" in broken
    for seed in (0, 1):  # every seed of every entry is a real run directory
        assert (tmp_path / "runs" / f"CartPole-v1__ppo__1024__s{seed}" / "summary.json").exists()
    png = tmp_path / "plots" / "CartPole-v1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![CartPole-v1](plots/CartPole-v1.png)" in text


def test_bad_spec_exits_2_and_writes_nothing(tmp_path):
    proc = bench(tmp_path, "runs:\n  - {algo: ppo, env: CartPole-v1, steps: 1000, set: {learnin_rate: 1}}\n")
    assert proc.returncode == 2
    assert "Did you mean: learning_rate" in proc.stderr
    assert not (tmp_path / "BENCH.md").exists() and not (tmp_path / "runs").exists()
    proc = bench(tmp_path, "runs: []\n")
    assert proc.returncode == 2 and "non-empty 'runs' list" in proc.stderr

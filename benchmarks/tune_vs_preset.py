"""A tuned config against the shipped preset at the same budget, on fresh seeds, side by side.

    python benchmarks/tune_vs_preset.py --best runs/tune/Pendulum-v1__ppo/best_preset.yaml --seeds 1 2 3

``--best`` is the ``best_preset.yaml`` a ``tfpg-tune`` study wrote (one env entry). For every seed, one run with
the preset alone and one with the tuned entry, alternating, each its own ``scripts/train_agent.py`` process at
the entry's ``total_steps``; both evaluate 20 deterministic episodes at the end. Prints a markdown table (final
mean return per seed, mean ± std over seeds, the difference) and the commands; ``--json`` keeps the numbers.
Finished runs in ``--logdir`` are reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train_agent.py"
NOT_CONFIG = ("total_steps",)  # given as --total-steps


def set_args(values: dict) -> list[str]:
    args = []
    for key, value in values.items():
        if key not in NOT_CONFIG:
            args += ["--set", f"{key}={json.dumps(value)}"]
    return args


def run(env_id: str, algo: str, seed: int, steps: int, extra: list[str], logdir: Path, name: str) -> dict:
    summary_path = logdir / name / "summary.json"
    if not summary_path.exists():
        command = [sys.executable, str(TRAIN), "--env", env_id, "--algo", algo, "--seed", str(seed),
                   "--total-steps", str(steps), "--logdir", str(logdir), "--run-name", name, "--no-progress",
                   "--set", "video=false", *extra]  # fmt: skip
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(summary_path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tuned config vs preset at the same budget, on fresh seeds.")
    parser.add_argument("--best", required=True, help="best_preset.yaml written by tfpg-tune")
    parser.add_argument("--algo", default="ppo", help="algorithm the study tuned (default: ppo)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 2, 3], help="fresh seeds (default: 1 2 3)"
    )
    parser.add_argument("--logdir", default="runs/tune_vs_preset", help="where the runs go")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    entries = yaml.safe_load(Path(args.best).read_text())
    (env_id, tuned), = entries.items()  # fmt: skip
    steps = int(tuned["total_steps"])
    logdir = Path(args.logdir)
    rows = {"preset": [], "tuned": []}
    for seed in args.seeds:  # alternating, so load changes on the machine hit both alike
        for label, extra in (("preset", []), ("tuned", set_args(tuned))):
            summary = run(env_id, args.algo, seed, steps, extra, logdir, f"{label}__s{seed}")
            rows[label].append(summary["eval_mean_return"])
            print(f"{label:6s} seed {seed}: final mean return {summary['eval_mean_return']:.1f} "
                  f"({summary['eval_episodes']} episodes, {summary['total_steps']} steps)", flush=True)  # fmt: skip
    print(f"\n| config | {' | '.join(f'seed {s}' for s in args.seeds)} | mean ± std |")
    print(f"|---|{'---|' * len(args.seeds)}---|")
    for label, values in rows.items():
        cells = " | ".join(f"{v:.1f}" for v in values)
        print(f"| {label} | {cells} | {np.mean(values):.1f} ± {np.std(values):.1f} |")
    print(f"\ntuned - preset, mean over seeds: {np.mean(rows['tuned']) - np.mean(rows['preset']):+.1f}")
    print(f"tuned overrides: {' '.join(set_args(tuned))}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"env": env_id, "steps": steps, "seeds": args.seeds, **rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

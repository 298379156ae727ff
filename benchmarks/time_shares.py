"""Where a finished run's training time went: acting, env stepping, other collection, update, logging.

    python benchmarks/time_shares.py runs/CartPole-v1__ppo__s0__...

Reads the run's own timers back from its TensorBoard events (``time/act_s``, ``time/env_step_s``,
``time/collect_s``, ``time/update_s``, logged per rollout) and ``summary.json`` (``train_time_s``,
``logging_time_s``). Scalars are written every ``log_every`` updates (config.json), so each logged rollout
stands for ``log_every`` of them: with log_every > 1 the shares are an estimate from that sample. "Rest" is
the training loop itself (GAE, batching, counters, checkpoints) and start-of-loop work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.run.logging import read_scalars

PHASES = ("time/act_s", "time/env_step_s", "time/collect_s", "time/update_s")


def time_shares(run_dir: Path) -> dict[str, float]:
    """Seconds per phase over the whole run (each logged rollout weighted by log_every) and the train time."""
    summary = json.loads((run_dir / "summary.json").read_text())
    log_every = json.loads((run_dir / "config.json").read_text())["run"].get("log_every", 1)
    sums = {tag: sum(read_scalars(str(run_dir), tag)[1]) * log_every for tag in PHASES}
    seconds = {
        "acting": sums["time/act_s"],
        "env stepping": sums["time/env_step_s"],
        "other collection": sums["time/collect_s"] - sums["time/act_s"] - sums["time/env_step_s"],
        "update": sums["time/update_s"],
        "logging": summary["logging_time_s"],
    }
    seconds["rest"] = summary["train_time_s"] - sum(seconds.values())
    seconds["train time"] = summary["train_time_s"]
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished run directory (with summary.json)")
    args = parser.parse_args(argv)
    if not (args.run_dir / "summary.json").exists():
        print(f"error: {args.run_dir} has no summary.json; pass a finished run directory", file=sys.stderr)
        return 2
    seconds = time_shares(args.run_dir)
    total = seconds["train time"]
    for phase, value in seconds.items():
        print(f"{phase:18s} {value:8.2f} s  {100 * value / total:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

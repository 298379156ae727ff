"""What one checkpoint save costs: ``tf.train.CheckpointManager.save`` vs tfpg's ``Saver`` (a compiled write).

    python benchmarks/checkpoint_cost.py --case maskable-discrete --saves 20 --repeats 5

Builds the run of a ``benchmarks/sb3_cases.py`` case (its network, optimizer with slots, normalization and
counters), then saves it into two temp directories, the manager and the saver alternating A B A B, each keeping
3 checkpoints as the trainer does; prints the median ms per save of each and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="maskable-discrete")
    parser.add_argument("--saves", type=int, default=20, help="saves per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side")
    args = parser.parse_args()

    import tensorflow as tf

    from agents.config import resolve_config
    from agents.run import checkpoint as ckpt
    from agents.run.building import build_run
    from benchmarks.sb3_cases import CASES

    case = CASES[args.case]
    values = dict(case["tfpg"], total_steps=case["steps"], num_envs=case["num_envs"], video=False)
    run = build_run(resolve_config(case["algo"], case["env"], values))
    with tempfile.TemporaryDirectory() as tmp:
        manager = tf.train.CheckpointManager(
            run.checkpoint, f"{tmp}/manager", max_to_keep=3, checkpoint_name="ckpt"
        )
        saver = ckpt.Saver(run.checkpoint, Path(tmp) / "saver", keep=3)
        sides = {
            "CheckpointManager.save": lambda step: manager.save(checkpoint_number=step),
            "Saver.save": saver.save,
        }
        for save in sides.values():  # first saves: the manager creates save_counter, the saver traces
            save(0)
        times: dict[str, list[float]] = {name: [] for name in sides}
        step = 1
        for _ in range(args.repeats):
            for name, save in sides.items():
                start = time.perf_counter()
                for _ in range(args.saves):
                    save(step)
                    step += 1
                times[name].append((time.perf_counter() - start) / args.saves * 1e3)
    for name, runs in times.items():
        print(
            f"{name:24s} {statistics.median(runs):6.1f} ms per save  (runs: {', '.join(f'{t:.1f}' for t in runs)})"
        )
    ratio = statistics.median(times["Saver.save"]) / statistics.median(times["CheckpointManager.save"])
    print(f"ratio Saver / CheckpointManager: {ratio:.2f}")
    run.close()


if __name__ == "__main__":
    main()

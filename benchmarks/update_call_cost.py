"""What one compiled update call costs: through ``tf.function``'s call path vs through ``SignatureFunction``.

    python benchmarks/update_call_cost.py --algo a2c --env CartPole-v1 --calls 2000 --repeats 5

Builds the algorithm's agent from its preset (plus ``--set`` overrides), collects one real rollout, and times
the same update graph on the same batch called both ways, alternating A B A B; prints the median µs per call
of each and their ratio. The update changes the weights each call; the cost of a call does not depend on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.config import parse_override


def update_arguments(run) -> tuple:
    """The agent's update inputs for one real rollout: (batch, *scalar schedule values) as NumPy/Python."""
    from agents.algorithms.advantages import rollout_gae
    from agents.experience.collection import InProcessCollection

    cfg, policy = run.agent.config, run.policy
    rollout, _, _ = InProcessCollection(run.env, policy, cfg.num_steps, seed=0).collect(None)
    advantages, returns = rollout_gae(rollout, cfg.gamma, getattr(cfg, "gae_lambda", 1.0))
    batch = run.agent.core.batch(rollout, advantages=advantages, returns=returns)
    scalars = len(run.agent._update.input_signature) - 1
    return (batch, *[0.5] * scalars)


def time_calls(fn, args, calls: int) -> float:
    """Mean µs per call over ``calls`` back-to-back calls (one warm call first)."""
    fn(*args)
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return 1e6 * (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", default="a2c", choices=["a2c", "ppo", "reinforce"])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args(argv)

    from agents.config import resolve_config
    from agents.run.building import build_run

    overrides = dict(parse_override(text) for text in args.set)
    run = build_run(resolve_config(args.algo, args.env, {"video": False, **overrides}))
    try:
        call_args = update_arguments(run)
        paths = {"tf.function": run.agent._update.function, "SignatureFunction": run.agent._update}
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, fn in paths.items():
                times[name].append(time_calls(fn, call_args, args.calls))
    finally:
        run.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(
            f"{name:18s} {value:8.1f} µs per update call  (runs: {', '.join(f'{v:.0f}' for v in times[name])})"
        )
    print(
        f"ratio SignatureFunction / tf.function: {medians['SignatureFunction'] / medians['tf.function']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

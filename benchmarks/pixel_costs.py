"""What pixels cost tfpg: rollout memory with uint8 frames, and the TF acting cost per vector step.

    nice -n 10 python benchmarks/pixel_costs.py [--env ALE/Pong-v5] [--calls 300]

Builds the env and policy of a preset (default ``ALE/Pong-v5``: 8 envs x 128 steps of 4x84x84 uint8 frames,
the NatureCNN), collects one real rollout and prints the bytes of each of its arrays (and what float32 frames
would take), then times ``Policy.act`` (the TF path: convolutional networks have no NumPy mirror) on a batch of
``num_envs`` observations, median of ``--calls`` calls, for 1 and 2 TensorFlow threads in turn.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rollout_memory(env_id: str) -> None:
    from agents.config import resolve_config
    from agents.experience.collector import RolloutCollector
    from agents.run.building import make_env, make_policy
    from networks.numpy_mirror import mirror_support

    config = resolve_config("ppo", env_id, {})
    env = make_env(config, config.run.num_envs, seed=0)
    policy = make_policy(config, env, seed=0)
    print(f"{env_id}: acting path: {'NumPy mirror' if mirror_support(policy.model) is None else 'TF'} "
          f"({mirror_support(policy.model) or 'mirrored'})")  # fmt: skip
    num_steps = config.agent.num_steps
    collector = RolloutCollector(env, policy.schema, num_steps, seed=0)
    rollout, _ = collector.collect(policy.actor(None, num_steps, env.num_envs))
    env.close()
    print(f"{env_id}: one rollout of {num_steps} steps x {config.run.num_envs} envs")
    total = 0
    for name, value in rollout.data.items():
        total += value.nbytes
        print(f"  {name:15s} {value.dtype!s:8s} {value.shape!s:28s} {value.nbytes / 2**20:8.2f} MiB")
    obs = rollout.observations
    print(
        f"  total {total / 2**20:.2f} MiB; the observations as float32 would be {obs.size * 4 / 2**20:.2f} MiB"
    )


def act_cost(env_id: str, threads: int, calls: int) -> float:
    """Median seconds of one ``Policy.act`` call on num_envs observations (run in a child: thread settings)."""
    code = f"""
import os, sys, time
sys.path.insert(0, {str(ROOT)!r})
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads({threads})
tf.config.threading.set_inter_op_parallelism_threads({threads})
from agents.config import resolve_config
from agents.run.building import make_env, make_policy
config = resolve_config("ppo", {env_id!r}, {{}})
env = make_env(config, config.run.num_envs, seed=0)
policy = make_policy(config, env, seed=0)
obs, _ = env.reset(seed=0)
for _ in range(10):
    policy.act(obs)
times = []
for _ in range({calls}):
    t0 = time.perf_counter(); policy.act(obs); times.append(time.perf_counter() - t0)
print("RESULT", float(np.median(times)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    if not lines:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1:])
    return float(lines[-1].split()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="ALE/Pong-v5")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of 1 and 2 threads")
    args = parser.parse_args(argv)
    print(time.strftime("%Y-%m-%d %H:%M"), flush=True)
    rollout_memory(args.env)
    for _ in range(args.rounds):
        for threads in (1, 2):
            seconds = act_cost(args.env, threads, args.calls)
            print(
                f"  Policy.act, TF path, {threads} thread(s): {seconds * 1e3:.2f} ms per vector step",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of one recurrent acting step, NumPy vs a compiled TF call, for the network RL Zoo's ppo_lstm uses.

The network is tfpg's ActorCritic with ``recurrent`` cores of ``--units`` (sb3-contrib's default 256, own
critic core) between the encoder and 64x64 tanh MLPs, on tfpg/CartPoleNoVel-v1 observations ([N, 2]). Per
vector step an actor needs: both cores' step, both MLPs and heads, the sampled action and its log-prob.
  * tf:    one ``tf.function`` (input_signature, traced once) doing all of it, called with NumPy arrays
  * numpy: the NumPy mirror's forward (networks/numpy_mirror.py, cores from numpy_cores.py) + its sampler
Both paths alternate in rounds, so machine noise hits them alike; the report is the median µs per step.

    nice -n 10 .venv/bin/python benchmarks/recurrent_acting_cost.py --num-envs 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import tensorflow as tf

# This checkout's packages, not an installed copy (a worktree would otherwise time the wrong code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from networks import ActorCritic
from networks.numpy_cores import one_blas_thread
from networks.numpy_mirror import mirror


def numpy_step_fn(model: ActorCritic):
    """obs [N, F], state [N, S], starts [N], noise [N, A] → (actions, log_probs, values, state): the NumPy mirror
    a recurrent Policy's MirrorActor acts with (networks/numpy_mirror.py)."""
    network, distribution = mirror(model, [v.numpy() for v in model.weights])

    def step(obs, state, starts, noise):
        params, values, state = network.forward(obs, state, starts)
        actions = distribution.sample(params, noise)
        return actions, distribution.log_prob(params, actions), values, state

    return step


def tf_step_fn(model: ActorCritic, obs_dim: int):
    generator = tf.random.Generator.from_seed(0)
    signature = [
        tf.TensorSpec([None, obs_dim], tf.float32),
        tf.TensorSpec([None, model.state_size], tf.float32),
        tf.TensorSpec([None], tf.bool),
    ]

    @tf.function(input_signature=signature, autograph=False)
    def step(obs, state, starts):
        out = model(obs, state, starts)
        actions = model.distribution.sample(out["policy"], generator)
        return actions, model.distribution.log_prob(out["policy"], actions), out["value"], out["state"]

    return lambda obs, state, starts, noise: [x.numpy() for x in step(obs, state, starts)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--core", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--steps", type=int, default=500, help="steps per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--no-pin", action="store_true", help="leave NumPy's OpenBLAS threads as they are (tfpg pins one)"
    )
    args = parser.parse_args(argv)
    pinned = False if args.no_pin else one_blas_thread()  # what a recurrent Policy does before acting

    tf.config.threading.set_inter_op_parallelism_threads(1)
    obs_space, actions = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32), gym.spaces.Discrete(2)
    model = ActorCritic(obs_space, actions, (64, 64), recurrent=args.core, recurrent_size=args.units)
    n, rng = args.num_envs, np.random.default_rng(0)
    obs = rng.normal(size=(args.steps, n, 2)).astype(np.float32)
    starts = rng.random((args.steps, n)) < 0.02
    noise = rng.uniform(1e-6, 1.0, size=(args.steps, n, 2)).astype(np.float32)
    paths = {"numpy": numpy_step_fn(model), "tf": tf_step_fn(model, 2)}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds + 1):  # the first round warms up (traces, caches) and is dropped
        for name, step in paths.items():
            state = np.zeros((n, model.state_size), np.float32)
            t0 = time.perf_counter()
            for t in range(args.steps):
                _, _, _, state = step(obs[t], state, starts[t], noise[t])
            times[name].append((time.perf_counter() - t0) / args.steps * 1e6)
    median = {name: statistics.median(values[1:]) for name, values in times.items()}
    print(
        f"{args.core.upper()} {args.units} units (policy + critic cores), 64x64 MLPs, {n} envs, "
        f"{args.rounds} rounds of {args.steps} steps; NumPy's OpenBLAS pinned to one thread: {pinned}"
    )
    for name, value in median.items():
        print(
            f"  {name:<6} {value:8.1f} µs/step   (rounds: {', '.join(f'{v:.0f}' for v in times[name][1:])})"
        )
    print(f"  tf / numpy: {median['tf'] / median['numpy']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

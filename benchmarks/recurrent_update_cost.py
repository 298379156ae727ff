"""Cost of one recurrent PPO-style update, by how the sequence loop is compiled (design study for issue 14).

The update under test replays whole env sequences: a rollout of ``--num-envs`` envs x ``--num-steps`` steps is
split into minibatches of whole sequences ([M, T]), and ``--epochs`` epochs of those run in ONE ``tf.function``
call (``tf.while_loop`` over epochs and minibatches, one GradientTape per minibatch, Adam). The network is
tfpg's ActorCritic with LSTM/GRU cores of ``--units`` before 64x64 MLPs (RL Zoo's ppo_lstm CartPoleNoVel set-up:
8 envs x 32 steps, minibatch 256 = all 8 sequences, 20 epochs). Variants:
  * fused:  tfpg's default: each LSTM through lstm_sequence.py's loops with a hand-written backward
  * unroll: the core's Python-unrolled loop (static T <= max_unroll)
  * scan:   the core's ``ops.scan`` loop (a tf.while_loop inside the graph)
  * +xla:   the same with ``jit_compile=True``
  * sb3:    sb3-contrib RecurrentPPO.train() on a real rollout, same shapes and epochs, one torch thread
Variants alternate per round (machine noise hits all alike). Prints ms per update (median of ``--repeats``
rounds after one warm-up call) and the first call's time (trace, XLA compile).

    nice -n 10 .venv/bin/python benchmarks/recurrent_update_cost.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

# This checkout's packages, not an installed copy (a worktree would otherwise time the wrong code).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from networks import ActorCritic


def build_update(model: ActorCritic, optimizer, epochs: int, num_minibatches: int, jit: bool):
    dist = model.distribution

    def minibatch_step(mb):
        with tf.GradientTape() as tape:
            out = model.sequence(mb["obs"], mb["state"], mb["starts"])  # [M, T, ...]
            log_prob = dist.log_prob(tf.reshape(out["policy"], [-1, 2]), tf.reshape(mb["actions"], [-1]))
            ratio = tf.exp(log_prob - tf.reshape(mb["log_probs"], [-1]))
            adv = tf.reshape(mb["advantages"], [-1])
            mask = tf.reshape(mb["valid"], [-1])
            surrogate = tf.minimum(ratio * adv, tf.clip_by_value(ratio, 0.8, 1.2) * adv)
            value_err = tf.square(tf.reshape(out["value"], [-1]) - tf.reshape(mb["returns"], [-1]))
            loss = tf.reduce_sum((-surrogate + 0.5 * value_err) * mask) / tf.reduce_sum(mask)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        grads, _ = tf.clip_by_global_norm(grads, 0.5)
        optimizer.apply(grads, variables)
        return loss

    def update(batch):
        # batch leaves are [N, T, ...] (env-major); minibatches are groups of whole env sequences.
        def epoch(e, total):
            perm = tf.random.shuffle(tf.range(tf.shape(batch["state"])[0]))
            shuffled = tf.nest.map_structure(
                lambda x: tf.reshape(tf.gather(x, perm), [num_minibatches, -1, *x.shape[1:]]), batch
            )

            def minibatch(j, total):
                return j + 1, total + minibatch_step(tf.nest.map_structure(lambda x: x[j], shuffled))

            _, total = tf.while_loop(lambda j, _: j < num_minibatches, minibatch, (tf.constant(0), total))
            return e + 1, total

        return tf.while_loop(lambda e, _: e < epochs, epoch, (tf.constant(0), tf.constant(0.0)))[1]

    return tf.function(update, autograph=False, jit_compile=jit)


def sb3_update(args):
    """sb3-contrib's RecurrentPPO.train() on one real rollout of tfpg/CartPoleNoVel-v1 (RL Zoo's ppo_lstm set-up)."""
    import torch

    torch.set_num_threads(1)
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    import envs.partially_observed  # noqa: F401  (registers tfpg/CartPoleNoVel-v1)

    env = make_vec_env("tfpg/CartPoleNoVel-v1", n_envs=args.num_envs, seed=0)
    model = RecurrentPPO(
        "MlpLstmPolicy",
        env,
        n_steps=args.num_steps,
        batch_size=args.minibatch_envs * args.num_steps,
        n_epochs=args.epochs,
        gae_lambda=0.8,
        gamma=0.98,
        ent_coef=0.0,
        learning_rate=1e-3,
        clip_range=0.2,
        policy_kwargs=dict(lstm_hidden_size=args.units),
        seed=0,
        device="cpu",
    )
    model.learn(args.num_envs * args.num_steps)  # one rollout + one update: the buffer stays filled
    return model.train


def tfpg_update(args, variant: str, rng):
    model = ActorCritic(
        gym.spaces.Box(-np.inf, np.inf, (2,), np.float32),
        gym.spaces.Discrete(2),
        (64, 64),
        recurrent=args.core,
        recurrent_size=args.units,
    )
    if not variant.startswith("fused"):  # the generic step loop, differentiated by TF
        for core in (model.policy_core, model.value_core):
            core._fused_sequence = None
            core.max_unroll = 0 if variant.startswith("scan") else 1024
    n, t = args.num_envs, args.num_steps
    batch = {
        "obs": rng.normal(size=(n, t, 2)).astype(np.float32),
        "state": np.zeros((n, model.state_size), np.float32),
        "starts": rng.random((n, t)) < 0.05,
        "actions": rng.integers(0, 2, size=(n, t)),
        "log_probs": np.full((n, t), np.log(0.5), np.float32),
        "advantages": rng.normal(size=(n, t)).astype(np.float32),
        "returns": rng.normal(size=(n, t)).astype(np.float32),
        "valid": np.ones((n, t), np.float32),
    }
    update = build_update(
        model, keras.optimizers.Adam(1e-4), args.epochs, n // args.minibatch_envs, "xla" in variant
    )
    return lambda: float(update(batch))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--minibatch-envs", type=int, default=8, help="whole sequences per minibatch")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--core", choices=["lstm", "gru"], default="lstm")
    # scan+xla does not compile: XLA needs a bound on the scan's while loop in the gradient.
    parser.add_argument("--variants", nargs="+", default=["fused", "fused+xla", "scan", "sb3"])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (variants alternate per round)")
    args = parser.parse_args(argv)

    n, t = args.num_envs, args.num_steps
    rng = np.random.default_rng(0)
    print(
        f"{args.core.upper()} {args.units}, 64x64 MLPs, own critic core; rollout {n} envs x {t} steps, "
        f"minibatch {args.minibatch_envs} sequences, {args.epochs} epochs per update (sb3: LSTM only)"
    )
    calls, first = {}, {}
    for variant in args.variants:
        calls[variant] = sb3_update(args) if variant == "sb3" else tfpg_update(args, variant, rng)
        t0 = time.perf_counter()
        calls[variant]()  # tfpg: trace (+ XLA compile); sb3: warm caches
        first[variant] = time.perf_counter() - t0
    times: dict[str, list[float]] = {variant: [] for variant in calls}
    for _ in range(args.repeats):
        for variant, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[variant].append((time.perf_counter() - t0) * 1e3)
    for variant, values in times.items():
        median = statistics.median(values)
        print(
            f"  {variant:<11} {median:8.1f} ms/update  ({n * t / median * 1e3:7.0f} steps/s of update alone; "
            f"first call {first[variant]:.1f} s; calls: {', '.join(f'{x:.0f}' for x in values)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

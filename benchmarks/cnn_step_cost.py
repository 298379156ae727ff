"""CPU seconds of one NatureCNN PPO-style gradient step, TensorFlow (tfpg's ActorCritic) vs PyTorch (SB3's NatureCNN).

    nice -n 5 python benchmarks/cnn_step_cost.py tf 6; nice -n 5 python benchmarks/cnn_step_cost.py torch 6
    TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/cnn_step_cost.py tf 6    # as tfpg runs a CNN (agents/run/console.py)

One minibatch of 256 x 4 x 84 x 84 uint8 frames (the ALE/* preset's), forward, a policy (log-prob) and value
loss, backward, Adam; 1 op thread. Prints the median ``time.process_time`` per step (robust to a loaded machine,
unlike wall time) and the wall time. Run the two sides alternately.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym
import numpy as np

FRAMES = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)


def tf_step(x: np.ndarray, a: np.ndarray):
    import tensorflow as tf

    from networks import ActorCritic

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = ActorCritic(FRAMES, gym.spaces.Discrete(6), hidden_sizes=[], share_trunk=True, cnn="nature")
    optimizer = tf.keras.optimizers.Adam(2.5e-4)
    model(x[:1])
    frames, actions = tf.constant(x), tf.constant(a)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = model(frames)
            log_probs = tf.gather(tf.nn.log_softmax(out["policy"]), actions, batch_dims=1)
            loss = -tf.reduce_mean(log_probs) + tf.reduce_mean(tf.square(out["value"]))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    return step


def torch_step(x: np.ndarray, a: np.ndarray):
    import torch
    from stable_baselines3.common.torch_layers import NatureCNN

    torch.set_num_threads(1)
    trunk, pi, v = NatureCNN(FRAMES, 512), torch.nn.Linear(512, 6), torch.nn.Linear(512, 1)
    params = [*trunk.parameters(), *pi.parameters(), *v.parameters()]
    optimizer = torch.optim.Adam(params, 2.5e-4, eps=1e-5)
    frames, actions = torch.as_tensor(x), torch.as_tensor(a)

    def step():
        hidden = trunk(frames.float() / 255.0)
        log_probs = torch.log_softmax(pi(hidden), -1).gather(1, actions[:, None])
        loss = -log_probs.mean() + v(hidden).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        optimizer.step()

    return step


def main() -> None:
    which, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8
    rng = np.random.default_rng(0)
    x, a = rng.integers(0, 256, (256, *FRAMES.shape), dtype=np.uint8), rng.integers(0, 6, 256)
    step = (tf_step if which == "tf" else torch_step)(x, a)
    step(), step()  # trace / warm up
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        step()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    load = os.getloadavg()[0]
    print(f"{which} median CPU s/step {np.median(cpu):.3f}  wall {np.median(wall):.3f}  load {load:.1f}")


if __name__ == "__main__":
    main()

"""Wall ms of each NatureCNN kernel on a 256-frame minibatch (forward, filter and input gradients), one at a time.

    TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/cnn_kernel_cost.py 2     # as tfpg runs a CNN; the argument: threads
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/cnn_kernel_cost.py 2     # TensorFlow's default on AVX2-only CPUs

Each op is a ``tf.function`` called 10 times after one warm-up call, on random inputs of the shapes the ALE/*
preset's update sees (84x84x4 frames; conv1 needs no input gradient). Together with the FLOPs per kernel
(BENCHMARKS.md, "Pixels") it gives the rates the update could reach at best on this CPU.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf

BATCH = 256


def timed(name: str, fn, calls: int = 10) -> None:
    compiled = tf.function(fn)
    compiled()
    start = time.perf_counter()
    for _ in range(calls):
        compiled()
    print(f"{name:22s} {(time.perf_counter() - start) / calls * 1e3:7.1f} ms")


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    r = tf.random.uniform
    frames, k1, y1 = r((BATCH, 84, 84, 4)), r((8, 8, 4, 32)), r((BATCH, 20, 20, 32))
    k2, y2 = r((4, 4, 32, 64)), r((BATCH, 9, 9, 64))
    k3, y3 = r((3, 3, 64, 64)), r((BATCH, 7, 7, 64))
    w4, h4, g4 = r((3136, 512)), r((BATCH, 3136)), r((BATCH, 512))
    filter_grad = tf.compat.v1.nn.conv2d_backprop_filter
    timed("conv1 forward", lambda: tf.nn.conv2d(frames, k1, 4, "VALID"))
    timed("conv1 filter grad", lambda: filter_grad(frames, k1.shape, y1, [1, 4, 4, 1], "VALID"))
    timed("conv2 forward", lambda: tf.nn.conv2d(y1, k2, 2, "VALID"))
    timed("conv2 filter grad", lambda: filter_grad(y1, k2.shape, y2, [1, 2, 2, 1], "VALID"))
    timed("conv2 input grad", lambda: tf.nn.conv2d_transpose(y2, k2, y1.shape, 2, "VALID"))
    timed("conv3 forward", lambda: tf.nn.conv2d(y2, k3, 1, "VALID"))
    timed("conv3 filter grad", lambda: filter_grad(y2, k3.shape, y3, [1, 1, 1, 1], "VALID"))
    timed("conv3 input grad", lambda: tf.nn.conv2d_transpose(y3, k3, y2.shape, 1, "VALID"))
    timed(
        "dense fwd + 2 grads",
        lambda: (h4 @ w4, tf.matmul(h4, g4, transpose_a=True), tf.matmul(g4, w4, transpose_b=True)),
    )


if __name__ == "__main__":
    main()

"""LSTM sequences with a hand-written backward pass: the update's hot loop, in fewer and larger ops.

Why: a PPO update replays every sequence ``update_epochs`` times forward and backward. Autodiff of the step loop
does, per step, the recurrent matmul forward and two backward (dh = dz Uᵀ, and dU += h_inᵀ dz with only B rows,
the least efficient shape), plus a dozen small ops each way, each paying the graph executor's per-op cost. Here
the backward keeps only dh = dz Uᵀ in the sequential loop and computes dU for all steps at once afterwards
(one [H, B*T] x [B*T, 4H] matmul), and gradients w.r.t. the projected inputs come out stacked. Several cores
with the same width step together (``C`` in the shapes): the policy's and the critic's LSTMs run as one batched
matmul per step instead of two (``ActorCritic`` does this when the critic has its own core).

Same math as ``LSTMCore`` (cores.py): gate order [i, f, g, o]; ``keep[b, t] = 0`` at an episode start zeroes
row b's state before step t reads it. ``tests/test_cores.py`` holds values and every gradient equal to autodiff
of the layer's own step loop, with resets inside the sequences.

Backward of one step (σ' = s(1 - s), tanh' = 1 - tanh²), from dh (incoming h gradient) and dc (cell gradient):
    do = dh tanh(c);  dc += dh o (1 - tanh²(c));  di = dc g;  df = dc c_in;  dg = dc i
    dz = [di i(1-i), df f(1-f), dg (1-g²), do o(1-o)];  dh_in = dz Uᵀ;  dc_in = dc f
    and through the reset: dh_prev = dh_in keep_t, dc_prev = dc_in keep_t.
"""

from __future__ import annotations

import tensorflow as tf


def lstm_sequence(projected, recurrent_kernel, h0, c0, keep):
    """Runs C LSTMs over [B, T] sequences; differentiable w.r.t. everything but ``keep``.

    Both directions are ``tf.while_loop``s over the static T (the graph does not grow with T, and XLA compiles
    it as a loop: seconds instead of minutes for an unrolled 32-step update).

    Args:
        projected: [C, B, T, 4H] float32, x W + b of every step (T static).
        recurrent_kernel: [C, H, 4H] float32, each core's U.
        h0, c0: [C, B, H] float32, the states before step 0.
        keep: [B, T] float32, 0 where a step starts an episode (state zeroed before it), else 1.

    Returns:
        (outputs [C, B, T, H], h [C, B, H], c [C, B, H]) after the last step.
    """
    steps = projected.shape[2]
    keep = tf.transpose(keep)[:, None, :, None]  # [T, 1, B, 1]

    @tf.custom_gradient
    def run(projected, recurrent_kernel, h0, c0):
        units = recurrent_kernel.shape[1]
        inputs = tf.transpose(projected, [2, 0, 1, 3])  # [T, C, B, 4H]

        def arrays(n):  # one fixed-size TensorArray per saved quantity
            return [tf.TensorArray(tf.float32, size=steps, element_shape=None) for _ in range(n)]

        def forward(t, h, c, saved):
            k = keep[t]  # [1, B, 1]
            h_in, c_in = h * k, c * k
            z = inputs[t] + tf.matmul(h_in, recurrent_kernel)  # [C, B, 4H]
            s = tf.sigmoid(z)
            g = tf.tanh(z[..., 2 * units : 3 * units])
            i, f, o = s[..., :units], s[..., units : 2 * units], s[..., 3 * units :]
            c = f * c_in + i * g
            tanh_c = tf.tanh(c)
            h = o * tanh_c
            gates = tf.concat([i, f, g, o], axis=-1)
            values = (h, h_in, c_in, gates, tanh_c)
            return t + 1, h, c, [array.write(t, v) for array, v in zip(saved, values, strict=True)]

        _, h, c, saved = tf.while_loop(
            lambda t, *_: t < steps, forward, (tf.constant(0), h0, c0, arrays(5)), maximum_iterations=steps
        )
        outputs, h_ins, c_ins, all_gates, tanh_cs = [array.stack() for array in saved]  # [T, C, B, ...]

        def grad(d_outputs, d_h, d_c):
            d_outputs = tf.transpose(d_outputs, [2, 0, 1, 3])  # [T, C, B, H]

            def backward(t, dh, dc, d_z):
                c_in, tanh_c = c_ins[t], tanh_cs[t]
                i, f, g, o = tf.split(all_gates[t], 4, axis=-1)
                dh = dh + d_outputs[t]
                dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
                dz = tf.concat(
                    [dc * g * i * (1.0 - i), dc * c_in * f * (1.0 - f), dc * i * (1.0 - g * g),
                     dh * tanh_c * o * (1.0 - o)],
                    axis=-1,
                )  # fmt: skip
                k = keep[t]
                dh = tf.matmul(dz, recurrent_kernel, transpose_b=True) * k
                return t - 1, dh, dc * f * k, d_z.write(t, dz)

            dh = tf.zeros_like(h0) if d_h is None else d_h
            dc = tf.zeros_like(c0) if d_c is None else d_c
            _, dh, dc, d_z = tf.while_loop(
                lambda t, *_: t >= 0, backward, (tf.constant(steps - 1), dh, dc, arrays(1)[0]),
                maximum_iterations=steps,
            )  # fmt: skip
            d_z = d_z.stack()  # [T, C, B, 4H]
            cores, width = tf.shape(d_z)[1], 4 * units
            # dU = sum over steps and rows of h_inᵀ dz: one matmul per core over all T*B rows.
            d_kernel = tf.matmul(
                tf.reshape(tf.transpose(h_ins, [1, 0, 2, 3]), [cores, -1, units]),
                tf.reshape(tf.transpose(d_z, [1, 0, 2, 3]), [cores, -1, width]),
                transpose_a=True,
            )  # fmt: skip
            return tf.transpose(d_z, [1, 2, 0, 3]), d_kernel, dh, dc

        return (tf.transpose(outputs, [1, 2, 0, 3]), h, c), grad

    return run(projected, recurrent_kernel, h0, c0)

"""LSTM sequences with a hand-written backward pass: the update's hot loop, in fewer and larger ops.

Why: a PPO update replays every sequence ``update_epochs`` times forward and backward. Autodiff of the step loop
does, per step, the recurrent matmul forward and two backward (dh = dz Uᵀ, and dU += h_inᵀ dz with only B rows,
the least efficient shape), plus a dozen small ops each way, each paying the graph executor's per-op cost. Here
the backward keeps only dh = dz Uᵀ in the sequential loop and computes dU for all steps at once afterwards
(one [H, B*T] x [B*T, 4H] matmul), and gradients w.r.t. the projected inputs come out stacked. One core per
call: the policy's and the critic's LSTMs stepped together (one batched matmul per step) made the compiled
CartPoleNoVel update slower under XLA on CPU (60–69 vs 52–54 ms; as one block-diagonal matmul, 86–88 ms).

Same math as ``LSTMCore`` (cores.py): gate order [i, f, g, o]; ``keep[b, t] = 0`` at an episode start zeroes
row b's state before step t reads it. ``tests/test_cores.py`` holds values and every gradient equal to autodiff
of the layer's own step loop, with resets inside the sequences.

Backward of one step (σ' = s(1 - s), tanh' = 1 - tanh²), from dh (incoming h gradient) and dc (cell gradient):
    do = dh tanh(c);  dc += dh o (1 - tanh²(c));  di = dc g;  df = dc c_in;  dg = dc i
    dz = [di i(1-i), df f(1-f), dg (1-g²), do o(1-o)];  dh_in = dz Uᵀ;  dc_in = dc f
    and through the reset: dh_prev = dh_in keep_t, dc_prev = dc_in keep_t.
Everything in it that does not depend on the incoming gradients (the factors o(1 - tanh²(c)), [g i(1-i),
c_in f(1-f), i(1-g²), tanh(c) o(1-o)] and f keep) is computed for all steps at once before the loop, so a step
of the loop is one matmul and a few small elementwise ops (XLA on CPU pays ~1 µs per op per step, and the loops
are most of a recurrent update's time: ~36 of ~53 ms for the CartPoleNoVel preset). The forward loop saves
only z and c per step (h, the gates and tanh(c) are recomputed after it, vectorized): 2 writes per step instead
of 5. Together ~15 % off the whole 20-epoch CartPoleNoVel update (benchmarks/recurrent_update_cost.py).
"""

from __future__ import annotations

import tensorflow as tf


def lstm_sequence(projected, recurrent_kernel, h0, c0, keep):
    """Runs an LSTM over [B, T] sequences; differentiable w.r.t. everything but ``keep``.

    Both directions are ``tf.while_loop``s over the static T (the graph does not grow with T, and XLA compiles
    it as a loop: seconds instead of minutes for an unrolled 32-step update).

    Args:
        projected: [B, T, 4H] float32, x W + b of every step (T static).
        recurrent_kernel: [H, 4H] float32, U.
        h0, c0: [B, H] float32, the state before step 0.
        keep: [B, T] float32, 0 where a step starts an episode (state zeroed before it), else 1.

    Returns:
        (outputs [B, T, H], h [B, H], c [B, H]) after the last step.
    """
    steps = projected.shape[1]
    keep_t = tf.transpose(keep)[:, :, None]  # [T, B, 1]

    @tf.custom_gradient
    def run(projected, recurrent_kernel, h0, c0):
        units = recurrent_kernel.shape[0]
        inputs = tf.transpose(projected, [1, 0, 2])  # [T, B, 4H]

        def forward(t, h, c, cs, zs):  # h, c: [B, H]; saves c and z = x W + b + h_in U per step
            k = keep_t[t]  # [B, 1]
            z = inputs[t] + tf.matmul(h * k, recurrent_kernel)  # [B, 4H]
            s = tf.sigmoid(z)
            g = tf.tanh(z[:, 2 * units : 3 * units])
            c = s[:, units : 2 * units] * (c * k) + s[:, :units] * g
            h = s[:, 3 * units :] * tf.tanh(c)
            return t + 1, h, c, cs.write(t, c), zs.write(t, z)

        def ta():  # one fixed-size TensorArray per saved quantity (XLA needs the size)
            return tf.TensorArray(tf.float32, size=steps)

        _, h, c, cs, zs = tf.while_loop(
            lambda t, *_: t < steps, forward, (tf.constant(0), h0, c0, ta(), ta()), maximum_iterations=steps
        )
        cells, gates = cs.stack(), zs.stack()  # [T, B, H], [T, B, 4H]
        s = tf.sigmoid(gates)
        i, f, o = s[..., :units], s[..., units : 2 * units], s[..., 3 * units :]
        tanh_c = tf.tanh(cells)
        outputs = o * tanh_c  # [T, B, H]

        def grad(d_outputs, d_h, d_c):
            # Everything that does not depend on the incoming gradient, for all steps at once.  [T, B, H]
            h_in = tf.concat([h0[None], outputs[:-1]], 0) * keep_t
            c_in = tf.concat([c0[None], cells[:-1]], 0) * keep_t
            g = tf.tanh(gates[..., 2 * units : 3 * units])
            dc_from_h = o * (1.0 - tanh_c * tanh_c)
            coeff = tf.concat(
                [g * i * (1.0 - i), c_in * f * (1.0 - f), i * (1.0 - g * g), tanh_c * o * (1.0 - o)], -1
            )  # [T, B, 4H]
            f_keep = f * keep_t
            d_out = tf.transpose(d_outputs, [1, 0, 2])  # [T, B, H]
            kernel_t = tf.transpose(recurrent_kernel)  # [4H, H]

            def backward(t, dh, dc, d_z):  # dh, dc: [B, H], the gradients w.r.t. step t's h and c
                dh = dh + d_out[t]
                dc = dc + dh * dc_from_h[t]
                # [B, 4H]: the gradients w.r.t. z, i.e. [di, df, dg, do] through σ and tanh
                dz = tf.concat([dc, dc, dc, dh], -1) * coeff[t]
                dh = tf.matmul(dz, kernel_t) * keep_t[t]
                return t - 1, dh, dc * f_keep[t], d_z.write(t, dz)

            dh = tf.zeros_like(h0) if d_h is None else d_h
            dc = tf.zeros_like(c0) if d_c is None else d_c
            _, dh, dc, d_z = tf.while_loop(
                lambda t, *_: t >= 0, backward, (tf.constant(steps - 1), dh, dc, ta()),
                maximum_iterations=steps,
            )  # fmt: skip
            d_z = d_z.stack()  # [T, B, 4H]
            # dU = sum over steps and rows of h_inᵀ dz: one matmul over all T*B rows.
            d_kernel = tf.matmul(
                tf.reshape(h_in, [-1, units]), tf.reshape(d_z, [-1, 4 * units]), transpose_a=True
            )
            return tf.transpose(d_z, [1, 0, 2]), d_kernel, dh, dc

        return (tf.transpose(outputs, [1, 0, 2]), h, c), grad

    # A tensor, not the layer's variable: tf.custom_gradient handles variables read inside it differently.
    return run(projected, tf.convert_to_tensor(recurrent_kernel), h0, c0)

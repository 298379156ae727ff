"""warm_up compiles the update ahead of training and leaves the agent's state exactly as it was."""

import numpy as np
import pytest

from agents.algorithms.warmup import state_variables
from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.run.building import build_run

SMALL = {
    "ppo": {"num_envs": 4, "num_steps": 16, "minibatch_size": 32, "update_epochs": 2},
    "a2c": {"num_envs": 4, "num_steps": 5},
    "reinforce": {"num_envs": 4, "num_steps": 32},
}


def two_updates(algo: str, warm: bool) -> tuple[list[np.ndarray], dict]:
    """Weights, optimizer and RNG state after two updates on CartPole, with or without a warm-up first."""
    run = build_run(resolve_config(algo, "CartPole-v1", {**SMALL[algo], "seed": 3}))
    try:
        if warm:
            before = [np.array(v.numpy()) for v in state_variables(run.agent.core.checkpoint_items())]
            run.agent.core.warm_up(optional=True)
            assert run.agent.core.trace_count() == 1  # compiled now, not at the first learn()
            after = [v.numpy() for v in state_variables(run.agent.core.checkpoint_items())]
            for a, b in zip(before, after, strict=True):
                np.testing.assert_array_equal(a, b)
        collector = InProcessCollection(run.env, run.policy, run.config.agent.num_steps, seed=0)
        snapshot = None
        for update in range(2):
            rollout, _, _ = collector.collect(snapshot)
            metrics, snapshot = run.agent.learn(rollout, progress=update / 2)
        assert run.agent.core.trace_count() == 1
        return [np.array(v.numpy()) for v in state_variables(run.agent.core.checkpoint_items())], metrics
    finally:
        run.close()


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_warm_up_changes_nothing_a_run_computes(algo):
    cold_state, cold_metrics = two_updates(algo, warm=False)
    warm_state, warm_metrics = two_updates(algo, warm=True)
    assert len(cold_state) == len(warm_state) > 4  # weights, optimizer slots and counter, generator state
    for cold, warm in zip(cold_state, warm_state, strict=True):
        np.testing.assert_array_equal(cold, warm)
    assert cold_metrics == warm_metrics


def test_signature_function_matches_tf_function_and_traces_once():
    """NumPy/Python arguments, nested like the signature, are cast to its dtypes; results equal the plain
    tf.function's; repeated calls with new values never retrace."""
    import tensorflow as tf

    from agents.algorithms.warmup import SignatureFunction

    def graph(batch, scale):  # batch: {"x": [3, 2] float32, "k": [3] int32}
        return tf.reduce_sum(batch["x"], axis=1) * scale + tf.cast(batch["k"], tf.float32)

    signature = [
        {"x": tf.TensorSpec([3, 2], tf.float32), "k": tf.TensorSpec([3], tf.int32)},
        tf.TensorSpec([], tf.float32),
    ]
    direct, plain = SignatureFunction(graph, signature), tf.function(graph, input_signature=signature)
    for scale in (0.5, 2, np.float64(-1.25)):
        batch = {"x": np.arange(6, dtype=np.float64).reshape(3, 2), "k": np.array([1, 2, 3], np.int64)}
        out = direct(batch, scale)
        assert out.dtype == tf.float32
        np.testing.assert_allclose(out.numpy(), plain(batch, scale).numpy())
        np.testing.assert_allclose(out.numpy(), np.array([1, 5, 9]) * float(scale) + [1, 2, 3])
    assert direct.experimental_get_tracing_count() == 1

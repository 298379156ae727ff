"""NetworkConfig's recurrent fields: defaults, validation at the door."""

import pytest

from agents.config import ConfigError, NetworkConfig, resolve_config


def test_defaults_are_feedforward():
    network = resolve_config("ppo", "CartPole-v1", {}).network
    assert (network.recurrent, network.recurrent_size, network.critic_core) == ("none", 256, "own")
    assert NetworkConfig().recurrent == "none"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"recurrent": "rnn"}, "recurrent must be one of none, lstm, gru"),
        ({"recurrent_size": 0}, "recurrent_size must be a positive"),
        ({"critic_core": "both"}, "critic_core must be one of own, shared, none"),
        ({"recurrent_size": "big"}, "expects int"),
        # CartPole's preset: 8 envs x 32 steps; 48 rows are not whole sequences, 96 are 3 (not dividing 8)
        (
            {"recurrent": "lstm", "minibatch_size": 48},
            r"whole env sequences .* minibatch_size=32 \(1 sequences",
        ),
        ({"recurrent": "gru", "num_steps": 32, "minibatch_size": 96, "num_envs": 8}, "minibatch_size=64"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("ppo", "CartPole-v1", values)


def test_recurrent_needs_an_algorithm_that_replays_sequences():
    with pytest.raises(ConfigError, match="recurrent=lstm trains with ppo or a2c, not reinforce"):
        resolve_config("reinforce", "CartPole-v1", {"recurrent": "lstm"})
    ok = {"recurrent": "lstm", "num_envs": 8, "num_steps": 32, "minibatch_size": 128}
    assert resolve_config("ppo", "CartPole-v1", ok).network.recurrent == "lstm"
    assert resolve_config("a2c", "CartPole-v1", {"recurrent": "gru"}).network.recurrent == "gru"

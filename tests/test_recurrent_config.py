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
        ({"recurrent": "lstm"}, "not supported by training yet"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("ppo", "CartPole-v1", values)

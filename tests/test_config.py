"""Config resolution: presets, overrides and the errors a user sees."""

import json

import pytest

from agents.config import ConfigError, ResolvedConfig, parse_override, resolve_config


def test_cartpole_preset_is_rl_zoo():
    cfg = resolve_config("ppo", "CartPole-v1", {})
    assert cfg.preset == "CartPole-v1"
    assert (cfg.run.num_envs, cfg.agent.num_steps, cfg.agent.update_epochs) == (8, 32, 20)
    assert (cfg.agent.gamma, cfg.agent.gae_lambda, cfg.agent.learning_rate) == (0.98, 0.8, 1e-3)
    assert cfg.run.total_steps == 100_000


def test_unknown_env_gets_default_preset():
    cfg = resolve_config("ppo", "Acme-v0", {})
    assert cfg.preset == "default"
    assert cfg.agent.num_steps == 128


def test_cli_values_override_preset_in_order():
    values = dict([parse_override("learning_rate=3e-4"), parse_override("hidden_sizes=[32, 16]")])
    values["seed"] = 7
    cfg = resolve_config("ppo", "CartPole-v1", values)
    assert cfg.agent.learning_rate == 3e-4
    assert cfg.network.hidden_sizes == [32, 16]
    assert cfg.run.seed == 7


def test_dotted_override_and_int_to_float():
    cfg = resolve_config("ppo", "CartPole-v1", {"agent.learning_rate": 1})
    assert cfg.agent.learning_rate == 1.0 and isinstance(cfg.agent.learning_rate, float)


def test_unknown_field_suggests_close_match():
    with pytest.raises(ConfigError, match="Did you mean: learning_rate"):
        resolve_config("ppo", "CartPole-v1", {"learning_rat": 1e-3})


def test_wrong_type_is_refused():
    with pytest.raises(ConfigError, match="expects int"):
        resolve_config("ppo", "CartPole-v1", {"num_envs": "many"})
    with pytest.raises(ConfigError, match="cannot be null"):
        resolve_config("ppo", "CartPole-v1", {"gamma": None})


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("learning_rate")


def test_unknown_algo():
    with pytest.raises(ConfigError, match="choose one of: a2c, ppo, reinforce"):
        resolve_config("dqn", "CartPole-v1", {})


def test_config_round_trips_through_json():
    cfg = resolve_config("ppo", "CartPole-v1", {"target_kl": 0.02})
    again = ResolvedConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_every_preset_entry_passes_validation(algo):
    import yaml

    from agents.config import PRESET_DIR

    for env_id in yaml.safe_load((PRESET_DIR / f"{algo}.yaml").read_text()):
        resolve_config(algo, "Acme-v0" if env_id == "default" else env_id, {})  # raises ConfigError if not


def test_validation_names_field_value_and_range():
    with pytest.raises(ConfigError, match=r"'gae_lambda' must be a finite number in \[0.0, 1.0\]; got 1.5"):
        resolve_config("ppo", "CartPole-v1", {"gae_lambda": 1.5})
    with pytest.raises(
        ConfigError, match=r"minibatch_size=100 must divide .* = 256 transitions \(e.g. 128\)"
    ):
        resolve_config("ppo", "CartPole-v1", {"minibatch_size": 100})
    with pytest.raises(ConfigError, match=r"'clip_reward' must be null or a finite number > 0; got -1.0"):
        resolve_config("ppo", "CartPole-v1", {"clip_reward": -1})
    data = resolve_config("ppo", "CartPole-v1", {}).to_dict()
    data["run"]["num_envs"] = 0
    with pytest.raises(ConfigError, match=r"'num_envs' must be an integer in \[1, 4096\]; got 0"):
        ResolvedConfig.from_dict(data)

"""Pixels: the Atari pipeline (shapes, dtype, stacking, reward sign, life loss), image layouts, the NatureCNN,
and short ALE / MinAtar runs to a complete run directory. Needs the ``atari`` extra (in ``dev``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

from agents.config import resolve_config
from agents.run.building import make_env, make_policy
from agents.run.summaries import record_episode
from envs.atari import LifeLossTerminal, training_wrappers
from envs.make import make_vector_env
from networks import ActorCritic, ConvEncoder, make_encoder
from networks.encoders import image_layout

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # train_agent, export_policy: the CLIs' main() in-process
ATARI_FRAMES = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)


def train_cli(*args) -> int:
    """scripts/train_agent.py's main() in this process (TensorFlow is already imported here)."""
    import train_agent

    return train_agent.main(["--no-progress", *args])


# --- the preprocessing chain -----------------------------------------------------------------------------------


@pytest.mark.parametrize("vectorization", ["sync", "vector_entry_point"])
def test_atari_pipeline_shapes_dtype_and_frame_stack(vectorization):
    env = make_vector_env("ALE/Pong-v5", 2, seed=0, vectorization=vectorization, atari_wrappers=True)
    try:
        assert env.single_observation_space == ATARI_FRAMES
        obs, _ = env.reset(seed=0)
        assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
        rng, changed = np.random.default_rng(0), 0
        for _ in range(40):
            new, *_ = env.step(rng.integers(0, 6, 2))  # the paddles move: frames differ
            # One new frame per step, appended last: the stack shifts by one (oldest first).
            np.testing.assert_array_equal(new[:, :-1], obs[:, 1:])
            changed += int((new[:, -1] != obs[:, -1]).any())
            obs = new
        assert changed > 10 and obs.max() > 0  # a moving grayscale screen, not zeros
    finally:
        env.close()


def _play(env, steps: int, seed: int = 0):
    """Random actions from a fixed generator; per-step rewards and the finished episodes' raw returns."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    rewards, returns = [], []
    for _ in range(steps):
        _, reward, _, _, info = env.step(rng.integers(0, env.single_action_space.n, env.num_envs))
        rewards.append(reward.copy())
        if "_episode" in info:
            returns.extend(info["episode"]["r"][info["_episode"]].tolist())
    return np.array(rewards), returns


def test_reward_sign_for_training_while_logged_returns_stay_raw():
    # SpaceInvaders scores 5-30 per alien; a 1,200-frame cap ends the episode within the steps played.
    kwargs = dict(vectorization="sync", atari_wrappers=True, env_kwargs={"max_num_frames_per_episode": 1200})
    game = "ALE/SpaceInvaders-v5"
    raw_rewards, raw_returns = _play(make_vector_env(game, 1, seed=0, **kwargs), 320)
    clipped, clipped_returns = _play(make_vector_env(game, 1, seed=0, sign_reward=True, **kwargs), 320)
    assert raw_rewards.max() > 1  # the game pays more than 1, so the sign changes something
    np.testing.assert_array_equal(clipped, np.sign(raw_rewards))
    assert raw_returns and clipped_returns == raw_returns  # the episode statistics sit below the clipping
    assert clipped_returns[0] > np.sum(clipped[clipped > 0])


def _breakout(training: bool) -> VectorEnv:
    config = resolve_config("ppo", "ALE/Breakout-v5", {"vectorization": "sync"})
    assert config.run.terminal_on_life_loss and config.run.sign_reward  # the Atari preset's training env
    return make_env(config, 1, seed=0, training=training)


@pytest.mark.parametrize("training", [True, False])
def test_life_loss_ends_episodes_only_for_training(training):
    env = _breakout(training)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    lives_before, life_losses, game_overs, terminals, episodes = 5, 0, 0, 0, []
    try:
        for _ in range(700):  # about three random games of five lives
            _, _, terminated, _, info = env.step(rng.integers(0, 4, 1))
            lives = int(info["lives"][0])
            game_over = terminated[0] and lives == 0
            life_losses += int(0 < lives < lives_before)
            game_overs += int(game_over)
            terminals += int(terminated[0])
            if "_episode" in info and info["_episode"][0]:
                assert game_over  # logged episodes are whole games
                episodes.append(int(info["episode"]["l"][0]))
            lives_before = lives
    finally:
        env.close()
    assert game_overs >= 2 and life_losses >= 8
    assert len(episodes) == game_overs
    assert terminals == (game_overs + life_losses if training else game_overs)


class ScriptedLives(VectorEnv):
    """Two envs; env 0 loses a life at steps 2 and 5 and the game at step 7; every step pays 5. Records actions."""

    def __init__(self):
        self.metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}
        self.num_envs = 2
        self.single_action_space = gym.spaces.Discrete(4)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, 2)
        self.single_observation_space = gym.spaces.Box(0, 1, (1,))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, 2)
        self.actions, self.t = [], 0

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.zeros((2, 1), np.float32), {"lives": np.array([3, 3])}

    def step(self, actions):
        self.actions.append(np.array(actions))
        self.t += 1
        lives = np.array([3 - (self.t >= 2) - (self.t >= 5) - (self.t >= 7), 3])
        terminated = np.array([self.t == 7, False])
        return np.zeros((2, 1), np.float32), np.full(2, 5.0), terminated, np.zeros(2, bool), {"lives": lives}


def test_life_loss_terminal_emulates_a_next_step_autoreset_row():
    inner = ScriptedLives()
    env = training_wrappers(inner, terminal_on_life_loss=True, sign_reward=True)
    assert isinstance(env.env, LifeLossTerminal)
    env.reset()
    rows = [env.step(np.array([3, 3]))[1:3] for _ in range(8)]
    rewards = np.array([r for r, _ in rows])[:, 0]
    terminated = np.array([t for _, t in rows])[:, 0]
    # Steps 1..8 of env 0: lives lost at 2 and 5 end the learner's episode; 3 and 6 are the autoreset rows
    # (NOOP sent, reward 0, no done); 7 is the real game over, passed through as is.
    np.testing.assert_array_equal(terminated, [0, 1, 0, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(rewards, [1, 1, 0, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(np.array(inner.actions)[:, 0], [3, 3, 0, 3, 3, 0, 3, 3])
    np.testing.assert_array_equal(np.array(inner.actions)[:, 1], [3] * 8)  # env 1 never lost a life


def test_atari_options_on_other_envs_are_refused():
    with pytest.raises(ValueError, match="terminal_on_life_loss"):
        make_vector_env("CartPole-v1", 2, terminal_on_life_loss=True)
    with pytest.raises(ValueError, match="atari_wrappers"):
        make_vector_env("CartPole-v1", 2, atari_wrappers=True)
    with pytest.raises(ValueError, match="atari_wrappers=true"):
        make_vector_env("ALE/Pong-v5", 2, vectorization="vector_entry_point")


def test_missing_ale_py_exits_2_with_the_install_command(tmp_path, monkeypatch, capsys):
    import train_agent

    monkeypatch.setitem(sys.modules, "ale_py", None)  # as if the atari extra were not installed
    code = train_agent.main(
        ["--env", "ALE/Pong-v5", "--logdir", str(tmp_path), "--run-name", "x", "--no-progress"]
    )
    assert code == 2
    assert "pip install -e '.[atari]'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# --- channel layouts and the NatureCNN --------------------------------------------------------------------------


def test_channel_layout_is_detected_or_refused():
    assert image_layout((4, 84, 84)) == "first"
    assert image_layout((84, 84, 4)) == "last"
    assert image_layout((210, 160, 3)) == "last"
    assert image_layout((10, 10, 4)) == "last"
    with pytest.raises(ValueError, match="channels=last"):
        image_layout((10, 10, 10))
    assert image_layout((10, 10, 10), "first") == "first"


@pytest.mark.parametrize("shape", [(4, 84, 84), (84, 84, 4)])
def test_both_layouts_build_the_same_nature_cnn(shape):
    encoder = make_encoder(gym.spaces.Box(0, 255, shape, np.uint8))
    encoder.build((None, *shape))
    assert encoder.architecture == "nature" and encoder.input_scale == 255.0
    assert encoder.channels_first == (shape[0] == 4)
    # conv_0 sees 4 input channels and the flattened 7x7x64 map feeds the 512-unit dense layer either way.
    assert [tuple(w.shape) for w in encoder.weights[:1]] == [(8, 8, 4, 32)]
    assert tuple(encoder.dense.weights[0].shape) == (3136, 512)


def test_channels_first_input_is_transposed_not_reinterpreted():
    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    first = ConvEncoder("nature", channels_first=True)
    last = ConvEncoder("nature")
    first.build((None, 4, 84, 84))
    last.build((None, 84, 84, 4))
    last.set_weights(first.get_weights())
    np.testing.assert_allclose(first(frames), last(frames.transpose(0, 2, 3, 1)), rtol=1e-5, atol=1e-6)


def test_nature_cnn_config_round_trip():
    frames = np.random.default_rng(1).integers(0, 256, (2, 4, 84, 84), dtype=np.uint8)
    layer = ConvEncoder("nature", channels_first=True, input_scale=255.0)
    out = layer(frames)
    assert out.shape == (2, 512)
    config = layer.get_config()
    assert (config["architecture"], config["channels_first"], config["input_scale"]) == (
        "nature",
        True,
        255.0,
    )
    clone = ConvEncoder.from_config(config)
    clone.build((None, 4, 84, 84))
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(frames), out, rtol=1e-6)


def test_actor_critic_round_trips_its_image_choices():
    model = ActorCritic(ATARI_FRAMES, gym.spaces.Discrete(6), hidden_sizes=[], share_trunk=True, cnn="nature")
    clone = ActorCritic.from_config(model.get_config())
    assert (clone.cnn, clone.channels, clone.policy_encoder.channels_first) == ("nature", "auto", True)
    clone.set_weights(model.get_weights())
    obs = ATARI_FRAMES.sample()[None]
    np.testing.assert_allclose(clone(obs)["policy"], model(obs)["policy"], rtol=1e-6)


def test_binary_planes_are_not_divided_by_255():
    encoder = make_encoder(gym.spaces.Box(0, 1, (10, 10, 4), bool), cnn="minatar")
    assert (encoder.architecture, encoder.input_scale, encoder.channels_first) == ("minatar", 1.0, False)
    with pytest.raises(ValueError, match="cnn=nature needs"):
        make_encoder(gym.spaces.Box(0, 1, (10, 10, 4), bool), cnn="nature")


# --- runs -------------------------------------------------------------------------------------------------------


def test_atari_videos_show_game_frames():
    config = resolve_config("ppo", "ALE/Pong-v5", {})
    env = make_env(config, 1, 0)
    policy = make_policy(config, env, seed=0)
    env.close()

    def video_env(**kwargs):
        return make_env(config, 1, 10_000, training=False, vectorization="sync", **kwargs)

    frames = record_episode(policy, video_env, {}, seed=0, max_steps=12)
    assert frames.shape == (12, 210, 160, 3) and frames.dtype == np.uint8  # the screen, not the 4x84x84 stack


def test_ale_id_trains_to_a_complete_run_dir(tmp_path):
    # The preset as it is, but 2 envs, one epoch, 2 updates, and games cut at 400 frames (100 steps) so the
    # evaluation and its video are short. In-process through the CLI's main(): no second TensorFlow start.
    code = train_cli(
        "--env", "ALE/Pong-v5", "--num-envs", "2", "--total-steps", "512", "--eval-episodes", "1",
        "--logdir", str(tmp_path), "--run-name", "pong", "--set", "eval_envs=1", "--set", "update_epochs=1",
        "--set", "env_kwargs={max_num_frames_per_episode: 400}",
    )  # fmt: skip
    assert code == 0
    run_dir = tmp_path / "pong"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] == 512 and summary["eval_episodes"] == 1
    assert summary["eval_mean_length"] == 100  # the whole capped game: no life-loss or other early end
    assert -21 <= summary["eval_mean_return"] <= 21  # a raw Pong score
    assert json.loads((run_dir / "config.json").read_text())["preset"] == "ALE/*"
    assert (run_dir / "checkpoint" / "checkpoint").exists() and (run_dir / "best" / "best.json").exists()
    assert list((run_dir / "videos").glob("eval-512.mp4"))


def test_an_atari_run_in_its_own_process_uses_onednn_without_error_lines(tmp_path):
    # A fresh process, as users start one: the preset's NatureCNN turns oneDNN on at TensorFlow's import (this
    # CPU has no AVX-512, so TensorFlow would leave it off), and nothing logs an E-level line (a uint8 transpose
    # under oneDNN did: "oneDNN supports DT_UINT8 only on platforms with AVX-512").
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    args = [
        "--env", "ALE/Pong-v5", "--num-envs", "2", "--total-steps", "256", "--eval-episodes", "1", "--no-progress",
        "--logdir", str(tmp_path), "--run-name", "pong", "--set", "eval_envs=1", "--set", "update_epochs=1",
        "--set", "video=false", "--set", "env_kwargs={max_num_frames_per_episode: 200}",
    ]  # fmt: skip
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_agent.py"), *args, "--verbose"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "oneDNN custom operations are on" in out.stderr
    assert "DT_UINT8" not in out.stderr, out.stderr


def test_minatar_trains_and_exports(tmp_path):
    # Boolean 10x10x4 planes through the MinAtar CNN, then a SavedModel that acts on the env's raw planes.
    code = train_cli(
        "--env", "MinAtar/Breakout-v1", "--num-envs", "4", "--total-steps", "512", "--eval-episodes", "1",
        "--logdir", str(tmp_path), "--run-name", "minatar", "--set", "num_steps=64", "--set", "minibatch_size=128",
        "--set", "eval_envs=1", "--set", "video=false",
    )  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "minatar" / "summary.json").read_text())
    assert summary["total_steps"] == 512 and summary["eval_episodes"] == 1
    import export_policy
    import tensorflow as tf

    assert export_policy.main([str(tmp_path / "minatar"), "--out", str(tmp_path / "export")]) == 0
    env = make_vector_env("MinAtar/Breakout-v1", 3, seed=0)
    planes, actions = env.reset(seed=0)[0], env.single_action_space.n
    env.close()
    assert planes.dtype == bool and planes.shape == (3, 10, 10, 4)
    policy = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    chosen = policy(observations=tf.constant(planes))["actions"].numpy()
    assert chosen.shape == (3,) and ((chosen >= 0) & (chosen < actions)).all()

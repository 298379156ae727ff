"""Evaluation always ends (issue 19, item 8): episodes of an env without a time limit are capped and counted,
in training, evaluate.py and videos; a signal cuts an evaluation short (periodic: skipped; final: after the
checkpoint is saved)."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from agents.config import resolve_config
from agents.experience.evaluation import evaluate
from agents.run.building import eval_episode_cap, make_eval_env
from agents.run.trainer import train
from envs.testing import COUNTER_ID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
CLIFF = "CliffWalking-v1"  # registered with max_episode_steps=None
TINY = {"num_envs": 2, "num_steps": 64, "minibatch_size": 64, "update_epochs": 1, "video": False}


def counter_config(**values):
    return resolve_config("ppo", COUNTER_ID, {"env_kwargs": {"terminate_at": None}, **values})


def step_budget(steps: int):
    """A ``should_stop`` that ends a test's evaluation after ``steps`` steps instead of letting it hang."""
    calls = iter(range(steps + 1))
    return lambda: next(calls, None) is None


def test_cap_is_the_env_limit_else_the_configured_default():
    assert eval_episode_cap(resolve_config("ppo", "CartPole-v1", {})) is None  # its own 500 applies
    # a "module:EnvId" id (as users name their own envs) is looked up after importing the module
    assert eval_episode_cap(resolve_config("ppo", "gymnasium.envs.classic_control:CartPole-v1", {})) is None
    # ALE games stop themselves after max_num_frames_per_episode frames (their vector env takes no TimeLimit)
    assert eval_episode_cap(resolve_config("ppo", "ALE/Pong-v5", {})) is None
    assert eval_episode_cap(resolve_config("ppo", CLIFF, {})) == 10_000  # the documented default
    assert eval_episode_cap(resolve_config("ppo", CLIFF, {"eval_max_episode_steps": 50})) == 50
    assert eval_episode_cap(resolve_config("ppo", CLIFF, {}), max_episode_steps=7) == 7
    limited = resolve_config("ppo", COUNTER_ID, {"env_kwargs": {"max_episode_steps": 9}})
    assert eval_episode_cap(limited) is None


def test_capped_episodes_end_and_are_counted_with_hand_numbers():
    # Counter: reward 1 per step, never terminates; capped at 7 steps -> return 7, length 7, all capped.
    env = make_eval_env(counter_config(eval_max_episode_steps=7), 2, seed=0)
    result = evaluate(lambda obs, *_, **__: np.zeros(len(obs), np.int64), env, 4, 0, 7, step_budget(100))
    env.close()
    assert not result["interrupted"], "the cap did not end the episodes"
    assert result["returns"] == [7.0] * 4 and result["lengths"] == [7] * 4
    assert result["capped_episodes"] == 4 and result["episode_cap"] == 7 and not result["interrupted"]


def test_terminating_episodes_are_not_capped():
    # Terminates on step 3, or exactly on the cap's step 7 (terminated wins: the episode really ended).
    for terminate_at, length in ((3, 3), (7, 7)):
        config = resolve_config(
            "ppo", COUNTER_ID, {"env_kwargs": {"terminate_at": terminate_at}, "eval_max_episode_steps": 7}
        )
        env = make_eval_env(config, 2, seed=0)
        result = evaluate(lambda obs, *_, **__: np.zeros(len(obs), np.int64), env, 2, 0, 7, step_budget(100))
        env.close()
        assert result["lengths"] == [length, length] and result["capped_episodes"] == 0


def test_should_stop_interrupts_between_steps():
    env = make_eval_env(counter_config(eval_max_episode_steps=5), 1, seed=0)
    calls = []

    def stop_after_12_steps():
        calls.append(1)
        return len(calls) > 12

    result = evaluate(lambda obs, *_, **__: np.zeros(len(obs), np.int64), env, 10, 0, 5, stop_after_12_steps)
    env.close()
    # 12 steps: episodes of 5, 5, and the autoreset row after each, so two finished.
    assert result["interrupted"] and result["episodes"] == 2 and result["capped_episodes"] == 2
    assert len(calls) == 13


def test_cliffwalking_trains_to_a_complete_run_with_capped_evaluation(tmp_path, capsys):
    import evaluate as evaluate_cli

    values = {**TINY, "total_steps": 256, "eval_episodes": 2, "eval_envs": 1, "eval_max_episode_steps": 300}
    summary = train(resolve_config("ppo", CLIFF, values), tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved == summary
    assert summary["eval_episodes"] == 2 and summary["eval_episode_cap"] == 300
    # An untrained deterministic policy does not reach the goal: both episodes cut at 300 steps.
    assert summary["eval_capped_episodes"] == 2 and summary["eval_mean_length"] == 300
    assert "2 of 2 evaluation episodes were cut at 300 steps" in capsys.readouterr().err

    rc = evaluate_cli.main([str(tmp_path / "run"), "--episodes", "3", "--max-episode-steps", "40", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and out["episode_cap"] == 40 and out["capped_episodes"] == 3 and out["mean_length"] == 40


def test_signal_during_periodic_evaluation_skips_it_and_saves(tmp_path):
    # Uncut, this evaluation would take 4,000 steps, finish and save a best model.
    values = {**TINY, "total_steps": 1024, "eval_every": 256, "eval_max_episode_steps": 2000}
    values.update(eval_episodes=2, eval_envs=1)

    def send_sigterm(env_steps, *_):
        if env_steps == 256:  # the periodic evaluation of this step would never end
            os.kill(os.getpid(), signal.SIGTERM)

    summary = train(resolve_config("ppo", CLIFF, values), tmp_path / "run", False, callbacks=[send_sigterm])
    assert summary["interrupted"] and summary["signal"] == "SIGTERM" and summary["total_steps"] == 256
    assert summary["checkpoint"] == "checkpoint/ckpt-256" and summary["best_checkpoint"] is None
    assert summary["eval_episodes"] == 0 and not (tmp_path / "run" / "best").exists()


def test_sigterm_during_final_evaluation_after_the_final_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    # An endless final evaluation (the untrained deterministic policy never reaches the goal), and no periodic
    # one: the default schedule would evaluate at step 128, endlessly too, before the final checkpoint.
    values = {**TINY, "total_steps": 256, "eval_every": 0, "eval_max_episode_steps": 10**9}

    def sigterm_once_evaluating():  # from another thread, as a user's kill would come
        deadline = time.time() + 300
        while not (run_dir / "checkpoint" / "ckpt-256.index").exists():  # saved before the final evaluation
            if time.time() > deadline:
                break  # stop the run anyway: the assertions below then fail instead of the test hanging
            time.sleep(0.05)
        time.sleep(1.0)  # well into the evaluation
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=sigterm_once_evaluating, daemon=True)
    killer.start()
    summary = train(resolve_config("ppo", CLIFF, values), run_dir, progress=False)
    killer.join()
    err = capsys.readouterr().err
    assert summary == json.loads((run_dir / "summary.json").read_text())
    assert summary["eval_interrupted"] and summary["eval_episodes"] == 0, "the evaluation was not cut short"
    assert summary["eval_mean_return"] is None and summary["checkpoint"] == "checkpoint/ckpt-256"
    assert not summary["interrupted"] and "an evaluation in progress is cut short" in err


def test_train_time_excludes_the_final_evaluation_that_saves_a_new_best(tmp_path):
    """summary.json's train_time_s (and sps) stop where training stopped: the final evaluation (here ≥ 1.6 s of
    sleeping env steps: 4 episodes of 200 steps at 2 ms), which also saves best/, is not training time."""
    from agents.run.logging import read_scalars
    from envs.testing import LATENCY_ID

    values = {
        **TINY,
        "total_steps": 128,
        "eval_episodes": 4,
        "eval_envs": 1,
        "env_kwargs": {"latency_s": 0.002},
    }
    run_dir = tmp_path / "run"
    summary = train(resolve_config("ppo", LATENCY_ID, values), run_dir, progress=False)
    steps, sps = read_scalars(str(run_dir), "time/sps")
    trained_s = steps[-1] / sps[-1]  # the loop's own clock at its last log, before the final save and eval
    assert summary["best_checkpoint"] is not None  # the final evaluation did save a best
    # Between that log and the counter: the final checkpoint's save (~0.05 s); with the evaluation, ≥ 1.6 s more.
    assert summary["train_time_s"] - trained_s < 1.0
    assert summary["sps"] == pytest.approx(128 / summary["train_time_s"], rel=0.01)

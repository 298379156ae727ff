"""Callbacks that act (stop, save) and the default evaluation schedule, on short real runs."""

import json

import pytest

import agents
from agents.config import resolve_config
from agents.run.callbacks import SAVE, STOP, Callback, StopAtReturn, StopOnPlateau, dispatch
from agents.run.logging import read_scalars
from agents.run.rundir import apply_resume_overrides
from agents.run.trainer import train
from envs.testing import COIN_ID

# 32 env steps per rollout, 4-step episodes: a run of 20 rollouts takes a few seconds.
SMALL = {"num_envs": 2, "num_steps": 16, "minibatch_size": 32, "update_epochs": 1, "video": False,
         "eval_envs": 2, "eval_episodes": 6, "histogram_every": 0}  # fmt: skip


def result(mean_return: float, episodes: int = 4) -> dict:
    return {"mean_return": mean_return, "episodes": episodes}


def test_stop_on_plateau_counts_evaluations_without_improvement():
    plateau = StopOnPlateau(patience=2)
    actions = [plateau.on_evaluation(i, result(r), False) for i, r in enumerate([1.0, 2.0, 2.0, 1.5, 3.0])]
    assert actions == [None, None, None, STOP, None]  # 2.0 (equal) and 1.5 are stale; 3.0 improves again
    assert plateau.stop_reason.startswith("stop_patience: 2 evaluations without improving on 2.00")
    with_delta = StopOnPlateau(patience=1, min_delta=0.5)
    assert [with_delta.on_evaluation(0, result(r), False) for r in (1.0, 1.4)] == [None, STOP]


def test_stop_at_return_stops_at_the_threshold_not_below():
    stop = StopAtReturn(10.0)
    assert stop.on_evaluation(64, result(9.99), False) is None
    assert stop.on_evaluation(96, result(10.0), False) == STOP
    assert stop.stop_reason.startswith("stop_at_return: evaluation mean return 10.00 >= 10 at step 96")


def test_dispatch_calls_every_callback_and_reports_the_first_stopper():
    seen = []

    class Record(Callback):
        def __init__(self, name, action):
            self.name, self.action = name, action

        def on_update(self, env_steps, rollout, episodes, metrics):
            seen.append(self.name)
            self.stop_reason = f"{self.name} says"
            return self.action

    callbacks = [Record("a", None), Record("b", SAVE), Record("c", STOP), Record("d", STOP)]
    assert dispatch(callbacks, "on_update", 1, None, None, {}) == (True, True, "c says")
    assert seen == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="returned 'halt'"):
        dispatch([Record("e", "halt")], "on_update", 1, None, None, {})


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """--stop-at-return at a return every policy reaches: the run stops at its first evaluation."""
    run_dir = tmp_path_factory.mktemp("runs") / "stopped"
    evaluations = []

    class Watch(Callback):
        def on_evaluation(self, env_steps, result, final):
            evaluations.append((env_steps, result["episodes"], final))

    config = resolve_config("ppo", COIN_ID, {**SMALL, "total_steps": 640, "stop_at_return": -100.0})
    summary = train(config, run_dir, progress=False, callbacks=[Watch()])
    return run_dir, summary, evaluations, config


def test_a_stopped_run_is_a_complete_finished_run(stopped_run):
    run_dir, summary, evaluations, _ = stopped_run
    # Default schedule for 20 rollouts: every 2 rollouts (64 steps); the first one already reaches -100.
    assert evaluations == [(64, 2, False), (64, 6, True)]  # cheap (one per eval env), then the full count
    assert summary["total_steps"] == 64 and summary["interrupted"] is False and summary["signal"] is None
    assert summary["stop_reason"].startswith("stop_at_return: evaluation mean return")
    assert summary["eval_episodes"] == 6 and summary["checkpoint"] == "checkpoint/ckpt-64"
    assert (run_dir / "best" / "best.json").exists()
    assert json.loads((run_dir / "summary.json").read_text()) == summary


def test_a_stopped_run_resumes_to_its_budget(stopped_run):
    run_dir, _, _, config = stopped_run
    config = apply_resume_overrides(config, {"stop_at_return": None})
    summary = train(config, run_dir, progress=False, resume=True)
    assert summary["total_steps"] == 640 and summary["stop_reason"] is None
    steps, _ = read_scalars(str(run_dir), "eval/mean_return")
    # The default schedule, 10 points; 64 twice: the stopping (cheap) evaluation and the stopped run's final one.
    assert steps == [64, *range(64, 641, 64)]


def test_save_and_on_checkpoint(tmp_path):
    calls = []

    class SaveAtThirdUpdate(Callback):
        def on_update(self, env_steps, rollout, episodes, metrics):
            return SAVE if env_steps == 96 else None

        def on_checkpoint(self, env_steps, path, best):
            calls.append((env_steps, path.split("/")[-2:], best))

    values = {**SMALL, "total_steps": 160, "eval_every": 0, "checkpoint_every": 10_000}
    train(
        resolve_config("ppo", COIN_ID, values),
        tmp_path / "r",
        progress=False,
        callbacks=[SaveAtThirdUpdate()],
    )
    assert calls[0] == (96, ["checkpoint", "ckpt-96"], False)
    # The final checkpoint is saved before the final evaluation (a signal during it then costs only the
    # evaluation), so it comes before the best model that evaluation keeps.
    assert calls[1:] == [(160, ["checkpoint", "ckpt-160"], False), (160, ["best", "ckpt-160"], True)]


def test_api_train_with_patience_and_a_metrics_function(tmp_path):
    """agents.train: config fields as keywords, an acting callback and a metrics function together."""
    seen = []
    result = agents.train(COIN_ID, run_dir=tmp_path / "p", progress=False, total_steps=640, stop_patience=1,
                          callbacks=[lambda steps, *_: seen.append(steps) or {"custom/x": 1.0}], **SMALL)  # fmt: skip
    stopped = result.summary["stop_reason"]
    assert stopped is None or stopped.startswith("stop_patience: 1 evaluations without improving")
    assert seen[-1] == result.summary["total_steps"] and result.run_dir == tmp_path / "p"
    assert read_scalars(str(tmp_path / "p"), "custom/x")[0] == seen

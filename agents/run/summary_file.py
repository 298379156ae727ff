"""summary.json: what a run reports when it ends (finished, stopped by a signal or a callback, or failed).

Its keys are an interface (benchmark.py, tuning, users' scripts read them): add keys, never rename them.
``total_steps``/``train_time_s``/``sps`` count what the last checkpoint holds when the run was aborted or failed;
``eval_*`` describe the final evaluation (``eval_interrupted``: a signal cut it short); ``interrupted`` and
``signal`` say whether a signal (or a failure) stopped training before its budget; ``checkpoint`` and
``best_checkpoint`` are paths relative to the run directory; ``stop_reason`` is a callback's (e.g.
``stop_at_return``); ``error`` is present only when training failed (e.g. non-finite values).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.run import checkpoint as ckpt
from agents.run.building import eval_episode_cap

if TYPE_CHECKING:
    from agents.run.trainer import Session


def run_summary(
    session: Session,
    start: float,
    result: dict | None,
    aborted: bool,
    signum: int | None,
    failure: Exception | None,
) -> dict[str, Any]:
    """summary.json of ``session`` (keys above). ``start``: perf_counter at the start of ``train``; ``result``: the
    final evaluation (None: none ran); ``aborted``: a second signal; ``signum``: the first signal;
    ``failure``: the error that stopped training (its message becomes ``error``)."""
    rc, run_dir = session.run.config.run, session.run_dir
    latest = ckpt.latest_in(run_dir / ckpt.CHECKPOINT_DIR)
    best_prefix = ckpt.latest_in(run_dir / ckpt.BEST_DIR)
    # Aborted or failed: what counts is the last checkpoint, not what was computed after it.
    cut = aborted or failure is not None
    saved_time = float(session.run.counters["train_time_s"].numpy()) if not cut else session.train_time()
    steps_done = session.steps if not cut else int(latest.rsplit("-", 1)[1]) if latest else 0
    # A signal that arrives once training is done (e.g. during the final evaluation) stops nothing.
    signalled = aborted or (signum is not None and session.steps < session.total_steps)
    summary = {
        "env": rc.env_id,
        "algo": rc.algo,
        "seed": rc.seed,
        "total_steps": steps_done,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "train_time_s": round(saved_time, 3),
        "sps": round(steps_done / saved_time, 1) if saved_time else 0.0,
        "eval_mean_return": result["mean_return"] if result else None,
        "eval_std_return": result["std_return"] if result else None,
        "eval_mean_length": result["mean_length"] if result else None,
        "eval_episodes": result["episodes"] if result else 0,
        "eval_capped_episodes": result["capped_episodes"] if result else 0,
        "eval_episode_cap": eval_episode_cap(session.run.config),
        "eval_interrupted": bool(result and result["interrupted"]),
        "interrupted": signalled or failure is not None,
        "signal": (signal.Signals(signum).name if signum else "SIGINT") if signalled else None,
        "resumed_from_step": session.start_steps if session.resume else None,
        "checkpoint": str(Path(latest).relative_to(run_dir)) if latest else None,
        "best_checkpoint": str(Path(best_prefix).relative_to(run_dir)) if best_prefix else None,
        "best_eval_return": finite_or_none(session.run.counters["best_eval_return"].numpy()),
        "logging_time_s": round(session.logger.seconds, 3),
        "stop_reason": session.stop_reason,
    }
    if failure is not None:
        summary["error"] = str(failure)
    return summary


def finite_or_none(value) -> float | None:
    return float(value) if np.isfinite(value) else None

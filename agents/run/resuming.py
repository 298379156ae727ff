"""What a resumed run does to its run directory before it goes on: config.json keeps the first command and lists the
resume commands; events and checkpoints after the restored step are removed; a best model saved after that step
still counts."""

from __future__ import annotations

import json
from pathlib import Path

from agents.config import ResolvedConfig
from agents.run import checkpoint as ckpt
from agents.run.building import Run
from agents.run.rundir import CONFIG_FILE, trim_events_after, write_json_atomic


def write_config(config: ResolvedConfig, run_dir: Path, command, resume: bool, start_steps: int) -> None:
    """config.json (with the command lines), after trimming what a resumed run will write again."""
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_config = {**config.to_dict(), "command": command or []}
    if resume:
        previous = json.loads((run_dir / CONFIG_FILE).read_text())
        saved_config["command"] = previous.get("command", [])
        saved_config["resume_commands"] = [*previous.get("resume_commands", []), command or []]
        trim_events_after(run_dir, start_steps)
        ckpt.remove_stale(run_dir / ckpt.CHECKPOINT_DIR, start_steps)
    write_json_atomic(run_dir / CONFIG_FILE, saved_config)


def recall_best_return(run: Run, run_dir: Path) -> None:
    """A best model saved after the restored checkpoint still counts: later evaluations must beat it."""
    best_file = run_dir / ckpt.BEST_DIR / "best.json"
    try:
        best = float(json.loads(best_file.read_text())["mean_return"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if best > run.counters["best_eval_return"].numpy():
        run.counters["best_eval_return"].assign(best)

"""Every env Gymnasium registers in toy_text, classic_control, box2d and mujoco: trains or is refused clearly.

    MUJOCO_GL=egl python benchmarks/all_envs.py --steps 4096 --out /tmp/all_envs.json

Each env id gets one ``scripts/train_agent.py --env ID --total-steps STEPS --eval-episodes 2`` process with
default settings (the preset's entry for the env if it has one, else ``default``); STEPS is raised to one
rollout of the preset where that is more (LunarLander's is 16 x 1024). Outcomes:

* ``ok``: exit 0 and a complete run directory: config.json, summary.json with the 2 evaluation episodes and
  a finite return, a checkpoint, a TensorBoard event file;
* ``refused``: exit 2 and an ``error:`` line (bad input or a missing dependency, said before anything is written);
* ``FAILED``: anything else (a traceback, a crash, an incomplete run directory, a timeout).

Prints a markdown table (env, outcome, detail, seconds) and writes the results as JSON. Exit code 1 if any
env FAILED.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("toy_text", "classic_control", "box2d", "mujoco")


def family_env_ids() -> list[tuple[str, str]]:
    """(family, env id) of every registered env whose entry point lives in one of ``FAMILIES``.

    MuJoCo's v2/v3 ids point at a function that raises (they need the old mujoco-py); they count as mujoco.
    """
    import gymnasium

    found = []
    for env_id, spec in gymnasium.registry.items():
        entry = spec.entry_point
        where = entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__name__}"
        for family in FAMILIES:
            if where.startswith(f"gymnasium.envs.{family}.") or (family == "mujoco" and "mujoco_py" in where):
                found.append((family, env_id))
    return found


def check_run_dir(run_dir: Path, episodes: int) -> str | None:
    """What is missing from a finished run directory, or None if it is complete."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as err:
        return f"summary.json/config.json unreadable: {err}"
    if summary.get("eval_episodes") != episodes:
        return f"summary has {summary.get('eval_episodes')} eval episodes, expected {episodes}"
    if not isinstance(summary.get("eval_mean_return"), float | int) or not math.isfinite(
        summary["eval_mean_return"]
    ):
        return f"eval_mean_return is {summary.get('eval_mean_return')!r}"
    if not list((run_dir / "checkpoint").glob("ckpt-*.index")):
        return "no checkpoint"
    if not list(run_dir.glob("events.out.tfevents.*")):
        return "no TensorBoard event file"
    return None


def budget(env_id: str, steps: int) -> int:
    """``steps``, or one rollout of the env's preset when that is more (a budget below one rollout is refused)."""
    sys.path.insert(0, str(ROOT))
    from agents.config import ConfigError, resolve_config

    try:
        config = resolve_config("ppo", env_id, {})
    except ConfigError:
        return steps  # the training process will say why
    return max(steps, config.run.num_envs * config.agent.num_steps)


def run_env(env_id: str, steps: int, episodes: int, logdir: Path, timeout: float) -> dict:
    run_name = env_id.replace("/", "_")
    steps = budget(env_id, steps)
    cmd = [sys.executable, str(ROOT / "scripts" / "train_agent.py"), "--no-progress", "--env", env_id]
    cmd += ["--total-steps", str(steps), "--eval-episodes", str(episodes)]
    cmd += ["--logdir", str(logdir), "--run-name", run_name]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"outcome": "FAILED", "detail": f"timed out after {timeout:.0f} s", "seconds": timeout}
    seconds = round(time.perf_counter() - start, 1)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    if proc.returncode == 2 and errors:
        return {"outcome": "refused", "detail": errors[-1][len("error: ") :], "seconds": seconds}
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.splitlines() if line.strip()][-3:]
        return {
            "outcome": "FAILED",
            "detail": f"exit {proc.returncode}: {' | '.join(tail)}",
            "seconds": seconds,
        }
    problem = check_run_dir(logdir / run_name, episodes)
    if problem:
        return {"outcome": "FAILED", "detail": problem, "seconds": seconds}
    summary = json.loads((logdir / run_name / "summary.json").read_text())
    detail = f"{steps:,} steps, eval {summary['eval_mean_return']:.1f} over {episodes} episodes"
    if summary.get("eval_capped_episodes"):
        detail += f", {summary['eval_capped_episodes']} cut at the {summary['eval_episode_cap']}-step cap"
    return {"outcome": "ok", "detail": detail, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4096, help="training env steps per env (default 4096)")
    parser.add_argument("--episodes", type=int, default=2, help="final evaluation episodes (default 2)")
    parser.add_argument("--logdir", type=Path, default=Path("/tmp/tfpg-all-envs"), help="where runs go")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--only", nargs="*", help="these env ids only")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds per env before it counts as failed"
    )
    args = parser.parse_args(argv)

    ids = [(family, env_id) for family, env_id in family_env_ids() if not args.only or env_id in args.only]
    args.logdir.mkdir(parents=True, exist_ok=True)
    results = {}
    print("| family | env | outcome | detail | seconds |\n|---|---|---|---|---|", flush=True)
    for family, env_id in ids:
        result = {"family": family, **run_env(env_id, args.steps, args.episodes, args.logdir, args.timeout)}
        results[env_id] = result
        detail = result["detail"].replace("|", "\\|")
        print(f"| {family} | {env_id} | {result['outcome']} | {detail} | {result['seconds']} |", flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))
    return 1 if any(r["outcome"] == "FAILED" for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

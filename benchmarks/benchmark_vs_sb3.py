"""tfpg vs Stable-Baselines3, side by side: ``python benchmarks/benchmark_vs_sb3.py --case ppo-cartpole``.

For each seed it trains tfpg, then SB3 (A B A B ...), each in a fresh process, with the same algorithm, env,
hyperparameters, seed and step budget, and prints per pair and as medians: training env-steps/s (evaluation
time excluded on both sides), training time to the first deterministic evaluation whose mean return reaches
the case's threshold, the final evaluation return, process start → first rollout, and the tfpg/SB3 ratios.
``--case throughput`` trains tfpg alone in its many-env mode and compares it with the raw env's speed.

SB3, sb3-contrib (MaskablePPO) and PyTorch come from the optional ``bench`` extra (``pip install -e
.[bench]``); SB3 runs with one torch thread unless ``--threads N`` sets both sides' op threads. tfpg runs through
its real trainer (``agents.run.trainer.train``); its evaluation history is read back from the run's TensorBoard
events. Each run also reports where its training time went (tfpg: ``benchmarks/time_shares.py``'s phases; SB3:
rollout collection vs update). Results are printed and, with ``--out``, saved as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from agents.config import parse_override  # noqa: E402  (light: no TensorFlow import)
from benchmarks.sb3_cases import CASES, THROUGHPUT  # noqa: E402
from benchmarks.sb3_worker import run_sb3  # noqa: E402  (imports SB3 only when called)


# ----------------------------------------------------------------------------------------------- workers
def run_tfpg(case: dict, seed: int, eval_episodes: int, spawned_at: float, threads: int | None) -> dict:
    from agents.config import resolve_config
    from agents.run.console import import_tensorflow, wants_onednn

    values = dict(
        case["tfpg"],
        seed=seed,
        total_steps=case["steps"],
        num_envs=case["num_envs"],
        eval_every=case["eval_every"],
        eval_episodes=eval_episodes,
        eval_envs=min(eval_episodes, 10),
    )
    config = resolve_config(case["algo"], case["env"], values)
    # As tfpg-train imports it for this config (oneDNN when the network names a CNN), then the threads.
    tf = import_tensorflow(onednn=wants_onednn(config.network.cnn))
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from agents.experience import collector
    from agents.run.logging import read_scalars
    from agents.run.trainer import train
    from benchmarks.time_shares import time_shares

    first = {}
    collect = collector.RolloutCollector.collect

    def timed_collect(self, *args):  # timestamps the first rollout (the first env step follows at once)
        first.setdefault("t", time.time())
        first.setdefault("cpu", time.process_time())
        return collect(self, *args)

    collector.RolloutCollector.collect = timed_collect
    with tempfile.TemporaryDirectory() as tmp:
        summary = train(config, Path(tmp) / "run", progress=False)
        cpu_s = time.process_time() - first["cpu"]
        series = {
            tag: dict(zip(*read_scalars(str(Path(tmp) / "run"), tag), strict=True))
            for tag in ("eval/mean_return", "time/sps")
        }
        shares = time_shares(Path(tmp) / "run")
    # train time at an eval step = steps / (training SPS logged at that step), evaluation excluded; with
    # log_every > 1 the SPS is logged every few updates, so the train time is interpolated between them.
    sps_steps = sorted(series["time/sps"])
    train_times = [step / series["time/sps"][step] for step in sps_steps]
    evals = [
        (step, float(np.interp(step, sps_steps, train_times)), ret)
        for step, ret in sorted(series["eval/mean_return"].items())
    ]
    return dict(
        sps=summary["sps"],
        train_time_s=summary["train_time_s"],
        final_return=summary["eval_mean_return"],
        evals=evals,
        start_to_first_step_s=first["t"] - spawned_at,
        seconds={phase: round(value, 2) for phase, value in shares.items()},
        cpu_s=round(cpu_s, 1),
        steps=summary["total_steps"],
    )


def raw_env_sps(env_id: str, num_envs: int, seconds: float = 2.0, atari: bool = False) -> float:
    """Random-action env-steps/s of the env tfpg trains on (same vectorization, wrappers, num_envs)."""
    from envs.make import make_vector_env

    env = make_vector_env(env_id, num_envs, seed=0, atari_wrappers=atari)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(env.action_space.sample())
        steps += num_envs
    env.close()
    return steps / (time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ driver
def spawn(
    framework: str,
    case_name: str,
    seed: int,
    eval_episodes: int,
    tfpg_set: list[str],
    steps: int | None = None,
    threads: int | None = None,
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        framework,
        "--case",
        case_name,
        "--seeds",
        str(seed),
        "--eval-episodes",
        str(eval_episodes),
        "--spawned-at",
        repr(time.time()),
        *[f"--tfpg-set={text}" for text in tfpg_set],
        *([f"--steps={steps}"] if steps else []),
        *(["--threads", str(threads)] if threads else []),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    load = os.getloadavg()[0]  # the machine is shared: how busy it was as the run ended
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        return {
            "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        }
    return {**json.loads(lines[-1][len("RESULT ") :]), "load_1min": load}


def with_steps(case: dict, steps: int | None) -> dict:
    """The case with another step budget (``--steps``; None: its own)."""
    return case if not steps else dict(case, steps=steps)


def time_to_threshold(result: dict, threshold: float) -> tuple[float | None, int | None]:
    for step, train_time, ret in result.get("evals", []):
        if ret >= threshold:
            return train_time, step
    return None, None


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, spec=".0f"):
    return "—" if value is None else format(value, spec)


def compare(
    case_name: str,
    seeds: list[int],
    eval_episodes: int,
    frameworks: list[str],
    tfpg_set: list[str],
    steps: int | None = None,
    threads: int | None = None,
) -> dict:
    case = with_steps(CASES[case_name] if case_name != "throughput" else THROUGHPUT, steps)
    rows = []
    for seed in seeds:  # A B A B: one tfpg run, then one SB3 run, per seed
        row = {"seed": seed}
        for framework in frameworks:
            load_before = os.getloadavg()[0]  # a shared machine: every figure comes with its load
            result = spawn(framework, case_name, seed, eval_episodes, tfpg_set, steps, threads)
            result["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            result["ttt_s"], result["ttt_steps"] = time_to_threshold(result, case["threshold"])
            row[framework] = result
        rows.append(row)
        print_row(row, frameworks)
    summary = {
        "case": case_name,
        "env": case["env"],
        "steps": case["steps"],
        "threshold": case["threshold"],
        "rows": rows,
        "raw_env_sps": raw_env_sps(case["env"], case["num_envs"], atari=case.get("atari", False)),
    }
    for framework in frameworks:
        ok = [r[framework] for r in rows if "error" not in r[framework]]
        summary[framework] = {
            "sps": _median([r["sps"] for r in ok]),
            "ttt_s": _median([r["ttt_s"] for r in ok]),
            "ttt_steps": _median([r["ttt_steps"] for r in ok]),
            "final_return": _median([r["final_return"] for r in ok]),
            "solved": sum(
                r["final_return"] is not None and r["final_return"] >= case["threshold"] for r in ok
            ),
            "reached": sum(r["ttt_s"] is not None for r in ok),
            "runs": len(ok),
            "start_to_first_step_s": _median([r["start_to_first_step_s"] for r in ok]),
            "steps_per_cpu_s": _median([r["steps"] / r["cpu_s"] for r in ok if r.get("cpu_s")]),
            "load_1min": [r["load_1min"] for r in ok],
        }
    print_summary(summary, frameworks)
    return summary


def print_row(row: dict, frameworks: list[str]) -> None:
    parts = [f"seed {row['seed']}:"]
    for fw in frameworks:
        r = row[fw]
        if "error" in r:
            parts.append(f"{fw} ERROR {r['error']}")
            continue
        parts.append(
            f"{fw} sps {r['sps']:.0f} ttt {_fmt(r['ttt_s'], '.1f')}s@{_fmt(r['ttt_steps'], 'd')} "
            f"final {r['final_return']:.1f} start {r['start_to_first_step_s']:.1f}s "
            f"cpu {r['cpu_s']:.0f}s load {r['load_avg'][0]:.1f}→{r['load_avg'][1]:.1f}"
        )
        if "seconds" in r:
            parts.append("(" + ", ".join(f"{k} {v:.1f}s" for k, v in r["seconds"].items()) + ")")
    if len(frameworks) == 2 and all("error" not in row[fw] for fw in frameworks):
        a, b = row["tfpg"], row["sb3"]
        parts.append(f"| sps ratio {a['sps'] / b['sps']:.2f}")
        parts.append(f"steps/cpu-s ratio {(a['steps'] / a['cpu_s']) / (b['steps'] / b['cpu_s']):.2f}")
        if a["ttt_s"] and b["ttt_s"]:
            parts.append(f"ttt ratio {a['ttt_s'] / b['ttt_s']:.2f}")
    print(" ".join(parts), flush=True)


def print_summary(summary: dict, frameworks: list[str]) -> None:
    print(
        f"\n== {summary['case']} ({summary['env']}), medians; raw env {summary['raw_env_sps']:.0f} steps/s =="
    )
    for fw in frameworks:
        s = summary[fw]
        print(
            f"{fw:5s} sps {_fmt(s['sps'])}  time-to-{summary['threshold']:g} {_fmt(s['ttt_s'], '.1f')} s "
            f"(steps {_fmt(s['ttt_steps'])}, reached {s['reached']}/{s['runs']})  "
            f"final {_fmt(s['final_return'], '.1f')}"
            f"  solved {s['solved']}/{s['runs']}  start→first step {_fmt(s['start_to_first_step_s'], '.1f')} s"
            f"  steps per CPU-second {_fmt(s['steps_per_cpu_s'])}"
            f"  1-min load at each run's end {' '.join(f'{x:.1f}' for x in s['load_1min'])}"
        )
    if len(frameworks) == 2 and summary["tfpg"]["sps"] and summary["sb3"]["sps"]:
        a, b = summary["tfpg"], summary["sb3"]
        ttt = f"{a['ttt_s'] / b['ttt_s']:.2f}" if a["ttt_s"] and b["ttt_s"] else "—"
        cpu = f"{a['steps_per_cpu_s'] / b['steps_per_cpu_s']:.2f}" if a["steps_per_cpu_s"] else "—"
        print(
            f"ratio tfpg/sb3: sps {a['sps'] / b['sps']:.2f}  time-to-threshold {ttt}  steps per CPU-second {cpu}"
        )
    else:
        print(f"tfpg sps / raw env sps: {summary['tfpg']['sps'] / summary['raw_env_sps']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="ppo-cartpole", choices=[*CASES, "throughput"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation (default 10)")
    parser.add_argument("--tfpg-only", action="store_true", help="skip SB3 (no bench extra needed)")
    parser.add_argument(
        "--tfpg-set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="extra tfpg config override for this case, repeatable (e.g. --tfpg-set jit_compile=true)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="env steps per run instead of the case's budget (both frameworks alike; a speed-only comparison)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads of each side's ops (torch.set_num_threads; TensorFlow intra- and inter-op); default: "
        "1 for SB3, TensorFlow's own default for tfpg",
    )
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--worker", choices=["tfpg", "sb3"], help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        case = with_steps(CASES.get(args.case, THROUGHPUT), args.steps)
        case = dict(case, tfpg={**case["tfpg"], **dict(parse_override(text) for text in args.tfpg_set)})
        if args.steps:
            case["steps"] = args.steps
        run = run_tfpg if args.worker == "tfpg" else run_sb3
        print(
            "RESULT "
            + json.dumps(run(case, args.seeds[0], args.eval_episodes, args.spawned_at, args.threads)),
            flush=True,
        )
        return 0
    frameworks = ["tfpg"] if args.tfpg_only or args.case == "throughput" else ["tfpg", "sb3"]
    if "sb3" in frameworks:
        try:
            import stable_baselines3  # noqa: F401

            if CASES.get(args.case, {}).get("sb3_algo") == "maskable_ppo":
                import sb3_contrib  # noqa: F401
        except ImportError:
            print(
                "error: SB3 / sb3-contrib is not installed; pip install -e '.[bench]' (or pass --tfpg-only)",
                file=sys.stderr,
            )
            return 2
    summary = compare(
        args.case, args.seeds, args.eval_episodes, frameworks, args.tfpg_set, args.steps, args.threads
    )
    summary["tfpg_set"], summary["threads"] = args.tfpg_set, args.threads
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

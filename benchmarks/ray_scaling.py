"""How tfpg's collection scales with Ray workers, on an env that sleeps instead of computing.

    nice -n 10 python benchmarks/ray_scaling.py --workers 1 2 4 8 16 --plot benchmarks/plots/ray_scaling.png

Every configuration is a fresh ``train_agent.py`` process on ``tfpg-test/Latency-v0`` (each env step sleeps
``--latency`` seconds, like a slow simulator). Weak scaling: each Ray worker steps ``--envs-per-worker`` envs for
``--num-steps`` steps per rollout, so W workers make W times the data per iteration; the in-process baselines step
the same W x M envs in the learner's process, one after another (``sync``) or one subprocess each (``async``).
A run's first ``--warmup`` iterations (worker start-up, tracing) are dropped; from the rest, per configuration:

    training SPS    env steps / training time between the first and the last kept iteration (``time/sps``)
    collection SPS  steps per rollout / median ``time/collect_s`` (the learner's wait for a rollout)
    efficiency      SPS(W) / (W x SPS(1)), both Ray
    worker SPS      median over iterations and workers of ``time/worker_<i>_sps`` (its own stepping only)
    overhead        median of ``time/learner_wait_s`` minus the slowest worker's own collection time: weights
                    out, rollouts back, scheduling (what the framework adds to the env's time)
    update          median ``time/update_s``: the learner's PPO update on W x M x T samples

``--multinode`` instead runs the kill scenario of the multi-node test at benchmark size and reports what the loss
of a node cost; ``--update-cost`` times the learner's update for CartPole-, MuJoCo- and Atari-sized models (the
inputs of BENCHMARKS.md's "on paper" model). Results go to stdout and to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.run.logging import read_scalars  # noqa: E402
from envs.testing import LATENCY_ID  # noqa: E402

TRAIN = [sys.executable, str(ROOT / "scripts" / "train_agent.py")]


def run_command(args, mode: str, workers: int, run_dir: Path) -> list[str]:
    """The train_agent.py command of one configuration (mode: ray, sync or async)."""
    iterations = args.warmup + args.iterations
    num_envs = workers * args.envs_per_worker
    total = iterations * num_envs * args.num_steps  # checkpoints: only the final one (not per-iteration cost)
    command = [*TRAIN, "--env", LATENCY_ID, "--set", f"env_kwargs={{latency_s: {args.latency}}}",
               "--set", f"num_steps={args.num_steps}", "--set", "histogram_every=0", "--num-envs", str(num_envs),
               "--total-steps", str(total), "--checkpoint-every", str(10 * total), "--eval-episodes", "1",
               "--logdir", str(run_dir.parent), "--run-name", run_dir.name, "--no-progress"]  # fmt: skip
    if mode == "ray":
        # Workers mostly sleep: each reserves a fraction of a CPU so that all of them fit on this machine.
        command += [
            "--backend",
            "ray",
            "--num-workers",
            str(workers),
            "--set",
            f"worker_cpus={args.worker_cpus}",
        ]
    else:
        command += ["--vectorization", mode]
    return command


def measure(run_dir: Path, warmup: int, workers: int, ray: bool) -> dict[str, float]:
    """Steady-state figures of one finished run (see the module docstring)."""
    run = str(run_dir)
    steps, sps = read_scalars(run, "time/sps")
    train_time = [s / v for s, v in zip(steps, sps, strict=True)]  # cumulative training seconds at each step
    per_rollout = steps[0]
    kept = slice(warmup, None)
    result = {
        "training_sps": (steps[-1] - steps[warmup - 1]) / (train_time[-1] - train_time[warmup - 1]),
        "collection_sps": per_rollout / statistics.median(read_scalars(run, "time/collect_s")[1][kept]),
        "update_s": statistics.median(read_scalars(run, "time/update_s")[1][kept]),
        "iterations": len(steps) - warmup,
    }
    if ray:
        wait = read_scalars(run, "time/learner_wait_s")[1][kept]
        worker_sps = [read_scalars(run, f"time/worker_{i}_sps")[1][kept] for i in range(workers)]
        steps_per_worker = per_rollout / workers
        slowest = [steps_per_worker / min(column) for column in zip(*worker_sps, strict=True)]
        result["learner_wait_s"] = statistics.median(wait)
        result["worker_sps"] = statistics.median([v for column in worker_sps for v in column])
        result["overhead_s"] = statistics.median([w - s for w, s in zip(wait, slowest, strict=True)])
    return result


def scaling(args, env: dict[str, str]) -> list[dict]:
    rows = []
    for mode in args.modes:
        for workers in args.workers:
            run_dir = Path(args.out_dir) / f"{mode}-w{workers}"
            command = run_command(args, mode, workers, run_dir)
            start = time.monotonic()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(
                    f"{mode} W={workers} failed (rc {done.returncode}):\n{done.stderr[-3000:]}",
                    file=sys.stderr,
                )
                continue
            figures = measure(run_dir, args.warmup, workers, mode == "ray")
            row = {"mode": mode, "workers": workers, "envs": workers * args.envs_per_worker,
                   "wall_s": time.monotonic() - start, **figures}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["mode"] == "ray" and r["workers"] == 1), None)
    for row in rows:
        if base:
            row["efficiency"] = row["training_sps"] / (row["workers"] * base["training_sps"])
            row["collection_efficiency"] = row["collection_sps"] / (row["workers"] * base["collection_sps"])
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| mode | workers | envs | training SPS | efficiency | collection SPS | coll. eff. | worker SPS "
        "| learner wait (s) | overhead (s) | update (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(row, key, digits):
        return f"{row[key]:,.{digits}f}" if key in row else "–"

    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['workers']} | {r['envs']} | {fmt(r, 'training_sps', 0)} | {fmt(r, 'efficiency', 2)} "
            f"| {fmt(r, 'collection_sps', 0)} | {fmt(r, 'collection_efficiency', 2)} | {fmt(r, 'worker_sps', 0)} "
            f"| {fmt(r, 'learner_wait_s', 3)} | {fmt(r, 'overhead_s', 3)} | {fmt(r, 'update_s', 3)} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: str, latency: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    ray_rows = [r for r in rows if r["mode"] == "ray"]
    for mode, style in (("ray", "o-"), ("sync", "s--"), ("async", "^--")):
        part = [r for r in rows if r["mode"] == mode]
        if part:
            label = {"ray": "Ray workers", "sync": "in-process (sync)", "async": "in-process (async)"}[mode]
            left.plot(
                [r["workers"] for r in part],
                [r["training_sps"] for r in part],
                style,
                label=f"{label}: training",
            )
    if ray_rows:
        ws = [r["workers"] for r in ray_rows]
        left.plot(ws, [r["collection_sps"] for r in ray_rows], "o:", label="Ray: collection only")
        left.plot(ws, [w * ray_rows[0]["training_sps"] for w in ws], "k:", lw=0.8, label="ideal (W x SPS(1))")
        right.plot(ws, [r["efficiency"] for r in ray_rows], "o-", label="efficiency (training)")
        right.plot(ws, [r["collection_efficiency"] for r in ray_rows], "o:", label="efficiency (collection)")
        twin = right.twinx()
        twin.plot(
            ws, [r["overhead_s"] for r in ray_rows], "s--", color="tab:red", label="round-trip overhead (s)"
        )
        twin.plot(ws, [r["update_s"] for r in ray_rows], "^--", color="tab:purple", label="update (s)")
        twin.set_ylabel("seconds per iteration")
        twin.set_ylim(bottom=0)
        top = max(r[k] for r in ray_rows for k in ("efficiency", "collection_efficiency"))
        right.set_ylim(0, max(1.1, top + 0.1))
        twin.legend(loc="center right", fontsize=8)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(
            sorted({r["workers"] for r in rows}), [str(w) for w in sorted({r["workers"] for r in rows})]
        )
        ax.set_xlabel("workers (W); envs = 4 W")
        ax.grid(alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("env steps / s")
    left.set_title(f"Latency env ({latency * 1000:g} ms a step): throughput")
    right.set_ylabel("SPS(W) / (W x SPS(1))")
    right.set_title("Ray efficiency and what grows")
    left.legend(fontsize=8)
    right.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def multinode(args, env: dict[str, str]) -> dict:
    """Two-node loopback cluster; 2 workers (one per node); SIGKILL the second node mid-run; what did it cost?"""
    from agents.experience.ray_cluster import LocalRayCluster

    fast = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3"}
    extra = fast if args.fast_health_check else {}
    cluster = LocalRayCluster(Path(args.out_dir) / "cluster", head_cpus=2, node_cpus=(1,), extra_env=extra)
    t0 = time.monotonic()
    cluster.start()
    started_s = time.monotonic() - t0
    run_dir = Path(args.out_dir) / "multinode"
    command = [*run_command(args, "ray", 2, run_dir), "--ray-address", cluster.address]
    events: dict[str, float] = {}
    lines: list[str] = []
    try:
        process = subprocess.Popen(command, env={**env, **cluster.env()}, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        begin = time.monotonic()

        def watch():
            for line in process.stderr:
                lines.append(line)
                if line.startswith("tfpg: Ray rollout workers started"):
                    events["workers_up_s"] = time.monotonic() - begin
                    time.sleep(args.kill_after)
                    cluster.kill_node("node1")
                    events["killed_at_s"] = time.monotonic() - begin
                elif "failed (" in line and "noticed_s" not in events:
                    events["noticed_s"] = time.monotonic() - begin

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        process.wait()
        watcher.join(timeout=10)
        events["run_s"] = time.monotonic() - begin
    finally:
        cluster.stop()
    summary = (
        json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    )
    steps, wait = read_scalars(str(run_dir), "time/learner_wait_s")
    worst = max(range(len(wait)), key=wait.__getitem__)
    return {
        "cluster_start_s": started_s, "returncode": process.returncode, **events,
        "placement": [line.strip() for line in lines if line.startswith("tfpg: Ray rollout workers")],
        "failures": [line.strip()[:160] for line in lines if "failed (" in line],
        "worst_wait_s": wait[worst], "worst_wait_step": steps[worst], "median_wait_s": statistics.median(wait),
        "total_steps": summary.get("total_steps"), "interrupted": summary.get("interrupted"),
        "training_sps": summary.get("sps"), "complete": all((run_dir / f).exists() for f in
                                                             ("config.json", "summary.json", "checkpoint", "best")),
    }  # fmt: skip


MODEL_SIZES = {
    "CartPole-sized (obs 4, MLP 64x64)": [4],
    "MuJoCo-sized (obs 17, MLP 64x64)": [17],
    "Atari-sized (84x84x4 uint8, Nature CNN)": [84, 84, 4],
}


def update_cost(args, env: dict[str, str]) -> list[dict]:
    """The learner's side: PPO update time per sample and epoch for three model sizes (latency 0, in-process).

    Each size trains ``warmup + iterations`` rollouts of 8 envs x 128 steps (1,024 samples, minibatch 256,
    ``--epochs`` epochs); the median ``time/update_s`` over the kept iterations gives the cost of one sample
    through one epoch, and from it the most samples per second one learner can take in (collection free).
    """
    rows = []
    samples = 8 * 128
    for name, shape in MODEL_SIZES.items():
        run_dir = Path(args.out_dir) / f"update-{'x'.join(map(str, shape))}"
        total = (args.warmup + args.iterations) * samples
        command = [*TRAIN, "--env", LATENCY_ID, "--set", f"env_kwargs={{latency_s: 0, obs_shape: {shape}}}",
                   "--num-envs", "8", "--set", "num_steps=128", "--set", "minibatch_size=256",
                   "--set", f"update_epochs={args.epochs}", "--set", "histogram_every=0", "--total-steps", str(total),
                   "--checkpoint-every", str(10 * total), "--eval-episodes", "1", "--logdir", str(run_dir.parent),
                   "--run-name", run_dir.name, "--no-progress"]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name} failed (rc {done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        update_s = statistics.median(read_scalars(str(run_dir), "time/update_s")[1][args.warmup :])
        per_sample_epoch = update_s / (samples * args.epochs)
        row = {"model": name, "update_s": update_s, "samples": samples, "epochs": args.epochs,
               "us_per_sample_epoch": per_sample_epoch * 1e6}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument(
        "--modes", nargs="+", default=["ray", "sync", "async"], choices=["ray", "sync", "async"]
    )
    parser.add_argument("--latency", type=float, default=0.002, help="seconds each env step sleeps")
    parser.add_argument("--envs-per-worker", type=int, default=4)
    parser.add_argument("--worker-cpus", type=float, default=0.1, help="CPUs each Ray worker reserves (0.1)")
    parser.add_argument("--num-steps", type=int, default=64, help="rollout length T")
    parser.add_argument("--iterations", type=int, default=10, help="measured iterations per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="first iterations dropped (start-up, tracing)")
    parser.add_argument("--out-dir", default="/tmp/tfpg-ray-scaling", help="run directories go here")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--plot", help="write the scaling figure here (PNG)")
    parser.add_argument("--multinode", action="store_true", help="run the node-kill scenario instead")
    parser.add_argument(
        "--kill-after", type=float, default=5.0, help="--multinode: seconds after workers start"
    )
    parser.add_argument(
        "--fast-health-check", action="store_true", help="--multinode: a lost node is declared dead in ~2 s"
    )
    parser.add_argument(
        "--update-cost", action="store_true", help="time the learner's update for 3 model sizes"
    )
    parser.add_argument("--epochs", type=int, default=10, help="--update-cost: PPO epochs per update")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.iterations < 1:
        parser.error("--warmup and --iterations must be at least 1")
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(Path(args.out_dir).resolve() / "home")}  # nothing of Ray's lands in ~
    if args.multinode:
        result = multinode(args, env)
        print(json.dumps(result, indent=2))
    elif args.update_cost:
        result = update_cost(args, env)
    else:
        result = scaling(args, env)
        print(table(result))
        if args.plot:
            plot(result, args.plot, args.latency)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run a benchmark spec and write its table into BENCHMARKS.md, with one learning-curve PNG per env.

    python benchmarks/benchmark.py --spec benchmarks/issue3.yaml --jobs 16 --out BENCHMARKS.md

The spec (YAML) lists runs of ``scripts/train_agent.py``::

    seeds: [0, 1, 2]            # default for every entry
    runs:
      - {algo: ppo, env: CartPole-v1, steps: 100000, threshold: 475}
      - {algo: a2c, env: Acrobot-v1, steps: 500000, seeds: [0], set: {learning_rate: 1e-3}}
      - {algo: ppo, env: CartPole-v1, steps: 100000, label: gru, set: {recurrent: gru}}

``label`` tells apart entries of one algorithm on one env (its run names, table row and curve carry it).

Every (entry, seed) is one ``train_agent.py`` process; ``--jobs`` of them run at once, each limited to
``--threads`` TensorFlow/OpenMP threads so they do not oversubscribe the cores. Finished runs (a run directory
with summary.json) are reused, so an interrupted benchmark picks up where it stopped; a failed or timed-out
run becomes an error row, never an abort. The table goes between ``<!-- benchmark:NAME -->`` markers in
``--out`` (NAME = the spec's file stem), so other sections of the file are kept. Curves are read back from
each run's TensorBoard event files (``rollout/episode_return``) and drawn as mean ± std over seeds.
With ``--backend ray [--ray-address ADDR]`` every (entry, seed) is a Ray task instead (``--cpus-per-run`` CPUs
each, spread over the cluster's nodes; see ``agents/run/ray_runs.py``): run directories and logs come back into
the log dir on this machine, and a run whose node dies is rerun elsewhere (``--retries``) or becomes an error row.
Exit codes: 0 all runs done, 1 some runs failed (their rows say why), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from benchmarks.benchmark_report import plot_env, render, write_section  # noqa: E402


class SpecError(ValueError):
    """The spec file cannot be used; the message says what to fix."""


@dataclass
class Entry:
    """One line of the table: an algorithm on an env at a budget, over seeds."""

    algo: str
    env: str
    steps: int
    seeds: list[int]
    overrides: dict = field(default_factory=dict)
    threshold: float | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        """The algorithm, and the label if the entry has one (``ppo-gru``)."""
        return f"{self.algo}-{self.label}" if self.label else self.algo

    def run_name(self, seed: int) -> str:
        # One path component: train_agent's --run-name is a directory name (ALE/..., MinAtar/..., tfpg/... ids).
        return f"{self.env.replace('/', '_')}__{self.name}__{self.steps}__s{seed}"

    def train_args(self, seed: int | str) -> list[str]:
        args = ["--algo", self.algo, "--env", self.env, "--seed", str(seed), "--total-steps", str(self.steps)]
        for key, value in self.overrides.items():
            args += ["--set", f"{key}={json.dumps(value)}"]  # JSON is YAML: train_agent parses it back
        return args

    def command(self) -> str:
        """A shell command that reproduces every seed of this entry."""
        args = " ".join(shlex.quote(a) for a in self.train_args("$S")).replace("'$S'", "$S")
        seeds = " ".join(str(s) for s in self.seeds)
        return f"for S in {seeds}; do python scripts/train_agent.py {args}; done"


def load_spec(path: Path) -> list[Entry]:
    """Parse and check a spec: known algorithms and config fields, positive steps, a seed list."""
    from agents.config import ConfigError, resolve_config

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SpecError(f"Cannot read spec {path}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or not data["runs"]:
        raise SpecError(
            f"Spec {path} must be a mapping with a non-empty 'runs' list (see benchmark.py --help)."
        )
    entries = []
    for i, raw in enumerate(data["runs"]):
        where = f"{path} runs[{i}]"
        if not isinstance(raw, dict) or not {"algo", "env", "steps"} <= raw.keys():
            raise SpecError(f"{where}: each run needs algo, env and steps, got {raw!r}.")
        unknown = set(raw) - {"algo", "env", "steps", "seeds", "set", "threshold", "label"}
        if unknown:
            raise SpecError(
                f"{where}: unknown keys {sorted(unknown)}; allowed: algo env steps seeds set threshold label."
            )
        if "label" in raw and not (isinstance(raw["label"], str) and raw["label"].isidentifier()):
            raise SpecError(f"{where}: label must be a word (letters, digits, _), got {raw['label']!r}.")
        seeds = raw.get("seeds", data.get("seeds", [0]))
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
            raise SpecError(f"{where}: seeds must be a non-empty list of ints, got {seeds!r}.")
        if not isinstance(raw["steps"], int) or raw["steps"] <= 0:
            raise SpecError(f"{where}: steps must be a positive int, got {raw['steps']!r}.")
        entry = Entry(
            raw["algo"],
            raw["env"],
            raw["steps"],
            seeds,
            raw.get("set") or {},
            raw.get("threshold"),
            raw.get("label"),
        )
        try:
            resolve_config(entry.algo, entry.env, dict(entry.overrides))
        except ConfigError as err:
            raise SpecError(f"{where}: {err}") from err
        entries.append(entry)
    return entries


# ------------------------------------------------------------------------------------------- running
def same_config(entry: Entry, seed: int, run_dir: Path) -> bool:
    """Whether a finished run was trained with the config this entry resolves to now (presets may change)."""
    from agents.config import resolve_config

    values = {"seed": seed, "total_steps": entry.steps, **entry.overrides}
    wanted = resolve_config(entry.algo, entry.env, values).to_dict()
    try:
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return all(saved.get(part) == wanted[part] for part in ("run", "network", "agent"))


def reuse_or_clear(entry: Entry, seed: int, logdir: Path) -> dict | None:
    """A finished run's summary when it was made with this entry's config; else None, with any leftover run
    directory (failed half-way, or made with other hyperparameters) moved aside so the run can start afresh."""
    run_dir = logdir / entry.run_name(seed)
    summary_path = run_dir / "summary.json"
    if summary_path.exists() and same_config(entry, seed, run_dir):
        return json.loads(summary_path.read_text())
    if run_dir.exists():
        why = "stale" if summary_path.exists() else "failed"
        run_dir.rename(run_dir.with_name(f"{run_dir.name}.{why}-{time.strftime('%Y%m%d-%H%M%S')}"))
    return None


def run_env(threads: int) -> dict[str, str]:
    """Environment of one training process: ``threads`` TF/OpenMP threads, quiet TF, headless MuJoCo."""
    return {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": str(threads),
            "TF_CPP_MIN_LOG_LEVEL": "3", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}  # fmt: skip


def run_one(entry: Entry, seed: int, logdir: Path, threads: int, timeout: float | None) -> dict:
    """Train one seed in its own process; returns its summary.json, or {"error": ...}."""
    reused = reuse_or_clear(entry, seed, logdir)
    if reused is not None:
        return reused
    run_dir = logdir / entry.run_name(seed)
    summary_path = run_dir / "summary.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "train_agent.py"), "--no-progress", *entry.train_args(seed)]
    cmd += ["--logdir", str(logdir), "--run-name", run_dir.name]
    env = {**os.environ, **run_env(threads)}
    log_path = logdir / f"{run_dir.name}.log"
    try:
        with open(log_path, "w") as log:
            proc = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=ROOT
            )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s (log: {log_path})"}
    if proc.returncode != 0 or not summary_path.exists():
        lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
        return {"error": f"exit {proc.returncode}: {last.strip()[:200]} (log: {log_path})"}
    return json.loads(summary_path.read_text())


def run_all_ray(entries: list[Entry], logdir: Path, args) -> dict:
    """Every (entry, seed) as a Ray task on the cluster at ``args.ray_address`` (or a local Ray), each with
    ``args.cpus_per_run`` CPUs; run directories come back into ``logdir``. {(entry index, seed): result}."""
    from agents.run.ray_runs import RunRequest, run_on_ray

    results, requests = {}, {}
    for i, entry in enumerate(entries):
        for seed in entry.seeds:
            reused = reuse_or_clear(entry, seed, logdir)
            if reused is not None:
                results[(i, seed)] = reused
            else:
                requests[entry.run_name(seed)] = (
                    (i, seed),
                    RunRequest(
                        entry.run_name(seed),
                        tuple(entry.train_args(seed)),
                        run_env(args.threads),
                        args.timeout,
                    ),
                )
    total = len(results) + len(requests)

    def record(result) -> None:
        key = requests[result.name][0]
        results[key] = (
            {"error": result.error}
            if result.error
            else json.loads((result.run_dir / "summary.json").read_text())
        )
        status = result.error or f"eval {results[key].get('eval_mean_return')} (node {str(result.node)[:8]})"
        print(f"[{len(results)}/{total}] {entries[key[0]].name} {entries[key[0]].env} seed {key[1]}: {status}",
              flush=True)  # fmt: skip

    run_on_ray([request for _, request in requests.values()], logdir, args.ray_address, args.cpus_per_run,
               args.retries, on_result=record)  # fmt: skip
    return results


def run_all(entries: list[Entry], logdir: Path, jobs: int, threads: int, timeout: float | None) -> dict:
    """Every (entry, seed) through a pool of ``jobs`` worker processes; {(entry index, seed): result}."""
    tasks = [(i, seed) for i, entry in enumerate(entries) for seed in entry.seeds]
    results = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(run_one, entries[i], seed, logdir, threads, timeout): (i, seed) for i, seed in tasks
        }
        for n, future in enumerate(as_completed(futures), 1):
            key = futures[future]
            try:
                results[key] = future.result()
            except Exception as err:  # a bug here must still not lose the other rows
                results[key] = {"error": f"{type(err).__name__}: {err}"}
            entry = entries[key[0]]
            status = results[key].get("error") or f"eval {results[key].get('eval_mean_return')}"
            print(f"[{n}/{len(tasks)}] {entry.name} {entry.env} seed {key[1]}: {status}", flush=True)
    return results


def finished(entry: Entry, logdir: Path) -> bool:
    """Whether any seed of ``entry`` has a finished run in ``logdir``."""
    return any((logdir / entry.run_name(seed) / "summary.json").exists() for seed in entry.seeds)


def in_spec_order(entries: list[Entry], results: dict, spec: list[Entry]) -> tuple[list[Entry], dict]:
    """Entries (and their results, keyed by (index, seed)) reordered as in the spec."""
    order = sorted(range(len(entries)), key=lambda i: spec.index(entries[i]))
    reordered = [entries[i] for i in order]
    return reordered, {
        (new, s): results[(old, s)] for new, old in enumerate(order) for s in entries[old].seeds
    }


def collect(entries: list[Entry], logdir: Path, offset: int) -> dict:
    """Results of earlier runs, without running anything; a seed never run is an error."""
    results = {}
    for i, entry in enumerate(entries, offset):
        for seed in entry.seeds:
            path = logdir / entry.run_name(seed) / "summary.json"
            if not path.exists():
                results[(i, seed)] = {"error": "not run"}
            elif not same_config(entry, seed, path.parent):
                results[(i, seed)] = {
                    "error": f"stale: the preset changed since; rerun --only {entry.name}:{entry.env}"
                }
            else:
                results[(i, seed)] = json.loads(path.read_text())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", required=True, type=Path, help="benchmark spec YAML (see module docstring)")
    parser.add_argument("--jobs", type=int, default=1, help="training processes at once (default 1)")
    parser.add_argument("--threads", type=int, help="TF/OpenMP threads per job (default: cores // jobs)")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="markdown file to update")
    parser.add_argument("--logdir", type=Path, help="where runs go (default: benchmarks/runs/SPEC_NAME)")
    parser.add_argument("--plots", type=Path, help="where PNGs go (default: benchmarks/plots/SPEC_NAME)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ALGO:ENV",
        help="run only these entries (ALGO-LABEL:ENV for a labelled one)",
    )
    parser.add_argument("--timeout", type=float, help="seconds before a single run is killed (default: none)")
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: --jobs processes on this machine (default); ray: every run a Ray task on a cluster",
    )
    parser.add_argument("--ray-address", help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--cpus-per-run", type=float, default=1, help="with --backend ray: CPUs per run (1)")
    parser.add_argument(
        "--retries", type=int, default=2, help="with --backend ray: reruns of a run whose node died (2)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.cpus_per_run <= 0 or args.retries < 0:
        print(
            "error: --jobs must be at least 1, --cpus-per-run above 0, --retries at least 0", file=sys.stderr
        )
        return 2
    if args.backend == "ray":
        args.threads = args.threads or max(1, int(args.cpus_per_run))
        from agents.experience.ray_session import RayAddressError, check_ray_address

        try:  # before any training: is a cluster there at all?
            check_ray_address(args.ray_address)
        except RayAddressError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    try:
        import matplotlib  # noqa: F401  (fail now, not after hours of training)
    except ImportError:
        print('error: plotting needs matplotlib: pip install -e ".[bench]"', file=sys.stderr)
        return 2
    try:
        entries = load_spec(args.spec)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    all_entries = entries
    if args.only:
        entries = [e for e in entries if {f"{e.algo}:{e.env}", f"{e.name}:{e.env}"} & set(args.only)]
        if not entries:
            print(f"error: no spec entry matches --only {args.only}", file=sys.stderr)
            return 2
    name = args.spec.stem
    logdir = (args.logdir or ROOT / "benchmarks" / "runs" / name).resolve()
    plots_dir = (args.plots or ROOT / "benchmarks" / "plots" / name).resolve()
    logdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.backend == "ray":
        results = run_all_ray(entries, logdir, args)
    else:
        results = run_all(entries, logdir, args.jobs, args.threads, args.timeout)
    if args.only:  # rows of the entries not run this time, from earlier runs in logdir, stay in the table
        earlier = [e for e in all_entries if e not in entries and finished(e, logdir)]
        results.update(collect(earlier, logdir, offset=len(entries)))
        entries, results = in_spec_order(entries + earlier, results, all_entries)
    plots = {}
    for env in dict.fromkeys(e.env for e in entries):
        path = plots_dir / f"{env.replace('/', '_')}.png"
        try:
            if plot_env(env, [e for e in entries if e.env == env], logdir, path):
                plots[env] = path
        except Exception as err:  # a broken event file costs its plot, not the table
            print(f"warning: no plot for {env}: {type(err).__name__}: {err}", file=sys.stderr)
    section, ok = render(name, entries, results, args, args.out.resolve(), plots, time.perf_counter() - start)
    write_section(args.out, name, section)
    print(f"wrote {args.out} ({len(entries)} rows) and {len(plots)} plot(s) in {plots_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The report half of ``benchmarks/benchmark.py``: markdown rows, learning-curve PNGs, the BENCHMARKS.md section.

Only what a run produced goes between a spec's ``<!-- benchmark:NAME -->`` markers; the heading and any
hand-written notes sit outside them, so rerunning a spec never overwrites them.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
import warnings
from pathlib import Path

CURVE_TAG = "rollout/episode_return"
CURVE_BINS = 60


def fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) < 1e4 else f"{x:.3g}"


def fmt_time(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def table_row(entry, results: list[dict]) -> tuple[str, bool]:
    """The markdown row of one ``benchmark.Entry`` and whether all its seeds finished."""
    import numpy as np

    done = [r for r in results if "error" not in r]
    errors = [r["error"] for r in results if "error" in r]
    seeds = " ".join(str(s) for s in entry.seeds)
    if not done:
        cells = [entry.name, entry.env, seeds, f"{entry.steps:,}", "**error**", *["–"] * 4]
        return "| " + " | ".join(cells) + f" | {cell(errors[0])} |", False
    means = np.array([r["eval_mean_return"] for r in done], float)
    result = f"{fmt(means.mean())} ± {fmt(means.std())}"
    episodes = {r["eval_episodes"] for r in done}
    if episodes != {20}:
        result += f" ({'/'.join(str(e) for e in sorted(episodes))} episodes)"
    if errors:
        result += f" ({len(done)}/{len(results)} seeds; {cell(errors[0])})"
    met = "–" if entry.threshold is None else ("yes" if means.mean() >= entry.threshold else "**no**")
    threshold = "–" if entry.threshold is None else fmt(entry.threshold)
    wall = np.mean([r["wall_time_s"] for r in done])
    sps = np.mean([r["sps"] for r in done])
    steps = f"{int(np.max([r['total_steps'] for r in done])):,}"
    cells = [entry.name, entry.env, seeds, steps, result, threshold, met, fmt_time(wall), f"{sps:,.0f}"]
    return "| " + " | ".join(cells) + f" | `{entry.command()}` |", not errors


def read_curve(run_dir: Path) -> tuple[list[int], list[float]]:
    """(steps, values) of CURVE_TAG from a run's event files; empty if the run has none (yet)."""
    from agents.run.logging import read_scalars

    try:
        return read_scalars(str(run_dir), CURVE_TAG)
    except KeyError:  # no episode finished in the run
        return [], []


def plot_env(env: str, entries: list, logdir: Path, path: Path) -> bool:
    """One PNG of every algorithm's curve on ``env``: per-seed returns binned over steps, mean ± std band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for entry in entries:
        edges = np.linspace(0, entry.steps, CURVE_BINS + 1)
        per_seed = []
        for seed in entry.seeds:
            run_dir = logdir / entry.run_name(seed)
            steps, values = read_curve(run_dir) if run_dir.is_dir() else ([], [])
            if not steps:
                continue
            idx = np.digitize(steps, edges[1:-1])
            sums, counts = np.bincount(idx, values, CURVE_BINS), np.bincount(idx, minlength=CURVE_BINS)
            binned = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            # Carry the last value forward over empty bins (long episodes end rarely).
            for k in range(1, CURVE_BINS):
                if np.isnan(binned[k]):
                    binned[k] = binned[k - 1]
            per_seed.append(binned)
        if not per_seed:
            continue
        curves = np.array(per_seed)
        centers = (edges[:-1] + edges[1:]) / 2
        with warnings.catch_warnings():  # bins before any seed's first episode are all-NaN: left blank
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(curves, 0), np.nanstd(curves, 0)
        label = f"{entry.name} ({len(per_seed)} seed{'s' if len(per_seed) > 1 else ''})"
        (line,) = ax.plot(centers, mean, label=label, marker=".", markersize=3)
        ax.fill_between(centers, mean - std, mean + std, alpha=0.2, color=line.get_color())
        drawn = True
    if drawn:
        ax.set(title=env, xlabel="environment steps", ylabel="training episode return")
        ax.grid(alpha=0.3)
        ax.legend()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    plt.close(fig)
    return drawn


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()}"


def render(
    name: str, entries, results, args, out: Path, plots: dict[str, Path], elapsed: float
) -> tuple[str, bool]:
    """The markdown section of this spec and whether every run finished."""
    rows, ok = [], True
    for i, entry in enumerate(entries):
        row, entry_ok = table_row(entry, [results[(i, s)] for s in entry.seeds])
        rows.append(row)
        ok &= entry_ok
    links = [f"![{env}]({os.path.relpath(p, out.parent)})" for env, p in plots.items()]
    only = "".join(f" --only {o}" for o in args.only)
    if getattr(args, "backend", "local") == "ray":
        how = f"a Ray cluster, one task of {args.cpus_per_run:g} CPU(s) per run"
        flags = f"--backend ray --cpus-per-run {args.cpus_per_run:g}"
    else:
        how, flags = f"{machine()}, `--jobs {args.jobs}` runs at a time", f"--jobs {args.jobs}"
    return "\n".join(
        [
            f"<!-- benchmark:{name} -->",
            f"Measured {time.strftime('%Y-%m-%d')} on {how} with "
            f"{args.threads} thread(s) each; {fmt_time(elapsed)} for this call. Command: "
            f"`python benchmarks/benchmark.py --spec {args.spec} {flags} --out {args.out}{only}`.",
            "Eval: final deterministic evaluation over 20 episodes per seed; mean ± std over seeds of those "
            "per-seed means. Wall time and SPS are per seed (SPS excludes evaluation).",
            "",
            "| algo | env | seeds | steps | eval return | target | met | wall time | SPS | reproduce |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            *links,
            f"<!-- /benchmark:{name} -->",
        ]
    ), ok


def write_section(out: Path, name: str, section: str) -> None:
    """Replace this spec's section of ``out`` (or append it under a heading of its own), atomically."""
    begin, end = f"<!-- benchmark:{name} -->", f"<!-- /benchmark:{name} -->"
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n## Benchmark `{name}`\n\n" + section + "\n"
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, out)

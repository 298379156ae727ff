"""``tfpg-plot`` (= ``python scripts/plot_runs.py``): learning curves of run directories, ``tfpg-plot runs``.

Runs are found under each LOGDIR (any directory holding TensorBoard event files), grouped by (env, algo) from
their config.json, and drawn as the mean over seeds with a ±1 std band; one panel per env.
``--data FILE.json`` also writes the plotted numbers, so they can be checked against the event files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from agents.cli import error


def find_runs(logdirs: list[str]) -> list[Path]:
    """Every directory under the given ones that directly holds TensorBoard event files."""
    runs = set()
    for logdir in logdirs:
        root = Path(logdir)
        if not root.exists():
            raise FileNotFoundError(f"Log directory {root} does not exist.")
        runs.update(p.parent for p in root.rglob("events.out.tfevents.*"))
    return sorted(runs)


def group_key(run_dir: Path) -> tuple[str, str]:
    """(env, algo) from the run's config.json; the directory name when there is none."""
    try:
        run = json.loads((run_dir / "config.json").read_text())["run"]
        return run["env_id"], run["algo"]
    except (OSError, KeyError, ValueError):
        return run_dir.name, "?"


def mean_std_curve(curves: list[tuple[list[int], list[float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over runs on the first run's steps, within the step range every run covers."""
    last_common = min(steps[-1] for steps, _ in curves)
    grid = np.array([s for s in curves[0][0] if s <= last_common], dtype=float)
    ys = np.stack([np.interp(grid, steps, values) for steps, values in curves])
    return grid, ys.mean(axis=0), ys.std(axis=0)


def load_groups(logdirs: list[str], tag: str) -> dict[tuple[str, str], dict[str, tuple[list, list]]]:
    """{(env, algo): {run_dir: (steps, values)}} for every run that has ``tag``."""
    from agents.run.console import import_tensorflow

    import_tensorflow()
    from agents.run.logging import read_scalars

    groups: dict[tuple[str, str], dict[str, tuple[list, list]]] = defaultdict(dict)
    for run_dir in find_runs(logdirs):
        try:
            steps, values = read_scalars(str(run_dir), tag)
        except KeyError:
            continue
        if steps:
            groups[group_key(run_dir)][str(run_dir)] = (steps, values)
    return dict(groups)


def plot(groups, tag: str, out: Path) -> dict:
    """Draw the groups into ``out`` (PNG); returns the plotted numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({env for env, _ in groups})
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
    data = {}
    for ax, env in zip(axes[0], envs, strict=True):
        for (g_env, algo), runs in sorted(groups.items()):
            if g_env != env:
                continue
            steps, mean, std = mean_std_curve(list(runs.values()))
            label = f"{algo} ({len(runs)} run{'s' * (len(runs) > 1)})"
            ax.plot(steps, mean, label=label)
            ax.fill_between(steps, mean - std, mean + std, alpha=0.25)
            data[f"{env}/{algo}"] = {
                "steps": steps.tolist(),
                "mean": mean.tolist(),
                "std": std.tolist(),
                "runs": {name: list(curve) for name, curve in runs.items()},
            }
        ax.set_title(env)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(tag)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plot mean ± std learning curves of tfpg runs.")
    parser.add_argument("logdirs", nargs="+", help="run directories or their parents (e.g. runs)")
    parser.add_argument("--tag", default="rollout/episode_return", help="scalar tag to plot")
    parser.add_argument("--out", default="curves.png", help="output PNG (default: curves.png)")
    parser.add_argument("--data", help="also write the plotted numbers to this JSON file")
    args = parser.parse_args(argv)
    try:
        groups = load_groups(args.logdirs, args.tag)
    except FileNotFoundError as err:
        return error(err)
    if not groups:
        return error(f"no run under {', '.join(args.logdirs)} has the tag {args.tag!r}.")
    data = plot(groups, args.tag, Path(args.out))
    if args.data:
        Path(args.data).write_text(json.dumps(data))
    print(f"wrote {args.out} ({len(groups)} group(s), {sum(len(r) for r in groups.values())} run(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())

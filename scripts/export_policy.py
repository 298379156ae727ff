"""Export a run's policy as a SavedModel: ``python scripts/export_policy.py runs/RUN --out policy/``.

The SavedModel takes raw observations (normalization baked in) and needs only TensorFlow:
``tf.saved_model.load("policy").signatures["serving_default"](observations=obs)["actions"]``; ``sample`` is the
stochastic signature and ``value`` gives V(s). Exit codes: 0 done, 2 bad input (nothing is overwritten).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Export a tfpg run's policy as a TensorFlow SavedModel.")
    parser.add_argument(
        "path", metavar="RUN_DIR_OR_CHECKPOINT", help="a run directory or a checkpoint inside one"
    )
    parser.add_argument(
        "--out", required=True, help="new directory for the SavedModel (must not exist or be empty)"
    )
    parser.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint path")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stochastic signature's generator")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(
            f"error: {out} already exists and is not an empty directory; pick a new --out.", file=sys.stderr
        )
        return 2
    from agents.run.console import import_tensorflow

    import_tensorflow()
    from agents.run.export import export_saved_model
    from agents.run.loading import load_run
    from agents.run.rundir import RunInputError

    try:
        loaded = load_run(args.path, args.checkpoint)
    except RunInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        export_saved_model(loaded.run, out, args.seed, {"checkpoint": loaded.checkpoint})
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        loaded.close()
    print(f"exported {loaded.checkpoint} → {out} (signatures: serving_default, sample, value)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

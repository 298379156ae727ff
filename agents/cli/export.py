"""``tfpg-export`` (= ``python scripts/export_policy.py``): ``tfpg-export runs/RUN --out policy/ [--format ...]``.

Every format takes raw observations (normalization baked in) and needs neither tfpg nor Gymnasium:
    savedmodel  tf.saved_model.load("policy").signatures["serving_default"](observations=obs)["actions"]
                (also ``values``; ``sample`` is the stochastic signature, ``value`` gives V(s))
    onnx        policy/policy.onnx for onnxruntime, inputs ``observations`` → outputs ``actions``, ``values``
    tflite      policy/policy.tflite for LiteRT's interpreter, signature ``serving_default``, same names
    all         one subfolder per format
Dict observation spaces get one input per key (``observations_<key>``); ``tfpg_export.json`` beside each file lists
the inputs, outputs and what a format leaves out. ONNX and TFLite need ``pip install -e '.[export]'``.
A recurrent run (LSTM/GRU cores) exports as a SavedModel only: its signatures take and return the state.
Exit codes: 0 done, 1 a converter failed or disagreed with the SavedModel, 2 bad input (nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.cli import error

FORMAT_CHOICES = ("savedmodel", "onnx", "tflite", "all")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Export a tfpg run's policy as a TensorFlow SavedModel, ONNX or TFLite (LiteRT) model."
    )
    parser.add_argument(
        "path", metavar="RUN_DIR_OR_CHECKPOINT", help="a run directory or a checkpoint inside one"
    )
    parser.add_argument(
        "--out", required=True, help="new directory for the export (must not exist or be empty)"
    )
    parser.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint path")
    parser.add_argument(
        "--format",
        default="savedmodel",
        choices=FORMAT_CHOICES,
        help="savedmodel (default), onnx, tflite, or all (one subfolder each)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the SavedModel's stochastic signature")
    return parser


def recurrent_core(path: Path) -> str | None:
    """The run's core (lstm, gru) from the config.json of ``path`` or of the run holding it; None if it has
    none or none can be read here (loading the run reports that)."""
    import json

    for directory in [path, *path.parents][:3]:  # a run dir, a checkpoint in it, or one in best/
        try:
            core = json.loads((directory / "config.json").read_text())["network"].get("recurrent", "none")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        return None if core == "none" else core
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(
            f"error: {out} already exists and is not an empty directory; pick a new --out.", file=sys.stderr
        )
        return 2
    from agents.validation import ConfigError, check_output_dir

    try:
        check_output_dir(out, "--out")
    except ConfigError as err:
        return error(err)
    from agents.run.export_formats import INSTALL_HINT, missing_modules, parse_formats

    formats = parse_formats(args.format)
    core = recurrent_core(Path(args.path))
    if core and formats != ("savedmodel",):  # first: installing a converter would not help
        print(
            f"error: {args.path} has a recurrent policy (recurrent={core}), which exports as a SavedModel only "
            f"(its signatures carry the state); use --format savedmodel.",
            file=sys.stderr,
        )
        return 2
    missing = missing_modules(formats)
    if missing:  # before TensorFlow is imported or the run is loaded
        print(
            f"error: --format {args.format} needs {', '.join(missing)} (not installed); install the "
            f"converters with: {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    from agents.run.console import import_tensorflow

    import_tensorflow()
    from agents.run.export import ExportInputError, ExportVerificationError, export_policy
    from agents.run.loading import load_run
    from agents.run.rundir import RunInputError

    try:
        loaded = load_run(args.path, args.checkpoint)
    except RunInputError as err:
        return error(err)
    try:
        infos = export_policy(loaded.run, out, formats, args.seed, {"checkpoint": loaded.checkpoint})
    except ExportInputError as err:
        return error(err)
    except ExportVerificationError as err:
        return error(err, 1)
    finally:
        loaded.close()
    print(f"exported {loaded.checkpoint} → {out}")
    for fmt, info in infos.items():
        where = out if len(infos) == 1 else out / fmt
        inputs = ", ".join(i["name"] for i in info["inputs"])
        print(f"  {fmt}: {where / info['file']}  inputs: {inputs}  outputs: {', '.join(info['outputs'])}")
        if "signatures" in info and fmt == "savedmodel":
            print(f"    signatures: {', '.join(info['signatures'])}")
        for name, why in info.get("omitted", {}).items():
            print(f"    left out: {name} ({why})")
        check = info.get("verified_against_savedmodel")
        if check:
            print(f"    checked against the SavedModel: {check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The export formats: the SavedModel, ONNX converted from it by tf2onnx, and TFLite converted from it by the
TensorFlow converter and run with LiteRT. Each converted file is run in its own runtime and compared with the
SavedModel before anything is written (``verify``).

ONNX and TFLite hold the ``serving_default`` graph only (inputs → ``actions``, ``values``). Left out, with the
reason written to ``tfpg_export.json`` and the console:
    sample   the stochastic signature draws from a ``tf.random.Generator`` whose state is a variable updated on
             every call (RngReadAndSkip + uint64 arithmetic). TFLite's builtin op set has none of these ops
             (conversion fails asking for Flex ops, which the ai-edge-litert wheel does not ship) and tf2onnx
             cannot freeze the generator's state variable ("RngReadAndSkip was passed int64 ... expected
             resource"). A sampler without that state would repeat the same draw, so it is not exported at all:
             sample from the exported logits/mean yourself, or use the SavedModel.
    value    V(s) is the ``values`` output of the graph they hold.

No TensorFlow, tf2onnx or runtime is imported at module level: ``missing_modules`` answers without them, so
``export_policy.py`` refuses a missing converter at once.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

FORMATS = ("savedmodel", "onnx", "tflite")
FILES = {"savedmodel": ".", "onnx": "policy.onnx", "tflite": "policy.tflite"}
"""Where each format's file goes inside its directory (the SavedModel is the directory itself)."""
REQUIRED_MODULES = {
    "savedmodel": (),
    "onnx": ("tf2onnx", "onnx", "onnxruntime"),
    "tflite": ("ai_edge_litert",),
}
INSTALL_HINT = "pip install -e '.[export]'"
ONNX_OPSET = 17
OMITTED = {
    "sample": "stochastic: its tf.random.Generator state needs ops neither converter supports (see "
    "agents/run/export_formats.py); sample from the SavedModel, or from the policy outputs yourself",
    "value": "V(s) is this graph's `values` output",
}
TOLERANCE = 1e-4
"""At export, converted float outputs (values, Box actions) must lie within TOLERANCE * max(1, |reference|) of
the SavedModel's, and discrete actions must be equal. Runtimes differ in float32 rounding (summation order,
fused multiply-adds, their tanh approximations: max error 2.7e-7 in onnxruntime, 3.3e-7 in TensorFlow), which
the weights amplify layer by layer; 1e-4 leaves room for that and still catches a broken conversion (missing
weights or normalization change outputs by O(1))."""


def parse_formats(value: str) -> tuple[str, ...]:
    """``all`` → every format; otherwise the one named. Raises ValueError for an unknown name."""
    if value == "all":
        return FORMATS
    if value not in FORMATS:
        raise ValueError(f"Unknown export format {value!r}; choose from {', '.join(FORMATS)} or all.")
    return (value,)


def missing_modules(formats: tuple[str, ...]) -> list[str]:
    """The Python modules the formats need that are not installed (found without importing them)."""
    needed = [module for fmt in formats for module in REQUIRED_MODULES[fmt]]
    return [module for module in dict.fromkeys(needed) if importlib.util.find_spec(module) is None]


# ------------------------------------------------------------------------------------------- converters
def to_onnx(saved_model_dir: Path, path: Path) -> None:
    """tf2onnx on the SavedModel's ``serving_default`` signature (what ``python -m tf2onnx.convert
    --saved-model DIR --signature_def serving_default`` does, in this process: a subprocess would import
    TensorFlow again, ~7 s of CPU)."""
    from tf2onnx import convert, tf_loader

    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        str(saved_model_dir),
        None,
        None,
        tag="serve",
        signatures=["serving_default"],
        return_initialized_tables=True,
        return_tensors_to_rename=True,
    )
    convert._convert_common(  # the converter's own entry point behind its CLI (pinned tf2onnx==1.17.0)
        graph_def,
        name=str(saved_model_dir),
        opset=ONNX_OPSET,
        input_names=inputs,
        output_names=outputs,
        tensors_to_rename=renames,
        initialized_tables=tables,
        output_path=str(path),
    )


def to_tflite(saved_model_dir: Path, path: Path) -> None:
    """The TF converter on ``serving_default``, builtin ops only (LiteRT's wheel has no Flex delegate)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model_dir), signature_keys=["serving_default"]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path.write_bytes(converter.convert())


CONVERTERS = {"onnx": to_onnx, "tflite": to_tflite}


# ---------------------------------------------------------------------------------------------- runners
def run_saved_model(saved_model_dir: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``serving_default`` of the SavedModel on disk → {"actions", "values"}."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"]
    return {k: v.numpy() for k, v in signature(**{k: tf.constant(v) for k, v in feeds.items()}).items()}


def run_onnx(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [out.name for out in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def run_tflite(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return dict(runner(**feeds))  # the runner resizes its inputs to the batch


RUNNERS = {"savedmodel": run_saved_model, "onnx": run_onnx, "tflite": run_tflite}


def verify(
    reference: dict[str, np.ndarray],
    got: dict[str, np.ndarray],
    discrete_actions: bool,
    tolerance: float = TOLERANCE,
) -> tuple[bool, dict]:
    """Compare a converted model's outputs with the SavedModel's.

    Returns:
        (passed, report): report holds the batch size, whether actions are equal (discrete) or their largest
        difference (Box), and the largest value difference; all JSON-ready.
    """
    report: dict = {"observations": len(reference["values"])}
    if set(got) != {"actions", "values"}:
        return False, {**report, "outputs": sorted(got)}
    passed = True
    for key in ("actions", "values"):
        ref, out = np.asarray(reference[key]), np.asarray(got[key])
        if ref.shape != out.shape:
            return False, {**report, f"{key}_shape": [list(ref.shape), list(out.shape)]}
        if key == "actions" and discrete_actions:
            report["actions_equal"] = bool(np.array_equal(ref, out))
            passed &= report["actions_equal"]
            continue
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        report[f"max_abs_{key}_diff"] = float(np.max(diff)) if np.isfinite(diff).all() else "non-finite"
        passed &= bool(np.all(diff <= tolerance * np.maximum(1.0, np.abs(ref))))
    return passed, report

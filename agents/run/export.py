"""Export a trained policy as a SavedModel, ONNX and/or TFLite (LiteRT) file that runs without tfpg.

``export_policy`` refuses non-finite weights, builds the graph (export_graph.py: its inputs, outputs and
signatures are documented there), writes the SavedModel, converts it (export_formats.py), runs every converted
file in its own runtime on real observations against the SavedModel, and only then moves the result into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.run import export_formats as formats_lib
from agents.run.building import Run
from agents.run.export_graph import (
    ExportedPolicy,
    ExportInput,
    ExportInputError,
    raw_env,
    raw_observation_space,
)
from envs.wrappers import ActionMaskToInfo, find_wrapper

__all__ = ["ExportInputError", "ExportVerificationError", "ExportedPolicy", "check_finite", "export_policy"]


class ExportVerificationError(RuntimeError):
    """A converter failed, or its file's outputs differ from the SavedModel's; nothing was written."""


def check_finite(run: Run) -> None:
    """Refuse a checkpoint whose weights or normalization statistics hold NaN or inf.

    Raises:
        ExportInputError: Naming every non-finite variable (and how many of its entries are bad).
    """
    bad = []
    for var in run.policy.model.variables:
        values = np.asarray(var.numpy())
        if not np.isfinite(values).all():
            name = var.path.split("/", 1)[-1]  # without the model's name, which Keras numbers per process
            bad.append(f"{name} ({np.count_nonzero(~np.isfinite(values))} of {values.size} entries)")
    for key, values in run.normalization.state().items():
        if not np.isfinite(values).all():
            bad.append(
                f"normalization/{key} ({np.count_nonzero(~np.isfinite(values))} of {values.size} entries)"
            )
    if bad:
        raise ExportInputError(
            f"The checkpoint has non-finite weights (NaN or inf), so every exported format would output NaN: "
            f"{', '.join(bad)}. The run diverged before this checkpoint; export an earlier one "
            f"(--checkpoint best, or --checkpoint RUN/checkpoint/ckpt-STEP)."
        )


def export_policy(
    run: Run,
    out_dir: str | os.PathLike,
    formats: tuple[str, ...] = ("savedmodel",),
    seed: int = 0,
    metadata: dict | None = None,
) -> dict[str, dict]:
    """Write the policy in each format into ``out_dir`` (which must not exist or be empty), atomically.

    One format: ``out_dir`` is the SavedModel directory, or holds ``policy.onnx`` / ``policy.tflite``; several:
    one subdirectory per format (``out_dir/savedmodel``, ``out_dir/onnx``, ``out_dir/tflite``). Each directory
    gets a ``tfpg_export.json`` (env, spaces, inputs, outputs, what was left out and why, the check against the
    SavedModel, and ``metadata``). ONNX and TFLite are converted from the SavedModel and run in their own
    runtime on 64 real observations before anything is written.

    Returns:
        Format → the ``tfpg_export.json`` content written for it.

    Raises:
        ExportInputError: ONNX or TFLite asked of a recurrent policy, a converter is not installed, the weights
            are not finite, or ``out_dir`` is taken.
        ExportVerificationError: A converter failed or its file disagrees with the SavedModel.
    """
    # First: installing a converter would not help.
    if run.policy.recurrent and tuple(formats) != ("savedmodel",):
        raise ExportInputError(
            f"A recurrent policy exports as a SavedModel only (its signatures carry the state); "
            f"{', '.join(f for f in formats if f != 'savedmodel')} is not supported for it yet. "
            f"Use --format savedmodel."
        )
    missing = formats_lib.missing_modules(formats)
    if missing:
        raise ExportInputError(
            f"Export to {', '.join(formats)} needs {', '.join(missing)} (not installed); install the "
            f"converters with: {formats_lib.INSTALL_HINT}"
        )
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportInputError(
            f"{out_dir} already exists and is not an empty directory; pick a new --out (nothing is overwritten)."
        )
    check_finite(run)
    module = ExportedPolicy(run, seed)
    feeds = sample_inputs(run, list(module.inputs), seed=seed)
    discrete = not isinstance(run.policy.action_space, gym.spaces.Box)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        dirs = {fmt: tmp if len(formats) == 1 else tmp / fmt for fmt in formats}
        saved_model = dirs.get("savedmodel", tmp / ".savedmodel")  # a scratch copy when not asked for
        module.save(str(saved_model))
        reference = formats_lib.run_saved_model(saved_model, feeds)
        infos = {}
        for fmt in formats:
            dirs[fmt].mkdir(exist_ok=True)
            check = _convert_and_verify(fmt, saved_model, dirs[fmt], feeds, reference, discrete)
            infos[fmt] = _export_info(run, module, fmt, check, metadata)
            (dirs[fmt] / "tfpg_export.json").write_text(json.dumps(infos[fmt], indent=2) + "\n")
        if "savedmodel" not in formats:
            shutil.rmtree(saved_model)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return infos


def _convert_and_verify(fmt, saved_model, directory, feeds, reference, discrete) -> dict | None:
    if fmt == "savedmodel":
        return None
    path = directory / formats_lib.FILES[fmt]
    try:
        formats_lib.CONVERTERS[fmt](saved_model, path)
        got = formats_lib.RUNNERS[fmt](path, feeds)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportVerificationError(f"{fmt} conversion failed: {first}; nothing was written.") from err
    passed, report = formats_lib.verify(reference, got, discrete)
    if not passed:
        raise ExportVerificationError(
            f"The {fmt} model disagrees with the SavedModel on {len(reference['values'])} real observations "
            f"({report}); nothing was written. Please report this with the run's config.json."
        )
    return report


def _export_info(
    run: Run, module: ExportedPolicy, fmt: str, check: dict | None, metadata: dict | None
) -> dict:
    outputs = module.deterministic.get_concrete_function().structured_outputs
    info = {
        "format": fmt,
        "file": formats_lib.FILES[fmt],
        "env_id": run.config.run.env_id,
        "algo": run.config.run.algo,
        "observation_space": str(raw_observation_space(run)),
        "action_space": str(run.policy.action_space),
        "observation_normalization_baked_in": module.normalized,
        "inputs": [
            {"name": i.name, "shape": i.spec.shape.as_list(), "dtype": i.spec.dtype.name, "role": i.role}
            | ({"observation_key": list(i.path)} if i.path else {})
            for i in module.inputs
        ],
        "outputs": {k: {"shape": t.shape.as_list(), "dtype": t.dtype.name} for k, t in outputs.items()},
    }
    if fmt == "savedmodel":
        info["signatures"] = {
            "serving_default": "deterministic actions and V(s)",
            "sample": "sampled actions",
            "value": "V(s) (as `value`)",
        }
        if module.recurrent:
            info["signatures"]["initial_state"] = "zeros [batch, state_size]: the state at an episode start"
            info["recurrent_state_size"] = module.state_size
    else:
        info["signatures"] = {"serving_default": "deterministic actions and V(s)"} if fmt == "tflite" else {}
        info["omitted"] = dict(formats_lib.OMITTED)
        info["verified_against_savedmodel"] = check
    return {**info, **(metadata or {})}


def sample_inputs(run: Run, inputs: list[ExportInput], n: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` real raw observations, one array per input name, from the run's own env with random actions.

    Steps the innermost vector env of ``run.env`` (below the normalization wrappers, so the observations are
    raw; above ``ActionMaskToInfo`` if there is one); the run's env is of no further use to an export. The
    ``action_mask`` input gets the env's own masks of those observations.
    """
    env = find_wrapper(run.env, ActionMaskToInfo) or raw_env(run.env)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    rows, masks = [], []
    while len(rows) * env.num_envs < n:
        rows.append(obs)
        if run.policy.action_masks is not None:
            masks.append(run.policy.action_masks(info, env.num_envs, "an export sample"))
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        info = {**info, "_episode": terminated | truncated}  # the next row's action is ignored (autoreset)
    feeds = {}
    rng = np.random.default_rng(seed)
    for inp in inputs:
        if inp.role == "action_mask":
            feeds[inp.name] = np.concatenate(masks)[:n]
        if inp.role == "state":  # a state the network could have reached, mid-episode
            feeds[inp.name] = rng.normal(scale=0.3, size=(n, *inp.spec.shape[1:])).astype(np.float32)
        if inp.role == "episode_start":
            feeds[inp.name] = rng.random(n) < 0.25
        if inp.role != "observations":
            continue
        leaf = rows
        for key in inp.path:
            leaf = [row[key] for row in leaf]
        feeds[inp.name] = np.concatenate(leaf)[:n].astype(inp.spec.dtype.as_numpy_dtype)
    return feeds

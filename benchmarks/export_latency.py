"""Exported policy file sizes and per-call latency per format (SavedModel, ONNX, TFLite), side by side.

    python benchmarks/export_latency.py --run runs/cartpole --image --rounds 3 --calls 300

Each ``--run`` is exported with ``--format all``; ``--image`` adds an Atari-shaped policy (84x84x4 uint8 frames,
Discrete(6), the default "nature" CNN: Mnih et al., 2015) built for a stand-in env without training (latency and
size do not depend on the weights' values). Every measurement runs in a fresh ``python -I`` process that imports
only its runtime (TensorFlow; onnxruntime; LiteRT), as a deployment would, pinned to ``--threads`` threads: per
batch size, ``--warmup`` calls, then ``--calls`` timed calls (numpy in, numpy out). Rounds alternate the formats;
the table gives the median over rounds of each process's median (and p90) microseconds per call, and that time
divided by the SavedModel's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FORMATS = ("savedmodel", "onnx", "tflite")
BATCHES = (1, 64)
IMAGE_ID = "tfpg-bench/AtariShaped-v0"

# One process per (round, case, format): argv = model path, threads, warmup, calls, inputs JSON, batches JSON.
MEASURE = """
import json, sys, time
import numpy as np
path, threads, warmup, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
inputs, batches = json.loads(sys.argv[5]), json.loads(sys.argv[6])
{setup}
rng = np.random.default_rng(0)
def batch(n):
    feeds = {{}}
    for i in inputs:
        shape = [n, *i["shape"][1:]]
        if i["dtype"] == "uint8":
            feeds[i["name"]] = rng.integers(0, 256, shape).astype(np.uint8)
        elif i["dtype"].startswith("float"):
            feeds[i["name"]] = rng.normal(0, 0.5, shape).astype(i["dtype"])
        else:
            feeds[i["name"]] = np.zeros(shape, i["dtype"])
    return feeds
result = {{}}
for n in batches:
    feeds = batch(n)
    for _ in range(warmup):
        call(feeds)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        call(feeds)
        times.append(time.perf_counter() - t)
    result[n] = [float(np.median(times) * 1e6), float(np.percentile(times, 90) * 1e6)]
print(json.dumps(result))
"""
SETUPS = {
    "savedmodel": """
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
signature = tf.saved_model.load(path).signatures["serving_default"]
def call(feeds):
    return {k: v.numpy() for k, v in signature(**feeds).items()}
""",
    "onnx": """
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = options.inter_op_num_threads = threads
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
def call(feeds):
    return session.run(None, feeds)
""",
    "tflite": """
from ai_edge_litert.interpreter import Interpreter
runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner("serving_default")
def call(feeds):
    return runner(**feeds)
""",
}


def export_cases(run_dirs: list[str], image: bool, root: Path) -> dict[str, Path]:
    """label → export directory (one subfolder per format)."""
    from agents.run.export import export_policy
    from agents.run.loading import load_run

    cases = {}
    for run_dir in run_dirs:
        loaded = load_run(run_dir)
        try:
            label = f"{loaded.config.run.env_id} ({loaded.config.run.algo}, {Path(run_dir).name})"
            cases[label] = root / f"case{len(cases)}"
            export_policy(loaded.run, cases[label], FORMATS)
        finally:
            loaded.close()
    if image:
        cases["84x84x4 uint8 frames, Discrete(6), nature CNN (untrained)"] = root / "image"
        run = _image_run()
        try:
            export_policy(run, root / "image", FORMATS)
        finally:
            run.close()
    return cases


def _image_run():
    import gymnasium as gym

    from agents.config import resolve_config
    from agents.run.building import build_run

    class AtariShaped(gym.Env):
        """Random frames with the shape of Gymnasium's Atari preprocessing + frame stack, channels last."""

        observation_space = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
        action_space = gym.spaces.Discrete(6)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, False, {}

    if IMAGE_ID not in gym.registry:
        gym.register(IMAGE_ID, entry_point=AtariShaped, max_episode_steps=100)
    return build_run(resolve_config("ppo", IMAGE_ID, {"num_envs": 2, "minibatch_size": 64}))


def size_bytes(directory: Path, fmt: str, info: dict) -> int:
    if fmt == "savedmodel":
        return sum(
            p.stat().st_size for p in directory.rglob("*") if p.is_file() and p.name != "tfpg_export.json"
        )
    return (directory / info["file"]).stat().st_size


def measure(path: Path, fmt: str, inputs: list, args) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            MEASURE.format(setup=SETUPS[fmt]),
            str(path),
            str(args.threads),
            str(args.warmup),
            str(args.calls),
            json.dumps(inputs),
            json.dumps(BATCHES),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return {int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="a run directory to export (repeatable)")
    parser.add_argument("--image", action="store_true", help="add the Atari-shaped CNN policy")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        cases = export_cases(args.run, args.image, Path(tmp))
        samples: dict = {}  # (case, fmt) -> list of {batch: [median, p90]}
        for _ in range(args.rounds):
            for label, directory in cases.items():
                for fmt in FORMATS:
                    info = json.loads((directory / fmt / "tfpg_export.json").read_text())
                    target = directory / fmt / (info["file"] if fmt != "savedmodel" else "")
                    samples.setdefault((label, fmt), []).append(measure(target, fmt, info["inputs"], args))
        sizes = {}
        for label, directory in cases.items():
            for fmt in FORMATS:
                info = json.loads((directory / fmt / "tfpg_export.json").read_text())
                sizes[(label, fmt)] = size_bytes(directory / fmt, fmt, info)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical cores, {args.threads} thread(s) per runtime, {args.rounds} rounds x "
        f"{args.calls} calls, load average {os.getloadavg()[0]:.1f}, {time.time() - started:.0f} s"
    )
    print(
        "\n| policy | format | file size | batch 1: median (p90) µs | ÷ SavedModel | batch 64: median (p90) µs "
        "| ÷ SavedModel |"
    )
    print("|---|---|---|---|---|---|---|")
    for label in cases:
        base = {n: np.median([s[n][0] for s in samples[(label, "savedmodel")]]) for n in BATCHES}
        for fmt in FORMATS:
            cells = []
            for n in BATCHES:
                median = np.median([s[n][0] for s in samples[(label, fmt)]])
                p90 = np.median([s[n][1] for s in samples[(label, fmt)]])
                cells += [f"{median:,.0f} ({p90:,.0f})", f"{median / base[n]:.2f}"]
            size = sizes[(label, fmt)]
            print(f"| {label} | {fmt} | {size / 1024:,.0f} KiB | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""EnvPool against the Gymnasium and ALE paths: same semantics, and env-only speed on Atari.

    pip install envpool==1.2.5          # not an extra: ~740 MB
    nice -n 10 python benchmarks/envpool_check.py [--steps 4000] [--skip-speed]

Semantics (prints PASS/FAIL per check, exit 1 on any FAIL):
  * Atari, exact: ``ALE/Pong-v5`` through Gymnasium's wrappers (sync) and EnvPool, both with the preprocessing of
    ``envs/atari.py`` but no sticky actions and one no-op at reset (so both are deterministic), one fixed action
    sequence, the episode capped at 2,000 frames: rewards, terminated and truncated flags must be equal at every
    step (so the truncation and the NEXT_STEP autoreset row after it too), and observations at every step but
    an episode's last (where Gymnasium's AtariPreprocessing repeats the previous frame). ALE's native vector env
    is compared the same way for information ("same"/"DIFF"; it is a separate implementation).
  * CartPole-v1 (different initial states, so rules rather than equality): NEXT_STEP autoreset (the row after
    a done has reward 0, no done, a fresh near-zero state), truncation at a 50-step limit under a balancing
    policy (truncated, not terminated; episode statistics of length 50), and matching random-policy episode
    lengths.
Speed: env steps per second of ``ALE/Pong-v5`` with the preprocessing, 8 envs, random actions, for
sync, async, vector_entry_point (ALE native) and envpool, each in turn, alternating over ``--rounds``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np

from envs import atari
from envs.make import make_vector_env

warnings.filterwarnings("ignore", message=".*precision lowered.*")  # EnvPool's float64 Box bounds

FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILURES.append(name)


def run_fixed_actions(env, actions: np.ndarray) -> dict[str, np.ndarray]:
    obs, _ = env.reset(seed=0)
    rows = {"obs": [obs], "reward": [], "terminated": [], "truncated": []}
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(np.array([action]))
        rows["obs"].append(obs)
        rows["reward"].append(np.asarray(reward, np.float64))
        rows["terminated"].append(terminated)
        rows["truncated"].append(truncated)
    env.close()
    return {key: np.stack(value)[:, 0] for key, value in rows.items()}


def atari_exact(steps: int) -> None:
    # Deterministic starts on every backend (each reads the constant when building): one no-op step at reset.
    # (noop_max=0 crashes EnvPool 1.2.5 with a segmentation fault.)
    atari.NOOP_MAX = 1
    cap = {"repeat_action_probability": 0.0, "max_num_frames_per_episode": 2000}
    actions = np.random.default_rng(0).integers(0, 6, steps)
    runs = {
        mode: run_fixed_actions(
            make_vector_env(
                "ALE/Pong-v5", 1, seed=0, vectorization=mode, atari_wrappers=True, env_kwargs=cap
            ),
            actions,
        )
        for mode in ("sync", "vector_entry_point", "envpool")
    }
    atari.NOOP_MAX = 30
    reference = runs["sync"]
    cut = np.flatnonzero(reference["truncated"])  # step indices; observation index = step index + 1
    truncates = len(cut) > 0 and not reference["terminated"][cut].any()
    check("atari: the 2,000-frame cap truncates (Gymnasium path)", truncates, f"at step {cut.tolist()}")
    # Observation rows that end an episode: Gymnasium's AtariPreprocessing stops its frame-skip loop at a done
    # before grabbing the screen, so there it repeats the previous frame; EnvPool returns the real last frame.
    final_rows = np.flatnonzero(reference["terminated"] | reference["truncated"]) + 1
    if len(cut) and cut[0] + 1 < steps:
        after = cut[0] + 1
        autoreset = (
            reference["reward"][after] == 0 and not (reference["truncated"] | reference["terminated"])[after]
        )
        check("atari: the step after the truncation is an autoreset row (reward 0, no done)", autoreset)
    for mode, verdict in (("envpool", check), ("vector_entry_point", info)):
        other = runs[mode]
        for key in ("reward", "terminated", "truncated"):
            where = np.flatnonzero(reference[key] != other[key])[:5].tolist()
            verdict(
                f"atari: {mode} {key} equal to Gymnasium's at all {steps} steps",
                not where,
                f"first at {where}",
            )
        differ = np.flatnonzero((reference["obs"] != other["obs"]).any(axis=(1, 2, 3)))
        others = np.setdiff1d(differ, final_rows)
        verdict(f"atari: {mode} observations equal to Gymnasium's (except episode-final rows)", len(others) == 0,
                f"{len(others)} of {steps + 1} rows differ, first {others[:5].tolist()}; episode-final rows differing: "
                f"{np.intersect1d(differ, final_rows).tolist()} of {final_rows.tolist()}")  # fmt: skip


def info(name: str, ok: bool, detail: str = "") -> None:
    """A comparison reported but not required (ALE's native vector env is its own implementation)."""
    print(f"{'same' if ok else 'DIFF'}  {name}{': ' + detail if detail else ''}", flush=True)


def cartpole_rules(steps: int) -> None:
    for mode in ("sync", "envpool"):
        env = make_vector_env("CartPole-v1", 4, seed=0, vectorization=mode)
        check(
            f"cartpole {mode}: spaces",
            env.single_observation_space.shape == (4,) and env.observation_space.shape == (4, 4),
        )
        obs, _ = env.reset(seed=0)
        rng, done_before, autoreset_ok, lengths = np.random.default_rng(0), np.zeros(4, bool), [], []
        for _ in range(steps):
            obs, reward, terminated, truncated, info = env.step(rng.integers(0, 2, 4))
            rows = done_before
            autoreset_ok.extend(
                (reward[rows] == 0)
                & ~terminated[rows]
                & ~truncated[rows]
                & (np.abs(obs[rows]).max(axis=1) <= 0.05)
            )
            if "_episode" in info:
                lengths.extend(info["episode"]["l"][info["_episode"]].tolist())
            done_before = terminated | truncated
        env.close()
        check(f"cartpole {mode}: NEXT_STEP autoreset rows", len(autoreset_ok) > 50 and all(autoreset_ok),
              f"{sum(autoreset_ok)}/{len(autoreset_ok)}")  # fmt: skip
        print(f"      cartpole {mode}: random-policy episode length {np.mean(lengths):.2f} ± "
              f"{np.std(lengths) / np.sqrt(len(lengths)):.2f} over {len(lengths)} episodes")  # fmt: skip
        # A balancing policy (push toward where the pole falls) outlives a 50-step limit: truncation.
        env = make_vector_env(
            "CartPole-v1", 2, seed=0, vectorization=mode, env_kwargs={"max_episode_steps": 50}
        )
        obs, _ = env.reset(seed=0)
        for _ in range(50):
            obs, reward, terminated, truncated, info = env.step(
                (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)
            )
        env.close()
        whole = "_episode" in info and (info["episode"]["l"] == 50).all()
        check(
            f"cartpole {mode}: 50-step limit truncates, not terminates",
            truncated.all() and not terminated.any() and whole,
        )


def speed(seconds: float, rounds: int) -> None:
    modes = ("sync", "async", "vector_entry_point", "envpool")
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode in modes:
            env = make_vector_env("ALE/Pong-v5", 8, seed=0, vectorization=mode, atari_wrappers=True)
            env.reset(seed=0)
            rng, steps = np.random.default_rng(0), 0
            for _ in range(20):  # warm-up
                env.step(rng.integers(0, 6, 8))
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                env.step(rng.integers(0, 6, 8))
                steps += 8
            rates[mode].append(steps / (time.perf_counter() - start))
            env.close()
    print(
        "\nALE/Pong-v5, 8 envs, preprocessing on, random actions: env steps/s (median of rounds; all rounds)"
    )
    for mode in modes:
        print(f"  {mode:20s} {np.median(rates[mode]):8.0f}   {[round(r) for r in rates[mode]]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps of each semantics check")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per speed measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the speed measurement")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)
    try:
        import envpool
    except ImportError:
        print("error: envpool is not installed: pip install envpool==1.2.5", file=sys.stderr)
        return 2
    print(f"envpool {envpool.__version__}, {time.strftime('%Y-%m-%d')}", flush=True)
    atari_exact(args.steps)
    cartpole_rules(args.steps)
    if not args.skip_speed:
        speed(args.seconds, args.rounds)
    print(f"\n{len(FAILURES)} failed: {FAILURES}" if FAILURES else "\nall checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

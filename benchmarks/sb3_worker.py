"""The SB3 side of ``benchmarks/benchmark_vs_sb3.py``: one case trained by Stable-Baselines3 or sb3-contrib in
this process, timed like tfpg's side (training env-steps/s with evaluation time excluded, the evaluation history,
CPU seconds, collection vs update).

A case may add, for SB3 only: ``sb3_policy_kwargs`` (the policy's keyword arguments; ``activation_fn`` given by
its ``torch.nn`` class name) and ``sb3_normalize_obs`` (RL Zoo's ``normalize`` with ``norm_reward=False``: a
``VecNormalize`` of the observations; the evaluation env is a frozen copy, synchronized with the training
statistics before every evaluation, as RL Zoo evaluates).
"""

from __future__ import annotations

import importlib
import time
from functools import partial


def run_sb3(case: dict, seed: int, eval_episodes: int, spawned_at: float, threads: int | None) -> dict:
    import torch

    torch.set_num_threads(threads or 1)
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize, sync_envs_normalization

    kwargs = {k: (lambda f, v=v[1]: v * f) if isinstance(v, tuple) else v for k, v in case["sb3"].items()}
    if case["env"].startswith("tfpg/"):
        import envs.partially_observed  # noqa: F401  (registers the tfpg/ ids for gymnasium.make)
    env = sb3_env(case, case["num_envs"], seed, training=True)
    eval_env = sb3_env(case, min(eval_episodes, 10), seed + 10_000, training=False)
    algo_name = case.get("sb3_algo", case["algo"])
    policy = "CnnPolicy" if case.get("atari") else "MlpPolicy"
    if algo_name == "maskable_ppo":
        from sb3_contrib import MaskablePPO
        from sb3_contrib.common.maskable.evaluation import evaluate_policy  # acts with the eval env's masks

        algo = MaskablePPO
    elif algo_name == "recurrent_ppo":  # sb3-contrib's; evaluate_policy carries its LSTM states
        from sb3_contrib import RecurrentPPO

        algo, policy = RecurrentPPO, "MlpLstmPolicy"
    else:
        algo = {"ppo": PPO, "a2c": A2C}[algo_name]
    normalize = case.get("sb3_normalize_obs", False)
    if normalize:
        env = VecNormalize(env, norm_obs=True, norm_reward=False, gamma=kwargs.get("gamma", 0.99))
        eval_env = VecNormalize(eval_env, training=False, norm_obs=True, norm_reward=False)
    policy_kwargs = dict(case.get("sb3_policy_kwargs", {}))
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = getattr(torch.nn, policy_kwargs["activation_fn"])
    model = algo(policy, env, seed=seed, device="cpu", policy_kwargs=policy_kwargs or None, **kwargs)

    def evaluate() -> float:
        if normalize:  # the eval env's frozen copy of the training statistics
            sync_envs_normalization(env, eval_env)
        mean, _ = evaluate_policy(model, eval_env, eval_episodes, deterministic=True)
        return float(mean)

    seconds = {"collect": 0.0, "update": 0.0}

    def timed(name, method):
        def call(*args, **kw):
            t0 = time.perf_counter()
            try:
                return method(*args, **kw)
            finally:
                seconds[name] += time.perf_counter() - t0

        return call

    model.collect_rollouts = timed("collect", model.collect_rollouts)
    model.train = timed("update", model.train)

    class Clock(BaseCallback):
        def _on_training_start(self):
            self.first, self.cpu = time.time(), time.process_time()
            self.start, self.paused, self.evals = time.perf_counter(), 0.0, []
            self.next_eval = case["eval_every"] or None

        def train_time(self):
            return time.perf_counter() - self.start - self.paused

        def _on_step(self):
            if self.next_eval is not None and self.num_timesteps >= self.next_eval:
                t0, train_time = time.perf_counter(), self.train_time()
                self.evals.append((self.num_timesteps, train_time, evaluate()))
                self.paused += time.perf_counter() - t0
                self.next_eval += case["eval_every"]
            return True

    clock = Clock()
    model.learn(case["steps"], callback=clock)
    train_time = clock.train_time()
    cpu_s = time.process_time() - clock.cpu
    final = evaluate()
    return dict(
        sps=round(model.num_timesteps / train_time, 1),
        train_time_s=round(train_time, 3),
        final_return=final,
        evals=clock.evals,
        start_to_first_step_s=clock.first - spawned_at,
        seconds={"collect": round(seconds["collect"], 2), "update": round(seconds["update"], 2)},
        cpu_s=round(cpu_s, 1),
        steps=model.num_timesteps,
    )


def sb3_env(case: dict, num_envs: int, seed: int, training: bool):
    """SB3's vec env for a case; Atari as RL Zoo builds it (life loss and reward sign for training only)."""
    from stable_baselines3.common.env_util import make_vec_env

    if not case.get("atari"):
        env_fn = case["env"]
        if "sb3_env" in case:  # an env class SB3 trains on instead of the registered id (sb3-contrib's own)
            module, _, name = case["sb3_env"][0].partition(":")
            env_fn = partial(getattr(importlib.import_module(module), name), **case["sb3_env"][1])
        return make_vec_env(env_fn, n_envs=num_envs, seed=seed)
    import ale_py
    import gymnasium
    from stable_baselines3.common.atari_wrappers import AtariWrapper
    from stable_baselines3.common.vec_env import VecFrameStack

    gymnasium.register_envs(ale_py)
    wrapper_kwargs = dict(terminal_on_life_loss=training, clip_reward=training)
    env = make_vec_env(
        case["env"], n_envs=num_envs, seed=seed, env_kwargs={"frameskip": 1},  # AtariWrapper skips frames
        wrapper_class=AtariWrapper, wrapper_kwargs=wrapper_kwargs,
    )  # fmt: skip
    return VecFrameStack(env, n_stack=4)

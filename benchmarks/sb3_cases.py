"""The cases ``benchmarks/benchmark_vs_sb3.py`` compares: one env, budget and threshold each, with the same
hyperparameters written once for SB3 (its keyword arguments) and once for tfpg (config overrides).

Optional keys: ``sb3_algo`` (an SB3 / sb3-contrib algorithm other than ``algo``, e.g. ``maskable_ppo``),
``sb3_env`` (``("module:Class", kwargs)``: SB3 trains on that class instead of ``env``), ``sb3_policy_kwargs``
and ``sb3_normalize_obs`` (see ``benchmarks/sb3_worker.py``). The masking cases
train SB3 on sb3-contrib's own InvalidActionEnv* classes and tfpg on their look-alikes in envs/testing_masks.py
(same spaces, rewards, episode length and number of invalid actions; tfpg code never imports sb3-contrib).
"""

# Each case: env, budget, threshold, SB3 algorithm + kwargs (RL-Zoo hyperparameters), and the same settings
# as tfpg config overrides. "lin" learning rates / clip ranges decay linearly to 0 on both sides. SB3's value
# loss is the MSE and tfpg's half of it, so SB3's vf_coef (default 0.5) is tfpg's vf_coef=1.0.
CASES: dict[str, dict] = {
    "ppo-cartpole": dict(
        env="CartPole-v1",
        algo="ppo",
        steps=100_000,
        threshold=475.0,
        eval_every=4096,
        num_envs=8,
        sb3=dict(
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=("lin", 1e-3),
            clip_range=("lin", 0.2),
        ),
        tfpg={},  # the CartPole-v1 PPO preset is RL-Zoo's (vf_coef 1.0 = SB3's 0.5)
    ),
    "a2c-cartpole": dict(
        env="CartPole-v1",
        algo="a2c",
        steps=100_000,
        threshold=475.0,
        eval_every=10_000,
        num_envs=8,
        sb3=dict(ent_coef=0.0),  # RL-Zoo: SB3's A2C defaults (n_steps 5, lr 7e-4, RMSprop) with 8 envs
        tfpg=dict(num_steps=5, learning_rate=7e-4, gamma=0.99, gae_lambda=1.0, ent_coef=0.0, vf_coef=1.0),
    ),
    "ppo-pendulum": dict(
        env="Pendulum-v1",
        algo="ppo",
        steps=102_400,
        threshold=-250.0,
        eval_every=8192,
        num_envs=4,
        # RL-Zoo also sets use_sde=True; tfpg has no gSDE, so both sides use a plain Gaussian policy.
        sb3=dict(
            n_steps=1024,
            batch_size=64,
            gae_lambda=0.95,
            gamma=0.9,
            n_epochs=10,
            ent_coef=0.0,
            learning_rate=1e-3,
            clip_range=0.2,
        ),
        tfpg=dict(
            num_steps=1024,
            minibatch_size=64,
            gae_lambda=0.95,
            gamma=0.9,
            update_epochs=10,
            ent_coef=0.0,
            learning_rate=1e-3,
            anneal_lr=False,
            clip_range=0.2,
            vf_coef=1.0,  # SB3's default 0.5 on the full MSE
        ),
    ),
    "ppo-lunarlander": dict(
        env="LunarLander-v3",
        algo="ppo",
        steps=131_072,
        threshold=200.0,
        eval_every=0,
        num_envs=16,
        sb3=dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
        tfpg=dict(
            num_steps=1024,
            minibatch_size=64,
            gae_lambda=0.98,
            gamma=0.999,
            update_epochs=4,
            ent_coef=0.01,
            learning_rate=3e-4,
            anneal_lr=False,
            vf_coef=1.0,  # SB3's default 0.5 on the full MSE
        ),
    ),
    # Speed on pixels: RL Zoo's `atari` entry on both sides (tfpg's ALE/* preset is that entry; SB3 gets RL Zoo's
    # pipeline: AtariWrapper + VecFrameStack(4), CnnPolicy = NatureCNN with a shared trunk). Same base env, ALE/Pong-v5
    # (sticky actions 0.25), frame skip in the wrappers. No threshold within this budget: the comparison is SPS.
    "ppo-atari": dict(
        env="ALE/Pong-v5",
        algo="ppo",
        steps=10_240,  # 10 updates: SPS only (a Pong update takes seconds on 2 cores)
        threshold=21.0,
        eval_every=0,
        num_envs=8,
        atari=True,
        sb3=dict(
            n_steps=128,
            batch_size=256,
            n_epochs=4,
            learning_rate=("lin", 2.5e-4),
            clip_range=("lin", 0.1),
            vf_coef=0.5,
            ent_coef=0.01,
        ),
        tfpg={},  # the ALE/* preset (vf_coef 1.0 = SB3's 0.5)
    ),
    # sb3-contrib's RecurrentPPO with RL Zoo's tuned ppo_lstm.yml CartPoleNoVel-v1 entry (observations
    # normalized, a 64-unit LSTM for the policy and one for the critic, one 64-unit ReLU layer each); tfpg's
    # PPO preset for the env is the same entry (its one difference: tfpg's layers start orthogonal).
    "recurrentppo-cartpolenovel": dict(
        env="tfpg/CartPoleNoVel-v1",
        algo="ppo",
        sb3_algo="recurrent_ppo",
        sb3_normalize_obs=True,
        sb3_policy_kwargs=dict(
            ortho_init=False,
            activation_fn="ReLU",
            lstm_hidden_size=64,
            enable_critic_lstm=True,
            net_arch=dict(pi=[64], vf=[64]),
        ),
        steps=100_000,
        threshold=475.0,
        eval_every=8192,
        num_envs=8,
        sb3=dict(
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=("lin", 1e-3),
            clip_range=("lin", 0.2),
        ),
        tfpg={},  # the tfpg/CartPoleNoVel-v1 PPO preset: the same RL Zoo entry (vf_coef 1.0 = SB3's 0.5)
    ),
}
# MaskablePPO with SB3's defaults (1 env, n_steps 2048, batch 64, 10 epochs, lr 3e-4, γ 0.99, λ 0.95, clip
# 0.2, max_grad_norm 0.5, vf_coef 0.5 = tfpg's 1.0), the setting of issue 13's reference measurement.
_MASKABLE_SB3 = dict(n_steps=2048, batch_size=64, n_epochs=10, ent_coef=0.0)
_MASKABLE_TFPG = dict(
    num_steps=2048,
    minibatch_size=64,
    update_epochs=10,
    learning_rate=3e-4,
    anneal_lr=False,
    gamma=0.99,
    gae_lambda=0.95,
    clip_range=0.2,
    ent_coef=0.0,
    vf_coef=1.0,  # SB3's default 0.5 on the full MSE
    max_grad_norm=0.5,
    action_mask="info",
)
CASES["maskable-discrete"] = dict(
    env="tfpg-test/InvalidActionEnvDiscrete-v0",  # dim=80, n_invalid_actions=60, 100-step episodes
    sb3_env=("sb3_contrib.common.envs:InvalidActionEnvDiscrete", dict(dim=80, n_invalid_actions=60)),
    algo="ppo",
    sb3_algo="maskable_ppo",
    steps=20_480,
    threshold=90.0,
    eval_every=4096,
    num_envs=1,
    sb3=_MASKABLE_SB3,
    tfpg=_MASKABLE_TFPG,
)
CASES["maskable-multidiscrete"] = dict(
    env="tfpg-test/InvalidActionEnvMultiDiscrete-v0",  # dims=[20, 20], n_invalid_actions=30
    sb3_env=(
        "sb3_contrib.common.envs:InvalidActionEnvMultiDiscrete",
        dict(dims=[20, 20], n_invalid_actions=30),
    ),
    algo="ppo",
    sb3_algo="maskable_ppo",
    steps=20_480,
    threshold=90.0,
    eval_every=4096,
    num_envs=1,
    sb3=_MASKABLE_SB3,
    tfpg=_MASKABLE_TFPG,
)
THROUGHPUT = dict(
    env="CartPole-v1",
    algo="ppo",
    steps=1_000_000,
    threshold=475.0,
    eval_every=0,
    num_envs=64,
    tfpg=dict(num_steps=64, minibatch_size=1024, update_epochs=4),  # + the CartPole-v1 preset's values
)
"""tfpg's throughput mode for CartPole-v1 (the overrides README/BENCHMARKS document as --set flags)."""

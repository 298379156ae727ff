"""Action masking through the seam: the policy's schema and actors, NumPy vs TF, the learner's behaviour-time
mask, training (PPO, A2C, REINFORCE) with 0 invalid actions, rollout/ metrics, evaluation, export and resume.

The test envs (envs/testing_masks.py, ``InvalidAction*``) end an episode with reward -10 on an invalid action and
report every step's ``info["invalid_action"]``: the env's own count, apart from tfpg's bookkeeping.
"""

import dataclasses
import json
import math
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from agents.config import resolve_config
from agents.experience.collection import InProcessCollection
from agents.experience.masks import invalid_action_flags
from agents.run.building import build_run
from agents.run.logging import read_scalars
from agents.run.rundir import RunInputError, load_run_config
from agents.run.trainer import train
from envs import testing as tenvs
from envs import testing_masks
from networks.distribution_math import mask_logits
from networks.numpy_distributions import MirroredDistribution

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # the scripts' main() functions are called in-process

SMALL = {
    "num_envs": 4,
    "num_steps": 16,
    "eval_envs": 2,
    "eval_episodes": 4,
    "video": False,
    "histogram_every": 0,
}
PPO_SMALL = {"minibatch_size": 32, "update_epochs": 2}
# Every masked env: (env id, the flat mask's size, valid entries per step).
DISCRETE = (testing_masks.INVALID_ACTION_ID, 16, 4)  # Discrete(16), 12 invalid, mask in info
DISCRETE_DICT = (testing_masks.INVALID_ACTION_DICT_ID, 16, 4)  # the mask in a Dict observation
MULTI = (testing_masks.INVALID_ACTION_MULTI_ID, 12, 4)  # MultiDiscrete([6, 6]), 8 of 12 entries invalid
MULTI_DICT = (testing_masks.INVALID_ACTION_MULTI_DICT_ID, 12, 4)


def small_config(env_id: str, algo: str = "ppo", **extra):
    return resolve_config(algo, env_id, {**SMALL, **(PPO_SMALL if algo == "ppo" else {}), **extra})


def perturb(model, seed: int = 0) -> None:
    """Weights away from their initial values (near-zero heads would make every path look alike)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(variable.numpy() + rng.normal(0.0, 0.5, variable.shape).astype(np.float32))


def random_masks(rng, batch: int, nvec) -> np.ndarray:
    """bool [B, sum(nvec)], about 30% valid, at least one valid entry per dimension."""
    blocks = []
    for n in nvec:
        block = rng.random((batch, n)) < 0.3
        block[np.arange(batch), rng.integers(0, n, batch)] = True
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def nvec_of(space) -> tuple[int, ...]:
    return tuple(int(n) for n in getattr(space, "nvec", [getattr(space, "n", 0)]))


# --- the policy: one schema field, actors that act with the env's mask --------------------------------------
def test_masking_adds_one_learner_field_and_only_when_on():
    run = build_run(small_config(MULTI[0]))
    plain = build_run(small_config(MULTI[0], action_mask="none"))
    try:
        field = run.policy.schema.fields["action_mask"]
        assert (field.source, field.per_step, field.learner) == ("actor", True, True)
        assert field.spec.shape == (12,) and field.spec.dtype == bool
        assert run.agent.core.batch_spec["action_mask"].shape == (64, 12)  # in the update's signature
        extra = set(run.policy.schema.fields) - set(plain.policy.schema.fields)
        assert extra == {"action_mask"}
        assert plain.policy.action_masks is None
    finally:
        run.close()
        plain.close()


@pytest.mark.parametrize("case", [DISCRETE, MULTI_DICT], ids=["discrete-info", "multi-obs"])
def test_numpy_and_tf_paths_agree_under_random_masks(case):
    """MirrorActor (NumPy) and the compiled TF functions, perturbed weights, random masks: the same valid
    actions given the same noise, the same log-probs and modes; and without the mask they would differ."""
    run = build_run(small_config(case[0]))
    try:
        policy = run.policy
        assert policy.use_mirror
        perturb(policy.model)
        batch, rng = 256, np.random.default_rng(1)
        nvec = nvec_of(policy.action_space)
        space = run.env.single_observation_space
        obs = np.stack([space.sample() for _ in range(batch)])
        masks = random_masks(rng, batch, nvec)
        info = {"action_mask": masks, "_action_mask": np.ones(batch, bool)}
        snapshot = policy.snapshot(1, batch)
        out = policy.actor(snapshot, 1, batch).act(obs, info, np.zeros(batch, bool))
        np.testing.assert_array_equal(out["action_mask"], masks)
        # TF reference with the same noise: Gumbel-max per dimension over the masked logits.
        params = policy.model(obs)["policy"]
        noise = snapshot.noise[0]
        gumbel = mask_logits(params, masks) - tf.math.log(-tf.math.log(noise))
        parts = tf.split(gumbel, list(nvec), axis=-1)
        expected = tf.stack([tf.argmax(p, axis=-1, output_type=tf.int32) for p in parts], axis=-1).numpy()
        expected = expected[:, 0] if len(nvec) == 1 else expected
        np.testing.assert_array_equal(out["actions"], expected)
        tf_log_prob = policy.distribution.log_prob(params, expected, masks).numpy()
        np.testing.assert_allclose(out["log_probs"], tf_log_prob, rtol=1e-4, atol=1e-4)
        # The compiled TF functions (mask as their second input): mode, and a sample's log-prob.
        dist = MirroredDistribution(policy.distribution)
        np_mode = dist.mode(params.numpy(), masks)
        np.testing.assert_array_equal(policy.predict(obs, action_mask=masks), np_mode)
        np.testing.assert_array_equal(policy.predict(obs, info=info), np_mode)
        tf_actions, tf_log_probs, _ = policy.act(obs, masks)
        assert not invalid_action_flags(masks, tf_actions, policy.action_space).any()
        np.testing.assert_allclose(
            tf_log_probs, dist.log_prob(params.numpy(), tf_actions, masks), rtol=1e-4, atol=1e-4
        )
        assert not invalid_action_flags(masks, out["actions"], policy.action_space).any()
        policy.use_mirror = False  # the TF actor (models the mirror lacks): the same fields, valid actions
        tf_out = policy.actor(None, 1, batch).act(obs, info, np.zeros(batch, bool))
        np.testing.assert_array_equal(tf_out["action_mask"], masks)
        assert not invalid_action_flags(masks, tf_out["actions"], policy.action_space).any()
        # The masks matter here: the unmasked mode picks invalid entries on many rows.
        unmasked = dist.mode(params.numpy())
        assert invalid_action_flags(masks, unmasked, policy.action_space).mean() > 0.3
        with pytest.raises(ValueError, match=r"This policy masks actions.*pass the env's info"):
            policy.predict(obs)
        assert policy.trace_counts()["mode"] == 1 and policy.trace_counts()["sample"] == 1
    finally:
        run.close()


class _Recorder:
    """Wraps a policy's actors: keeps a copy of each step's info mask as the env reported it."""

    def __init__(self, policy):
        self.masks, self._actor = [], policy.actor

        def actor(*args):
            inner = self._actor(*args)
            act = inner.act

            def recording_act(obs, info, episode_start):
                self.masks.append(np.asarray(info["action_mask"], bool).copy())
                return act(obs, info, episode_start)

            inner.act = recording_act
            return inner

        policy.actor = actor


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_the_update_uses_the_behaviour_time_mask(algo):
    """The rollout stores the mask each action was sampled under; changing the envs' masks afterwards changes
    nothing in the batch; evaluate_actions under it reproduces the behaviour log-probs; the update's entropy
    is over the 4 valid actions (≤ log 4), not the 16 (≈ log 16 at these weights)."""
    run = build_run(small_config(DISCRETE[0], algo))
    try:
        recorder = _Recorder(run.policy)
        num_steps = run.config.agent.num_steps
        collection = InProcessCollection(run.env, run.policy, num_steps, seed=0)
        rollout, _, _ = collection.collect(None)
        for sub_env in run.env.unwrapped.envs:  # every env now has another valid set
            sub_env.unwrapped._draw()
        np.testing.assert_array_equal(rollout.action_mask, np.stack(recorder.masks))
        zeros = np.zeros_like(rollout.rewards)
        batch = run.agent.core.batch(rollout, advantages=zeros, returns=zeros)
        np.testing.assert_array_equal(batch["action_mask"], np.stack(recorder.masks).reshape(-1, 16))
        log_prob, entropy, _ = run.agent.core.evaluate_actions(tf.nest.map_structure(tf.constant, batch))
        np.testing.assert_allclose(log_prob.numpy(), batch["log_probs"], rtol=1e-5, atol=1e-5)
        assert entropy.numpy().max() <= math.log(4) + 1e-5
        metrics, _ = run.agent.learn(rollout, progress=0.0)
        assert 0.5 < metrics["entropy"] <= math.log(4) + 1e-5, metrics
    finally:
        run.close()


# --- training: 0 invalid actions, counted by tfpg and by the env ---------------------------------------------
def test_training_takes_no_invalid_action_in_10k_steps(tmp_path):
    """PPO on MultiDiscrete([6, 6]) with the mask in the Dict observation (the longest path: ActionMaskToInfo,
    flat mask split per dimension). A2C and REINFORCE act and update through the same actor and
    evaluate_actions (test_the_update_uses_the_behaviour_time_mask). Masking, not learning, keeps the count at
    0, so one gradient step per rollout on a small network is enough."""
    env_id, _, valid = MULTI_DICT
    config = resolve_config(
        "ppo",
        env_id,
        {"total_steps": 10_240, "num_envs": 16, "num_steps": 64, "minibatch_size": 1024, "update_epochs": 1,
         "hidden_sizes": [32], "log_every": 1, "info_keys": ["invalid_action"], "video": False,
         "histogram_every": 0, "eval_episodes": 4, "seed": 1},
    )  # fmt: skip
    summary = train(config, tmp_path / "run", progress=False)
    steps, invalid = read_scalars(str(tmp_path / "run"), "rollout/invalid_actions")
    _, env_counted = read_scalars(str(tmp_path / "run"), "rollout/info/invalid_action")
    _, valid_counts = read_scalars(str(tmp_path / "run"), "rollout/valid_actions")
    assert summary["total_steps"] >= 10_000 and len(steps) == 10  # 10 rollouts of 16 x 64
    assert sum(invalid) == 0 and sum(env_counted) == 0
    np.testing.assert_allclose(valid_counts, valid)  # every step of these envs has exactly 4 valid entries
    _, lengths = read_scalars(str(tmp_path / "run"), "rollout/episode_length")
    assert min(lengths) == 20  # no episode ended early (an invalid action would end it)
    assert summary["eval_mean_length"] == 20


@pytest.mark.learning
def test_masked_ppo_reaches_the_threshold_in_fewer_steps_than_unmasked(tmp_path):
    """Seed 0, evaluation every 1,024 steps: masked PPO scores 20/20 from its first evaluation; unmasked PPO
    scored -5.9 at 1,024 and 2,048 steps (measured; it needed 5,120 steps to reach 18)."""
    first = {}
    for mask in ("auto", "none"):
        config = resolve_config(
            "ppo",
            DISCRETE[0],
            {"seed": 0, "total_steps": 2048, "eval_every": 1024, "eval_episodes": 8, "action_mask": mask,
             "video": False, "histogram_every": 0},
        )  # fmt: skip
        train(config, tmp_path / mask, progress=False)
        steps, returns = read_scalars(str(tmp_path / mask), "eval/mean_return")
        assert steps == [1024, 2048]
        first[mask] = next((s for s, r in zip(steps, returns, strict=True) if r >= 18.0), math.inf)
    assert first["auto"] == 1024 and first["none"] == math.inf, first


# --- evaluation, export, resume --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_masked_run(tmp_path_factory):
    """One 64-step rollout of training on MultiDiscrete([6, 6]) with the mask in the Dict observation (the
    longest path: ActionMaskToInfo, the flat mask split per dimension; the info source reaches evaluation the
    same way, and the learning test's periodic evaluations use it). Its policy is still near uniform, so
    unmasked it picks invalid pairs most of the time: evaluation and export must mask to avoid them."""
    env_id, size, _ = MULTI_DICT
    run_dir = tmp_path_factory.mktemp("masked") / "run"
    train(small_config(env_id, total_steps=64), run_dir, progress=False)
    return run_dir, env_id, size


def test_evaluate_script_plays_with_the_eval_envs_masks(short_masked_run, capsys):
    import evaluate

    run_dir, _, _ = short_masked_run
    for mode in ("--deterministic", "--stochastic"):
        assert evaluate.main([str(run_dir), "--episodes", "8", mode, "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        # An invalid action ends an episode early with -10: 20 steps each means none was taken.
        assert result["episodes"] == 8 and result["mean_length"] == 20.0, result
        assert result["mean_return"] >= 0.0, result


def test_exported_model_never_returns_an_invalid_action(short_masked_run, tmp_path):
    """Every format takes an action_mask input beside the observations and returns only valid actions under
    random masks; its deterministic actions are the policy's own."""
    from agents.run import export_formats as formats
    from agents.run.export import export_policy
    from agents.run.loading import load_run

    run_dir, _, size = short_masked_run
    available = [f for f in formats.FORMATS if not formats.missing_modules((f,))]
    loaded = load_run(run_dir)
    try:
        infos = export_policy(loaded.run, tmp_path / "policy", formats=tuple(available))
        policy = loaded.run.policy
        rng = np.random.default_rng(0)
        space = loaded.run.env.single_observation_space  # without the mask (Dict-observation envs too)
        obs = np.stack([space.sample() for _ in range(1000)])
        masks = random_masks(rng, 1000, nvec_of(policy.action_space))
        expected = policy.predict(obs, action_mask=masks)
        unmasked_mode = policy.distribution.mode(policy.model(obs)["policy"]).numpy()
    finally:
        loaded.close()
    assert invalid_action_flags(masks, unmasked_mode, policy.action_space).mean() > 0.3  # masking matters
    feeds = {"observations": obs.astype(space.dtype), "action_mask": masks}
    for fmt in available:
        info = infos[fmt]
        mask_input = {"name": "action_mask", "shape": [None, size], "dtype": "bool", "role": "action_mask"}
        assert mask_input in info["inputs"] and "Dict" not in info["observation_space"], info
        directory = tmp_path / "policy" / (fmt if len(available) > 1 else "")
        got = formats.RUNNERS[fmt](directory / formats.FILES[fmt], feeds)
        np.testing.assert_array_equal(got["actions"], expected, err_msg=fmt)
    exported = tf.saved_model.load(str(tmp_path / "policy" / ("savedmodel" if len(available) > 1 else "")))
    for _ in range(3):
        sampled = exported.signatures["sample"](observations=tf.constant(obs), action_mask=tf.constant(masks))
        assert not invalid_action_flags(masks, sampled["actions"].numpy(), policy.action_space).any()


def test_a_masked_run_resumes_masked(short_masked_run, tmp_path):
    run_dir = short_masked_run[0]
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = load_run_config(copy)
    assert config.run.action_mask == "auto"
    config = dataclasses.replace(
        config, run=dataclasses.replace(config.run, total_steps=192)
    )  # 2 rollouts more
    summary = train(config, copy, progress=False, resume=True)
    assert summary["resumed_from_step"] == 64 and summary["total_steps"] == 192
    steps, invalid = read_scalars(str(copy), "rollout/invalid_actions")
    assert steps == [64, 128, 192] and sum(invalid) == 0


def test_configs_saved_before_masking_read_as_none_and_a_bad_setting_is_refused(tmp_path):
    """A run from before action_mask existed trained unmasked: it resumes/evaluates/exports unmasked, with
    the network it had (auto could change it, e.g. drop a Dict observation's mask key)."""
    old = Path(__file__).parent / "data" / "runs-71b6046" / "ppo-pendulum"
    assert "action_mask" not in json.loads((old / "config.json").read_text())["run"]
    assert load_run_config(old).run.action_mask == "none"
    bad = tmp_path / "run"
    bad.mkdir()
    data = json.loads((old / "config.json").read_text())
    data["run"]["action_mask"] = "obs:"
    (bad / "config.json").write_text(json.dumps(data))
    with pytest.raises(RunInputError, match="action_mask='obs:' is not one of"):
        load_run_config(bad)


# --- building: clear errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "setting", "message"),
    [
        (testing_masks.INVALID_ACTION_ID, "obs", r"action_mask=obs:action_mask needs a Dict observation"),
        ("CartPole-v1", "info", r"reset info has no 'action_mask'"),
        (tenvs.test_env_id("vector", "box"), "info", r"reset info has no 'action_mask'"),
    ],
)
def test_a_source_the_env_lacks_is_refused_before_anything_is_written(tmp_path, env_id, setting, message):
    with pytest.raises(ValueError, match=message):
        train(small_config(env_id, action_mask=setting), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


# --- the README example, from the CLI -------------------------------------------------------------------------
def test_readme_masking_example_trains_from_the_cli(tmp_path, monkeypatch, capsys):
    """The README's env file and command, as written, through train_agent.py's main() (in-process: the same
    argument parsing, without a second TensorFlow start-up), on one rollout's budget."""
    import train_agent

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Masking invalid actions", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    command = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip()
    assert len([line for line in code.splitlines() if line.strip()]) <= 16
    (tmp_path / "pick_legal.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))  # the command's PYTHONPATH=.
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command.split("train_agent.py", 1)[1])
    overrides = ["--total-steps", "1024", "--logdir", "runs", "--no-progress", "--set", "video=false"]
    assert train_agent.main([*args, *overrides]) == 0, capsys.readouterr().err[-3000:]
    run_dir = tmp_path / "runs" / "pick"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["eval_mean_length"] == 20  # an illegal action would have ended an episode
    _, invalid = read_scalars(str(run_dir), "rollout/invalid_actions")
    _, valid = read_scalars(str(run_dir), "rollout/valid_actions")
    assert sum(invalid) == 0 and len(valid) == 1 and 3.0 <= valid[0] <= 4.0

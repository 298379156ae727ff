"""Run configuration: dataclasses, per-env YAML presets and ``key=value`` overrides.

A run's configuration has three parts, each a dataclass with a docstring per field:
``RunConfig`` (what to train on and for how long), ``NetworkConfig`` (the ActorCritic's shape) and the
algorithm's own config (e.g. ``PPOConfig``). Presets (``agents/presets/<algo>.yaml``) map an env id to field
values, RL-Zoo style; ``default`` applies to envs without an entry. Field names are unique across the three
parts, so presets and ``--set`` overrides use plain names (``learning_rate=1e-3``); ``part.field`` also works.
Resolution order: dataclass defaults < preset ``default`` < preset for the env < CLI flags < ``--set``.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.algorithms.configs import RECURRENT_ALGOS, sequence_minibatch_error
from agents.algorithms.registry import ALGORITHMS
from agents.experience.masks import MaskSource
from agents.validation import ConfigError, validate

PRESET_DIR = Path(__file__).parent / "presets"

ALGO_CONFIGS: dict[str, type] = {name: algo.config for name, algo in ALGORITHMS.items()}
"""Algorithm name → its config dataclass (from agents.algorithms.registry, where algorithms register)."""


@dataclass
class RunConfig:
    """What to train on, for how long, and where the run goes."""

    env_id: str = "CartPole-v1"
    """Gymnasium environment id."""
    algo: str = "ppo"
    """Algorithm name (a key of ALGO_CONFIGS)."""
    seed: int = 0
    """Seeds Python, NumPy, TensorFlow, the sampling generator and every sub-env (sub-env i gets seed + i)."""
    total_steps: int = 100_000
    """Environment steps to train for (summed over envs); rounded down to whole rollouts."""
    num_envs: int = 8
    """Parallel environments in the training vector env."""
    vectorization: str = "auto"
    """Gymnasium vectorization: auto (native vector env if the env has one, else sync), sync, async,
    vector_entry_point, or envpool (EnvPool's C++ envs; not an extra: pip install envpool==1.2.5)."""
    normalize_obs: bool = False
    """Running mean/std observation normalization (statistics are saved in the checkpoint)."""
    normalize_reward: bool = False
    """Scale rewards by the running std of the discounted return, SB3's VecNormalize rule: the return restarts
    at every episode end (truncations too), statistics in float64, saved in the checkpoint, frozen in evaluation."""
    clip_reward: float | None = 10.0
    """With normalize_reward: clip normalized rewards to [-clip_reward, clip_reward] (SB3's 10); null: no clip."""
    eval_episodes: int = 20
    """Episodes of the final deterministic evaluation on a separate env."""
    eval_envs: int = 4
    """Parallel environments used for evaluation."""
    eval_max_episode_steps: int = 10_000
    """Evaluation (and video) episodes of an env with no time limit of its own (e.g. CliffWalking-v1) are cut
    after this many steps, so evaluation always ends; they count as capped (summary.json eval_capped_episodes)."""
    eval_every: int | None = None
    """Evaluate every this many env steps during training; None (default): about 10 evaluations per run (every
    ceil(rollouts / 10) rollouts), so every run has an eval/ curve; 0: only at the end."""
    periodic_eval_episodes: int = 0
    """Episodes of each evaluation before the final one (the final one plays eval_episodes). 0: eval_episodes
    when eval_every is set, min(eval_episodes, eval_envs) (one episode per eval env, cheap) when it is None."""
    checkpoint_every: int = 0
    """Save a checkpoint every this many env steps (0: every 10% of total_steps); also at the end and on stop."""
    keep_checkpoints: int = 3
    """How many periodic checkpoints to keep in checkpoint/ (oldest deleted first)."""
    deterministic_ops: bool = False
    """Turn on TensorFlow op determinism, so two runs with the same seed write identical scalars."""
    tf_threads: int = 0
    """TensorFlow's intra-op threads for this process (0: TensorFlow's default, one per core). Small updates can
    run faster on one thread than on two (the recurrent CartPoleNoVel preset: BENCHMARKS.md). Takes effect only
    before the process's first TensorFlow op (a second run in the same process keeps the first one's); an
    explicit TF_NUM_INTRAOP_THREADS in the environment wins."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for gymnasium.make (CLI: --env-kwargs KEY=VALUE)."""
    wrappers: list[dict[str, Any]] = field(default_factory=list)
    """Gymnasium wrappers applied to every sub-env, innermost first: [{"entry_point": "pkg.module:Wrapper",
    "kwargs": {...}}] (CLI: --wrapper pkg.module:Wrapper KEY=VALUE ...). The module is imported by name, so
    evaluation, export and --resume rebuild the same env; vectorization auto becomes sync (a native vector
    env cannot wrap its sub-envs)."""
    stop_at_return: float | None = None
    """Stop training (a normal finished run) once an evaluation's mean return reaches this; None: never."""
    stop_patience: int = 0
    """Stop training once this many evaluations in a row have not improved on the best one; 0: never."""
    log_every: int = 1
    """Write scalars every this many updates (and after the last); finished episodes in between are pooled."""
    info_keys: list[str] = field(default_factory=list)
    """Env ``info`` keys to average per rollout and log as rollout/info/<key> (custom metrics)."""
    action_mask: str = "auto"
    """Where the valid actions come from (Discrete/MultiDiscrete only; invalid ones are never sampled): none;
    obs:KEY (a Dict observation key, hidden from the network); info:KEY (the env's info); auto (obs:action_mask
    if the observation has that key, else info:action_mask if the env reports it on reset, else none)."""
    histogram_every: int = 10
    """Write weight/gradient/action/advantage histograms every this many updates (0: never)."""
    video: bool = True
    """At each evaluation, record one episode (when the env renders rgb_array): MP4 in videos/ + frames in TB."""
    log_graph: bool = False
    """Write the compiled update step's graph to TensorBoard (traced once, at the first update)."""
    backend: str = "inprocess"
    """Where rollouts are collected: inprocess (one vector env in this process) or ray (Ray actor workers)."""
    num_workers: int = 2
    """Ray rollout workers (backend=ray); they split num_envs between them."""
    envs_per_worker: int = 0
    """Envs per Ray worker (backend=ray); when set, num_envs becomes num_workers * envs_per_worker."""
    ray_address: str | None = None
    """Ray cluster to join (else RAY_ADDRESS, else a local Ray started with this machine's CPUs)."""
    worker_timeout_s: float = 300.0
    """Longest wait for one worker's rollout before it is replaced and its share collected again."""
    worker_cpus: float = 1.0
    """CPUs Ray reserves per rollout worker (backend=ray). Below 1 packs more workers than cores: for envs that
    mostly wait (a remote simulator, a game server), not for envs that compute."""
    atari_wrappers: bool = False
    """The standard Atari preprocessing (ALE ids): no-op reset, frame skip 4 + max-pool, 84x84 gray, frame stack."""
    frame_stack: int = 4
    """Frames stacked per observation with atari_wrappers."""
    terminal_on_life_loss: bool = False
    """Training envs only (ALE ids): a lost life ends the learner's episode; the game and its logged score go on."""
    sign_reward: bool = False
    """Training envs only: each reward becomes its sign (SB3's AtariWrapper clip_reward); logged episode returns
    stay the raw score. (Not clip_reward, which clips normalized rewards.)"""


@dataclass
class NetworkConfig:
    """Shape of the ActorCritic network."""

    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """Units of each hidden layer of the MLP trunk(s)."""
    activation: str = "tanh"
    """Activation of the hidden layers (any Keras activation name)."""
    share_trunk: bool = False
    """One encoder+trunk for policy and value (True) or one each (False)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian policies."""
    squash_actions: bool = False
    """Box actions: tanh-squashed Gaussian inside the bounds (True) or Gaussian clipped by the env (False)."""
    state_dependent_std: bool = False
    """Box actions: log-std computed from the state (True) or one learned vector (False)."""
    cnn: str = "auto"
    """Image encoder: nature (Mnih et al. 2015, 512 features), small, minatar, or auto (nature when H, W >= 36)."""
    channels: str = "auto"
    """Image channel axis: first ([C, H, W]), last ([H, W, C]) or auto (the axis clearly smaller than the others)."""
    recurrent: str = "none"
    """Recurrent core between each encoder and its MLP: none (feed-forward), lstm or gru."""
    recurrent_size: int = 256
    """Hidden units of each recurrent core (sb3-contrib's lstm_hidden_size default, 256)."""
    critic_core: str = "own"
    """With a core and separate trunks: the value trunk has its own core (own, sb3-contrib's
    enable_critic_lstm), reads the policy core's output without training it (shared, as shared_lstm), or is
    feed-forward (none). With share_trunk the one trunk, core included, feeds both heads."""


@dataclass
class ResolvedConfig:
    """The full configuration of one run, as saved in config.json."""

    run: RunConfig
    network: NetworkConfig
    agent: Any
    preset: str
    """Which preset entry was used (the env id, or 'default')."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": dataclasses.asdict(self.run),
            "network": dataclasses.asdict(self.network),
            "agent": dataclasses.asdict(self.agent),
            "preset": self.preset,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolvedConfig:
        """Rebuild a saved config (config.json, a Ray worker's copy), checked as ``resolve_config`` checks a new one.

        Configs saved before ``action_mask`` existed trained without masking: they read as ``none`` (not the
        default ``auto``), so such a run resumes, evaluates and exports with the network and policy it had.

        Raises:
            ConfigError: a value out of range (see agents/validation.py) or a bad action_mask.
        """
        run = RunConfig(**{"action_mask": "none", **data["run"]})
        _check_action_mask(run)
        config = cls(
            run=run,
            network=NetworkConfig(**data["network"]),
            agent=ALGO_CONFIGS[run.algo](**data["agent"]),
            preset=data.get("preset", "default"),
        )
        validate(config)
        return config


def load_preset(algo: str, env_id: str) -> tuple[dict[str, Any], str]:
    """The preset values for (algo, env): ``default`` merged with the env's entry (its own, else a pattern's)."""
    path = PRESET_DIR / f"{algo}.yaml"
    if not path.exists():
        return {}, "none"
    try:
        presets = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"Preset file {path} is not valid YAML: {err}. Fix or remove that file.") from err
    values = dict(presets.get("default") or {})
    patterns = (key for key in presets if key != "default" and fnmatch.fnmatchcase(env_id, key))
    entry = env_id if env_id in presets else next(patterns, None)
    if entry is not None:
        values.update(presets[entry] or {})
        return values, entry
    return values, "default"


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` → (key, YAML-parsed value): ``lr=1e-3`` gives a float, ``hidden_sizes=[32,32]`` a list."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"Override {text!r} is not of the form key=value (e.g. --set learning_rate=1e-3).")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"Override {text!r}: cannot parse the value {raw!r}: {err}") from err
    return key.strip(), value


def parse_wrapper(tokens: list[str]) -> dict[str, Any]:
    """``["pkg.module:Wrapper", "k=v", ...]`` (one ``--wrapper``) → ``{"entry_point": ..., "kwargs": {...}}``."""
    entry_point, *pairs = tokens
    return wrapper_spec({"entry_point": entry_point, "kwargs": dict(parse_override(p) for p in pairs)})


def wrapper_spec(item: Any) -> dict[str, Any]:
    """One ``wrappers`` entry in its saved form; a bare ``"pkg.module:Wrapper"`` string is accepted.

    Raises:
        ConfigError: not an entry point of the form module:attribute, or kwargs that are not a mapping.
    """
    if isinstance(item, str):
        item = {"entry_point": item, "kwargs": {}}
    if not isinstance(item, dict) or set(item) - {"entry_point", "kwargs"}:
        raise ConfigError(
            f"Wrapper {item!r} must be 'pkg.module:Wrapper' or {{entry_point: 'pkg.module:Wrapper', kwargs: "
            f"{{...}}}} (e.g. --wrapper gymnasium.wrappers:TimeAwareObservation)."
        )
    entry_point, kwargs = item.get("entry_point"), item.get("kwargs") or {}
    module, sep, attribute = str(entry_point).partition(":")
    if not sep or not module or not attribute:
        raise ConfigError(
            f"Wrapper {entry_point!r} is not of the form pkg.module:Wrapper (the module to import, a colon, "
            f"the wrapper class or function in it), e.g. gymnasium.wrappers:TimeAwareObservation."
        )
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ConfigError(f"Wrapper {entry_point!r}: kwargs must map names to values, got {kwargs!r}.")
    return {"entry_point": entry_point, "kwargs": kwargs}


def resolve_config(algo: str, env_id: str, values: dict[str, Any]) -> ResolvedConfig:
    """Build the run's config: defaults < preset < ``values`` (CLI flags and overrides, in order).

    Raises:
        ConfigError: unknown algorithm, unknown field name, a value of the wrong type or out of range
            (agents/validation.py), or ``algo``/``env_id`` among ``values`` (they are arguments).
    """
    if algo not in ALGO_CONFIGS:
        raise ConfigError(f"Unknown algorithm {algo!r}; choose one of: {', '.join(sorted(ALGO_CONFIGS))}.")
    for key, flag in (("algo", "--algo"), ("env_id", "--env")):
        if key in values or f"run.{key}" in values:
            given = values.get(key, values.get(f"run.{key}"))
            raise ConfigError(f"{key} is chosen with {flag}, not --set {key}={given}: use {flag} {given}.")
    parts = {"run": RunConfig, "network": NetworkConfig, "agent": ALGO_CONFIGS[algo]}
    owner = {f.name: part for part, cls in parts.items() for f in dataclasses.fields(cls)}
    chosen: dict[str, dict[str, Any]] = {part: {} for part in parts}
    preset_values, preset_name = load_preset(algo, env_id)
    merged = {**preset_values, **values, "algo": algo, "env_id": env_id}
    for key, value in merged.items():
        part, name = key.split(".", 1) if "." in key else (owner.get(key), key)
        if part not in parts or name not in owner or owner[name] != part:
            close = difflib.get_close_matches(name, owner, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"Unknown config field {key!r} for algo {algo!r}.{hint} "
                f"Valid fields: {', '.join(sorted(owner))}."
            )
        chosen[part][name] = _check_type(parts[part], name, value)
        if name == "wrappers":
            chosen[part][name] = [wrapper_spec(item) for item in value]
    built = {part: cls(**chosen[part]) for part, cls in parts.items()}
    _check_backend(built["run"])
    _check_action_mask(built["run"])
    _check_recurrent(built["network"])
    _check_recurrent_training(built)
    config = ResolvedConfig(
        run=built["run"], network=built["network"], agent=built["agent"], preset=preset_name
    )
    validate(config)
    return config


def _check_backend(run: RunConfig) -> None:
    """Backend choice and the split of envs over Ray workers (num_envs is fixed up from envs_per_worker)."""
    if run.backend not in ("inprocess", "ray"):
        raise ConfigError(f"backend must be 'inprocess' or 'ray', got {run.backend!r}.")
    if run.backend != "ray":
        return
    if run.num_workers < 1:
        raise ConfigError(f"num_workers must be at least 1 with backend=ray, got {run.num_workers}.")
    if not run.worker_cpus > 0:
        raise ConfigError(
            f"worker_cpus must be above 0 (e.g. 0.25 for envs that mostly wait), got {run.worker_cpus}."
        )
    if run.envs_per_worker > 0:
        run.num_envs = run.num_workers * run.envs_per_worker
    elif run.num_envs % run.num_workers:
        raise ConfigError(
            f"num_envs={run.num_envs} does not split evenly over num_workers={run.num_workers}; "
            f"set --envs-per-worker, or a num_envs that is a multiple of num_workers."
        )


def _check_action_mask(run: RunConfig) -> None:
    """The action_mask setting parses (whether the env has such a mask is checked when the env is built)."""
    try:
        MaskSource.parse(run.action_mask)
    except ValueError as err:
        raise ConfigError(str(err)) from err


RECURRENT_CORES = ("none", "lstm", "gru")
CRITIC_CORES = ("own", "shared", "none")


def _check_recurrent(network: NetworkConfig) -> None:
    """Core kind, width and critic choice (networks/cores.py, networks/actor_critic.py)."""
    if network.recurrent not in RECURRENT_CORES:
        raise ConfigError(
            f"recurrent must be one of {', '.join(RECURRENT_CORES)}, got {network.recurrent!r}."
        )
    if network.recurrent_size < 1:
        raise ConfigError(f"recurrent_size must be a positive number of units, got {network.recurrent_size}.")
    if network.critic_core not in CRITIC_CORES:
        raise ConfigError(
            f"critic_core must be one of {', '.join(CRITIC_CORES)}, got {network.critic_core!r}."
        )


def _check_recurrent_training(config: dict) -> None:
    """A recurrent network needs an algorithm that replays sequences, and PPO minibatches of whole sequences."""
    run, network, agent = config["run"], config["network"], config["agent"]
    if network.recurrent == "none":
        return
    if run.algo not in RECURRENT_ALGOS:
        raise ConfigError(
            f"recurrent={network.recurrent} trains with {' or '.join(RECURRENT_ALGOS)}, not {run.algo}; "
            f"use --algo ppo, or recurrent=none."
        )
    if run.algo == "ppo":
        error = sequence_minibatch_error(agent.num_steps, agent.minibatch_size, run.num_envs)
        if error:
            raise ConfigError(error)


def _check_type(cls: type, name: str, value: Any) -> Any:
    """Coerce ints to floats where a float is expected; reject values of the wrong kind with a clear error."""
    default = next(f for f in dataclasses.fields(cls) if f.name == name)
    annotation = str(default.type)
    if value is None:
        if "None" in annotation:
            return None
        raise ConfigError(f"Config field {name!r} cannot be null (type {annotation}).")
    if annotation.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation.startswith("float") and isinstance(value, str):
        # YAML 1.1 reads "3e-4" (no dot) as a string; accept what float() accepts.
        try:
            return float(value)
        except ValueError:
            pass
    expected = {"int": int, "float": float, "bool": bool, "str": str}.get(annotation.split(" ")[0])
    if expected is not None and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        raise ConfigError(
            f"Config field {name!r} expects {annotation}, got {value!r} ({type(value).__name__})."
        )
    if annotation.startswith("list") and not isinstance(value, list):
        raise ConfigError(f"Config field {name!r} expects a list like [64, 64], got {value!r}.")
    return value

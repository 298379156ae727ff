"""The exported graph: a ``tf.Module`` whose signatures run a trained policy without tfpg or Gymnasium.

It is written as a SavedModel and converted from it to ONNX and TFLite (export.py, export_formats.py). It takes
raw observations, exactly as the env returns them: the training env's observation normalization (mean, scale,
clip) is baked in as constants, and Box actions come out clipped to the action bounds, as the env receives them.

Inputs (the same names in every format; ``tfpg_export.json`` lists them with shapes and dtypes):
    observations          [B, *obs_shape] in the env's dtype, for an array observation space
    observations_<key>    one input per key of a Dict observation space (nested keys joined by "_",
                          characters other than [A-Za-z0-9_] replaced by "_"), e.g. observations_position;
                          a Tuple space's elements are keyed by position, e.g. observations_0, observations_1_flag
    action_mask           [B, size] bool, True = valid action, for a run that masks actions (the flat
                          per-dimension layout for MultiDiscrete); every signature that returns actions then
                          returns only valid ones. A mask the env carried in a Dict observation is this input,
                          not an ``observations_<key>`` one.
Outputs:
    actions   [B] int32 (Discrete) | [B, D] int32 (MultiDiscrete, MultiBinary) | [B, d] float32 (Box)
    values    [B] float32, V(s)
SavedModel signatures:
    serving_default(inputs) -> {actions, values}   deterministic (the distribution's mode)
    sample(inputs)          -> {actions}           stochastic (a generator saved with the model); SavedModel only
    value(inputs)           -> {value}             V(s) (kept for users of the first export format)

A recurrent policy (SavedModel only) has two more inputs, ``state`` [B, S] float32 (the state before the step)
and ``episode_start`` [B] bool (True on an episode's first observation: the state is zeroed first); its
serving_default and sample signatures also return the next ``state``, and ``initial_state(batch)`` -> {state}
gives the zeros to start from.

Why a converted model returned NaN (issue 18). The first exporter tracked the Keras model on the module. A Keras 3
variable wraps a ``tf.Variable``; saved through the wrapper, the SavedModel's graph holds two variables per weight:
the wrapped one, which the signatures read (``actor_critic/.../kernel``), and a copy that
``keras.Variable._export_to_saved_model_graph`` adds (``Variable``, ``Variable_1``, ...) as the node the checkpoint
values belong to. ``tf.saved_model.load`` binds the signatures to the restored nodes, so TensorFlow (and tf2onnx,
which loads through it) saw the right weights; the TFLite converter did not: the .tflite file held no weights
(10 KB for CartPole's 9k parameters) and read them from resource variables (``tfl.var_handle
"actor_critic/.../kernel"``) that its session initializer (a NoOp) never set, giving NaN values and a constant
action. Bisected on the README's CartPole run: NaN with the ``sample`` signature left out, with the generator
removed as well, and for a bare ``keras.Sequential`` of ``Dense`` layers in a ``tf.Module``; correct as soon as the
module tracks the plain ``tf.Variable``s instead (as ``keras.export.ExportArchive`` does), which the module below
does, keeping the Keras model out of the saved object graph. The other suspects fail loudly, not silently: the
``sample`` signature's generator and the old float64 normalization both need Flex ops, so converting them raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import tensorflow as tf
from gymnasium.vector import VectorWrapper
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

from agents.run.building import Run
from envs.wrappers import ActionMaskToInfo, moved_action_mask_key, strip_observation_space


class ExportInputError(ValueError):
    """The run cannot be exported as asked (bad weights, missing converter, ...); the message says why."""


@dataclass(frozen=True)
class ExportInput:
    """One named input of the exported graph. Every signature of every format is built from one list of these
    (``export_inputs``): masking adds an ``action_mask`` input and recurrent policies ``state`` inputs there."""

    name: str
    """The input's name in every format: SavedModel signature argument, ONNX input, LiteRT signature input."""
    spec: tf.TensorSpec
    """``[None, *shape]`` with the dtype the env emits."""
    role: str = "observations"
    """What the input feeds: ``observations``, ``action_mask``, ``state`` or ``episode_start``."""
    path: tuple[str | int, ...] = ()
    """Keys into a Dict (str) / Tuple (int) observation space (``()`` for an array space)."""


def export_inputs(run: Run) -> list[ExportInput]:
    """The exported graph's inputs for ``run``: one per array of the raw (unnormalized) observation.

    Raises:
        ExportInputError: Two Dict keys map to the same input name.
    """
    # Future inputs go here, each with its role (the graph finds its tensors by role).
    inputs = [
        ExportInput(
            _input_name(path), tf.TensorSpec([None, *space.shape], tf.as_dtype(space.dtype)), path=path
        )
        for path, space in _leaves(raw_observation_space(run))
    ]
    masks = run.policy.action_masks
    if masks is not None:
        inputs.append(ExportInput("action_mask", tf.TensorSpec([None, masks.size], tf.bool), "action_mask"))
    if run.policy.recurrent:
        # the state before the step, and where episodes start (the state is zeroed there)
        inputs += [
            ExportInput("state", tf.TensorSpec([None, run.policy.state_size], tf.float32), role="state"),
            ExportInput("episode_start", tf.TensorSpec([None], tf.bool), role="episode_start"),
        ]
    names = [inp.name for inp in inputs]
    if len(set(names)) != len(names):
        clashes = sorted({n for n in names if names.count(n) > 1})
        raise ExportInputError(
            f"Dict observation keys map to the same input name(s) {clashes} once characters outside "
            f"[A-Za-z0-9_] become '_'; rename the keys of the env's Dict space to export it."
        )
    return inputs


def raw_observation_space(run: Run) -> gym.Space:
    """One env's observation space as the env emits it (before normalization), without an action mask that
    ``ActionMaskToInfo`` takes out of a Dict observation (that one is the ``action_mask`` input)."""
    space, mask_key = raw_env(run.env).single_observation_space, moved_action_mask_key(run.env)
    return space if mask_key is None else strip_observation_space(space, mask_key)


def raw_env(env):
    """The registered env below tfpg's wrappers (episode statistics, the action mask's move into ``info``,
    normalization): what a user's env returns. Not ``env.unwrapped``: an env's own vector wrappers
    (tfpg/CartPoleNoVel-v1 hides the velocities in one) are part of what it returns."""
    inner = env
    while isinstance(inner, VectorWrapper):
        if isinstance(inner, RecordEpisodeStatistics):  # make_vector_env's first wrapper
            inner = inner.env
            return inner.env if isinstance(inner, ActionMaskToInfo) else inner
        inner = inner.env
    return env.unwrapped


def _leaves(space: gym.Space, path: tuple = ()) -> list[tuple[tuple, gym.Space]]:
    if isinstance(space, gym.spaces.Dict):
        return [leaf for key, sub in space.spaces.items() for leaf in _leaves(sub, (*path, key))]
    if isinstance(space, gym.spaces.Tuple):
        return [leaf for i, sub in enumerate(space.spaces) for leaf in _leaves(sub, (*path, i))]
    return [(path, space)]


def _input_name(path: tuple) -> str:
    return "_".join(["observations", *(re.sub(r"[^A-Za-z0-9_]", "_", str(key)) for key in path)])


def _nest(spec, leaves: dict, path: tuple = ()):
    """The flat ``{path: tensor}`` inputs rebuilt into the nested dicts / tuples the network takes."""
    if isinstance(spec, dict):
        return {key: _nest(sub, leaves, (*path, key)) for key, sub in spec.items()}
    if isinstance(spec, tuple):
        return tuple(_nest(sub, leaves, (*path, i)) for i, sub in enumerate(spec))
    return tf.cast(leaves[path], spec.dtype)


@dataclass(frozen=True)
class _Normalization:
    """Gymnasium's NormalizeObservation (+ tfpg's clip) as float32 constants: clip((x - mean) / scale)."""

    mean: np.ndarray  # [*obs_shape] float32
    scale: np.ndarray  # sqrt(var + epsilon), computed in NumPy exactly as the wrapper does
    low: np.ndarray  # clip bounds of the normalized observation
    high: np.ndarray


def _normalization(run: Run) -> _Normalization | None:
    state = run.normalization.state()
    if "obs_mean" not in state:
        return None
    env, epsilon = run.env, None
    while epsilon is None and isinstance(env, VectorWrapper):
        epsilon = env.epsilon if isinstance(env, NormalizeObservation) else None
        env = env.env
    # The wrapper keeps its statistics in float32 and computes in float32 for float32 observations (NumPy's
    # scalar promotion keeps the Python-float epsilon from upcasting), so this scale is bit-identical to its own.
    var = state["obs_var"].astype(np.float32)
    space = run.policy.observation_space  # the clipped Box the network saw
    return _Normalization(
        mean=state["obs_mean"].astype(np.float32),
        scale=np.sqrt(var + epsilon),
        low=np.asarray(space.low, np.float32),
        high=np.asarray(space.high, np.float32),
    )


class _Graph:
    """The computation behind every signature. A plain object, not a ``tf.Module``: the Keras model it holds
    must stay out of the SavedModel's object graph (see the module docstring)."""

    def __init__(self, run: Run, inputs: list[ExportInput]) -> None:
        self.model = run.policy.model
        self.distribution = run.policy.distribution
        self.obs_spec = run.policy.obs_spec
        self.inputs = inputs
        self.normalization = _normalization(run)
        action_space = run.policy.action_space
        self.action_bounds = (
            (tf.constant(action_space.low, tf.float32), tf.constant(action_space.high, tf.float32))
            if isinstance(action_space, gym.spaces.Box)
            else None
        )

    def observations(self, tensors: tuple[tf.Tensor, ...]) -> Any:
        """The flat input tensors → what the network saw in training (a tensor, or nested dicts / tuples for
        Dict / Tuple spaces)."""
        leaves = {
            inp.path: t for inp, t in zip(self.inputs, tensors, strict=True) if inp.role == "observations"
        }
        if list(leaves) == [()]:
            return self._normalize(leaves[()])
        return _nest(self.obs_spec, leaves)

    def _normalize(self, obs: tf.Tensor) -> tf.Tensor:
        if self.normalization is None:
            return tf.cast(obs, self.obs_spec.dtype)
        norm = self.normalization
        # float32 throughout: TFLite has no float64 arithmetic (Sub/RealDiv on f64 need Flex ops, which LiteRT's
        # pip wheel lacks). For float32 envs this is Gymnasium's own arithmetic; a float64 env (e.g. MuJoCo)
        # is normalized in float64 there, so its observations differ here by float32 rounding (~6e-8 relative).
        x = (tf.cast(obs, tf.float32) - norm.mean) / norm.scale
        return tf.cast(tf.clip_by_value(x, norm.low, norm.high), self.obs_spec.dtype)

    def action_mask(self, tensors: tuple[tf.Tensor, ...]) -> tf.Tensor | None:
        """The ``action_mask`` input [B, size] bool, or None for a run without masking."""
        return next(
            (t for inp, t in zip(self.inputs, tensors, strict=True) if inp.role == "action_mask"), None
        )

    def outputs(self, tensors: tuple[tf.Tensor, ...]) -> dict[str, tf.Tensor]:
        """The network's outputs: policy params [B, P], value [B] (and the next state [B, S] if recurrent)."""
        by_role = {inp.role: t for inp, t in zip(self.inputs, tensors, strict=True)}
        recurrent = (by_role["state"], by_role["episode_start"]) if "state" in by_role else ()
        return self.model(self.observations(tensors), *recurrent, training=False)

    def to_env(self, actions: tf.Tensor) -> tf.Tensor:
        return actions if self.action_bounds is None else tf.clip_by_value(actions, *self.action_bounds)


class ExportedPolicy(tf.Module):
    """A run's policy as a ``tf.Module`` with the signatures of the module docstring.

    Args:
        run: A built run with its checkpoint restored.
        seed: Seed of the ``sample`` signature's generator.
        inputs: The graph's inputs; ``export_inputs(run)`` when None.
    """

    def __init__(self, run: Run, seed: int = 0, inputs: list[ExportInput] | None = None) -> None:
        super().__init__(name="tfpg_policy")
        self.inputs = tuple(inputs or export_inputs(run))
        self._graph = _Graph(run, list(self.inputs))
        self.generator = tf.random.Generator.from_seed(seed)
        specs = [tf.TensorSpec(inp.spec.shape, inp.spec.dtype, name=inp.name) for inp in self.inputs]
        # *tensors, each named by its spec: every format sees len(inputs) flat, named inputs.
        self.deterministic = tf.function(self._deterministic, input_signature=specs, autograph=False)
        self.sample = tf.function(self._sample, input_signature=specs, autograph=False)
        self.value = tf.function(self._value, input_signature=specs, autograph=False)
        self.recurrent = run.policy.recurrent
        if self.recurrent:
            self.state_size = run.policy.state_size
            batch = tf.TensorSpec([], tf.int32, name="batch")
            self.initial_state = tf.function(self._initial_state, input_signature=[batch], autograph=False)
        # The plain tf.Variables the signatures read (not their Keras wrappers): the fix for issue 18.
        self.graph_variables = _read_variables(self.signature_functions().values())

    @property
    def normalized(self) -> bool:
        """Whether the training env's observation normalization is baked in."""
        return self._graph.normalization is not None

    def _deterministic(self, *tensors):
        out = self._graph.outputs(tensors)
        mode = self._graph.distribution.mode(out["policy"], self._graph.action_mask(tensors))
        return {"actions": self._graph.to_env(mode), "values": out["value"], **self._state(out)}

    def _sample(self, *tensors):
        out = self._graph.outputs(tensors)
        mask = self._graph.action_mask(tensors)
        actions = self._graph.to_env(self._graph.distribution.sample(out["policy"], self.generator, mask))
        return {"actions": actions, **self._state(out)}

    def _value(self, *tensors):
        return {"value": self._graph.outputs(tensors)["value"]}

    @staticmethod
    def _state(out) -> dict[str, tf.Tensor]:
        return {"state": out["state"]} if "state" in out else {}

    def _initial_state(self, batch):
        return {"state": tf.zeros(tf.stack([batch, self.state_size]), tf.float32)}

    def signature_functions(self) -> dict[str, Any]:
        """Signature name → concrete function (each traced once, on first call)."""
        functions = {
            "serving_default": self.deterministic.get_concrete_function(),
            "sample": self.sample.get_concrete_function(),
            "value": self.value.get_concrete_function(),
        }
        if self.recurrent:
            functions["initial_state"] = self.initial_state.get_concrete_function()
        return functions

    def save(self, directory: str) -> None:
        """Write the SavedModel with all three signatures into ``directory``."""
        tf.saved_model.save(self, directory, signatures=self.signature_functions())


def _read_variables(functions) -> list[tf.Variable]:
    seen, variables = set(), []
    for function in functions:
        for var in function.variables:
            if id(var) not in seen:
                if not isinstance(var, tf.Variable):
                    raise TypeError(f"Exported signatures read {var!r}, which is not a tf.Variable.")
                seen.add(id(var))
                variables.append(var)
    return variables

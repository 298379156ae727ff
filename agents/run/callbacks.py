"""Callbacks that act: hooks the trainer calls after each update, evaluation and checkpoint.

A ``Callback`` overrides any of ``on_update``, ``on_evaluation`` and ``on_checkpoint``; each may return
``STOP`` ("stop": end training now — the run then evaluates, saves and writes its summary like a run that used
its whole budget, with ``summary.json["stop_reason"]`` saying why) or ``SAVE`` ("save": write a checkpoint now,
from ``on_update``/``on_evaluation``). Returning ``None`` carries on. A callback that stops may set
``stop_reason`` to say why in the summary (else its class name is used).

Plain functions are the other kind of callback, as before: ``fn(env_steps, rollout, episodes, metrics) ->
{tag: value}`` adds custom scalars each time the trainer writes scalars.

Built-ins (each a RunConfig field, so a run's config.json records them and ``--resume`` keeps them):
``StopAtReturn`` (``stop_at_return``) and ``StopOnPlateau`` (``stop_patience``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

STOP = "stop"
"""Return it from a hook to end training; the run finishes normally (final evaluation, checkpoint, summary)."""
SAVE = "save"
"""Return it from ``on_update`` or ``on_evaluation`` to save a checkpoint at this step."""

MetricsCallback = Callable[[int, Any, Any, dict[str, float]], Mapping[str, float] | None]
"""``fn(env_steps, rollout, episodes, metrics) -> {tag: value}``: custom scalars, logged at ``env_steps``."""


class Callback:
    """Base of callbacks that act; override the hooks you need (each returns ``STOP``, ``SAVE`` or None).

    Attributes:
        stop_reason: why this callback stopped the run (written to summary.json); set it before returning STOP.
    """

    stop_reason: str | None = None

    def on_update(self, env_steps: int, rollout, episodes, metrics: dict[str, float]) -> str | None:
        """After every update. ``rollout``: the Rollout it learned from; ``episodes``: EpisodeStats of the
        episodes that finished in it; ``metrics``: the update's train/ scalars (without the prefix)."""
        return None

    def on_evaluation(self, env_steps: int, result: dict, final: bool) -> str | None:
        """After every evaluation. ``result``: ``mean_return``, ``std_return``, ``mean_length``, ``episodes``,
        ``returns``, ``lengths``; ``final``: the end-of-run evaluation (returning STOP then changes nothing)."""
        return None

    def on_checkpoint(self, env_steps: int, path: str, best: bool) -> str | None:
        """After a checkpoint is saved: ``path`` is its prefix; ``best``: saved to best/ (a new best return)."""
        return None


class StopAtReturn(Callback):
    """Stop once an evaluation's mean return reaches ``threshold`` (``--stop-at-return R``)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)

    def on_evaluation(self, env_steps: int, result: dict, final: bool) -> str | None:
        if result["mean_return"] >= self.threshold:
            self.stop_reason = (
                f"stop_at_return: evaluation mean return {result['mean_return']:.2f} >= {self.threshold:g} "
                f"at step {env_steps} ({result['episodes']} episodes)"
            )
            return STOP
        return None


class StopOnPlateau(Callback):
    """Stop once ``patience`` evaluations in a row have not beaten the best one (``--stop-patience K``).

    The first evaluation sets the best; counting starts after it. The count restarts with a resumed run.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best: float | None = None
        self.stale = 0

    def on_evaluation(self, env_steps: int, result: dict, final: bool) -> str | None:
        value = result["mean_return"]
        if self.best is None or value > self.best + self.min_delta:
            self.best, self.stale = value, 0
            return None
        self.stale += 1
        if self.stale >= self.patience:
            self.stop_reason = (
                f"stop_patience: {self.stale} evaluations without improving on {self.best:.2f} "
                f"(last {value:.2f} at step {env_steps})"
            )
            return STOP
        return None


def split_callbacks(
    callbacks: Sequence[Callback | MetricsCallback], config
) -> tuple[list[Callback], list[MetricsCallback]]:
    """(acting callbacks: the config's built-ins then the given ``Callback``s, metrics functions).

    Raises:
        TypeError: an entry that is neither a ``Callback`` nor a function.
    """
    rc = config.run
    acting: list[Callback] = []
    if rc.stop_at_return is not None:
        acting.append(StopAtReturn(rc.stop_at_return))
    if rc.stop_patience > 0:
        acting.append(StopOnPlateau(rc.stop_patience))
    functions: list[MetricsCallback] = []
    for callback in callbacks:
        if isinstance(callback, Callback):
            acting.append(callback)
        elif callable(callback):
            functions.append(callback)
        else:
            raise TypeError(
                f"Callback {callback!r} is neither an agents.run.callbacks.Callback nor a function "
                f"fn(env_steps, rollout, episodes, metrics) -> dict of scalars."
            )
    return acting, functions


def dispatch(callbacks: Sequence[Callback], hook: str, *args) -> tuple[bool, bool, str | None]:
    """Call ``hook`` on every callback: (save requested, stop requested, the first stopper's reason).

    Every callback is called even after one asks to stop, so each sees every event.

    Raises:
        ValueError: a hook returned something other than STOP, SAVE or None.
    """
    save = stop = False
    reason = None
    for callback in callbacks:
        action = getattr(callback, hook)(*args)
        if action is None:
            continue
        if action not in (STOP, SAVE):
            raise ValueError(
                f"{type(callback).__name__}.{hook} returned {action!r}; return 'stop', 'save' or None."
            )
        save |= action == SAVE
        if action == STOP and not stop:
            stop, reason = True, callback.stop_reason or type(callback).__name__
    return save, stop, reason

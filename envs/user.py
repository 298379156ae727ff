"""Your own envs and wrappers, named by import path, with errors that say what to install or set.

Gymnasium finds an env by id in its registry; an env registered by your own module is found with the id
``"your_module:YourEnv-v0"`` (Gymnasium imports ``your_module`` first, which must call ``gymnasium.register``).
Wrappers are named the same way, ``"your_module:YourWrapper"``, and applied to every sub-env. Because both are
names, not objects, a run's config.json is enough to rebuild its env in another process (evaluation, export,
``--resume``, Ray workers).

``check_env_id`` and ``wrapper_factories`` import the named modules and raise ``UserCodeError`` naming the
module and what to do (install the package, or put its directory on ``PYTHONPATH``) instead of a traceback.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import gymnasium

MODULE_HINT = (
    "Install the package that provides it (pip install ...), or add the directory that holds it to "
    "PYTHONPATH (e.g. PYTHONPATH=path/to/dir tfpg-train ...)"
)


class UserCodeError(ValueError):
    """An env or wrapper named by import path that cannot be imported or used; the message says what to do."""


def import_module(module: str, named_in: str):
    """Import ``module`` (named in ``named_in``, e.g. ``"--env my_envs:GoRight-v0"``) with a clear error.

    Raises:
        UserCodeError: the module, or a module it imports, is missing, or importing it raised.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        missing = err.name or "?"
        if module == missing or module.startswith(missing + "."):
            raise UserCodeError(
                f"Cannot import module {module!r} (named in {named_in}): {err}. {MODULE_HINT}."
            ) from err
        raise UserCodeError(
            f"Module {module!r} (named in {named_in}) imports {missing!r}, which is not installed: "
            f"pip install the package that provides {missing!r}."
        ) from err
    except Exception as err:  # the module's own code failed: its traceback is the user's to read
        raise UserCodeError(
            f"Importing module {module!r} (named in {named_in}) failed: {type(err).__name__}: {err}"
        ) from err


def check_env_id(env_id: str) -> None:
    """For ``module:EnvId`` ids: import the module and check that it registered ``EnvId``.

    Plain ids are left to Gymnasium (``make_vector_env`` suggests close matches for unknown ones).

    Raises:
        UserCodeError: the module cannot be imported, or registers no env of that id.
    """
    module, sep, name = env_id.partition(":")
    if not sep:
        return
    import_module(module, f"--env {env_id}")
    if name not in gymnasium.registry:
        mine = sorted(k for k, spec in gymnasium.registry.items() if _defined_in(spec.entry_point, module))
        listed = f" Ids registered with entry points in {module}: {', '.join(mine)}." if mine else ""
        raise UserCodeError(
            f"Module {module!r} was imported but registered no env {name!r}; it must call "
            f"gymnasium.register(id={name!r}, entry_point=...) when imported.{listed}"
        )


def _defined_in(entry_point, module: str) -> bool:
    """Whether a registry entry point (a "module:attr" string or a callable) comes from ``module``."""
    name = entry_point if isinstance(entry_point, str) else getattr(entry_point, "__module__", "")
    return str(name).split(":")[0] == module


def wrapper_factories(specs: list[dict[str, Any] | str]) -> list[Callable[[gymnasium.Env], gymnasium.Env]]:
    """One ``env -> wrapped env`` function per ``wrappers`` entry (``{"entry_point", "kwargs"}`` or a string).

    Raises:
        UserCodeError: a module that cannot be imported, or an attribute that is missing or not callable.
    """
    factories = []
    for spec in specs:
        spec = {"entry_point": spec, "kwargs": {}} if isinstance(spec, str) else spec
        entry_point, kwargs = spec["entry_point"], dict(spec.get("kwargs") or {})
        module_name, _, attribute = entry_point.partition(":")
        module = import_module(module_name, f"--wrapper {entry_point}")
        wrapper = getattr(module, attribute, None)
        if not callable(wrapper):
            found = "has no attribute" if wrapper is None else "has a non-callable"
            raise UserCodeError(
                f"Module {module_name!r} {found} {attribute!r} (named in --wrapper {entry_point}); a wrapper "
                f"is a class or function taking the env (and keyword arguments) and returning an env."
            )
        factories.append(functools.partial(_apply, wrapper, kwargs, entry_point))
    return factories


def _apply(wrapper, kwargs: dict, entry_point: str, env: gymnasium.Env) -> gymnasium.Env:
    # A module-level function (not a lambda) so async sub-env processes can unpickle it.
    try:
        return wrapper(env, **kwargs)
    except TypeError as err:
        raise UserCodeError(f"Wrapper {entry_point} cannot be applied with kwargs {kwargs}: {err}") from err

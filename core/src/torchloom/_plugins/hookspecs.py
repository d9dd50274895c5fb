"""The one declaration of what a plugin can register: each kind of name, the hook that registers it,
and the pluggy markers to implement those hooks.

Every hook receives a ``register`` callable (or a ``cli`` object for commands) so the kernel knows
which distribution provided each name; plugins never mutate a global table themselves. The hook
specifications, the registry's kinds and discovery's hook-to-kind map are all derived from
``KIND_TABLE`` below.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pluggy

PROJECT = "torchloom"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class Kind:
    """One kind of registered name: the registry key, the hook that fills it, what the names are for."""

    name: str
    hook: str
    doc: str


#: Every kind, in the order the kernel calls their hooks for each plugin.
KIND_TABLE: tuple[Kind, ...] = (
    Kind("callback", "register_callbacks", "callbacks usable as ``learn.use(name)``"),
    Kind("transform", "register_transforms", "named transforms (``\"flip\"``)"),
    Kind("stepper", "register_steppers", "stepper functions that optimizers are composed of"),
    Kind("optimizer", "register_optimizers",
         "optimizer factories ``(params, lr=...) -> optimizer``: ``Learner(opt_func=name)`` or ``learn.use(name)``"),
    Kind("dataset", "register_datasets", "dataset loaders used by ``load_dataset(name)``"),
)
KINDS: tuple[str, ...] = tuple(k.name for k in KIND_TABLE)
HOOK_KIND: dict[str, str] = {k.hook: k.name for k in KIND_TABLE}
COMMANDS_HOOK = "register_commands"
#: The hook names, in the order the kernel calls them for each plugin.
HOOK_NAMES: tuple[str, ...] = (*HOOK_KIND, COMMANDS_HOOK)


class Register(Protocol):
    """The ``register`` argument of every ``register_<kind>s`` hook."""

    def __call__(self, name: str, target: str | object, /, **manifest: Any) -> None:
        """Add ``name`` -> ``target`` (``"module:attr"``, imported when first used) with its manifest
        (``doc``, ``order``, ``before``, ``after``, ``conflicts``, ``slot``, ``requires``; other keywords
        are kept in ``Entry.extra``)."""


class CommandRegistrar(Protocol):
    """The ``cli`` argument of the ``register_commands`` hook."""

    def add_command(self, name: str, target: str | Callable[..., Any], help: str = "") -> None:
        """Add a ``torchloom NAME`` subcommand; ``target`` is ``configure(parser)`` or ``"module:attr"``."""


def _register_spec(kind: Kind) -> Callable[..., None]:
    def spec(self: Any, register: Register) -> None:
        pass

    spec.__name__, spec.__qualname__ = kind.hook, f"TorchloomSpecs.{kind.hook}"
    spec.__doc__ = f"Call ``register(name, target, **manifest)`` for {kind.doc}."
    return hookspec(spec)


def _register_commands(self: Any, cli: CommandRegistrar) -> None:
    """Call ``cli.add_command(name, target, help)`` to add a ``torchloom`` subcommand."""


_register_commands.__qualname__ = f"TorchloomSpecs.{COMMANDS_HOOK}"

#: The hook specifications (project ``torchloom``), one per kind plus ``register_commands``.
TorchloomSpecs = type("TorchloomSpecs", (), {
    "__doc__": "Hook specifications (project ``torchloom``), generated from ``KIND_TABLE``.",
    **{k.hook: _register_spec(k) for k in KIND_TABLE},
    COMMANDS_HOOK: hookspec(_register_commands),
})

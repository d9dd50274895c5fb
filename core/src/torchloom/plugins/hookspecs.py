"""The hooks a torchloom plugin implements, and the pluggy markers to implement them.

Every hook receives a ``register`` callable (or a ``cli`` object for commands) so the kernel
knows which distribution provided each name; plugins never mutate a global table themselves.
"""
from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "torchloom"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The hook names, in the order the kernel calls them for each plugin.
HOOK_NAMES = (
    "register_callbacks",
    "register_transforms",
    "register_steppers",
    "register_datasets",
    "register_commands",
)


class TorchloomSpecs:
    """Hook specifications (project ``torchloom``)."""

    @hookspec
    def register_callbacks(self, register: Any) -> None:
        """Call ``register(name, target, **manifest)`` for callbacks usable as ``learn.use(name)``."""

    @hookspec
    def register_transforms(self, register: Any) -> None:
        """Call ``register(name, target, **manifest)`` for named transforms (``"flip"``)."""

    @hookspec
    def register_steppers(self, register: Any) -> None:
        """Call ``register(name, target, **manifest)`` for steppers; ``optimizer=True`` marks optimizers."""

    @hookspec
    def register_datasets(self, register: Any) -> None:
        """Call ``register(name, target, **manifest)`` for dataset loaders used by ``load_dataset``."""

    @hookspec
    def register_commands(self, cli: Any) -> None:
        """Call ``cli.add_command(name, target, help)`` to add a ``torchloom`` subcommand."""

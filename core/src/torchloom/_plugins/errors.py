"""Exceptions and the warning category of the plugin machinery."""
from __future__ import annotations


class PluginError(Exception):
    """A plugin could not be loaded or used; the message names the plugin and its distribution."""


class UnknownNameError(KeyError, PluginError):
    """A name that no loaded plugin registered for that kind."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class NameClashError(PluginError):
    """Two distributions registered the same (kind, name)."""


class PluginWarning(UserWarning):
    """Emitted once per quarantined plugin or name clash."""

"""Plugin machinery: hook specs, discovery with quarantine, and the registry of names per kind."""
from __future__ import annotations

from .errors import NameClashError, PluginError, PluginWarning, UnknownNameError
from .hookspecs import hookimpl, hookspec
from .registry import KINDS, Command, Entry, PluginInfo, Registry, get_registry, reset_registry

__all__ = [
    "KINDS", "Command", "Entry", "NameClashError", "PluginError", "PluginInfo", "PluginWarning", "Registry",
    "UnknownNameError", "get_registry", "hookimpl", "hookspec", "reset_registry",
]

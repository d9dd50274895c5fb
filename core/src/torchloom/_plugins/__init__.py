"""Plugin machinery: hook specs, discovery with quarantine, and the registry of names per kind.

Names load lazily (PEP 562) so that ``from torchloom._plugins.errors import PluginError`` in the
kernel's modules does not import pluggy or the registry at ``import torchloom`` time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torchloom._lazy import lazy_exports

if TYPE_CHECKING:
    from torchloom._plugins.errors import NameClashError, PluginError, PluginWarning, UnknownNameError
    from torchloom._plugins.hookspecs import hookimpl, hookspec
    from torchloom._plugins.manager import get_registry, reset_registry
    from torchloom._plugins.registry import KINDS, Command, Entry, PluginInfo, Registry

_LAZY = {
    "NameClashError": "errors", "PluginError": "errors", "PluginWarning": "errors", "UnknownNameError": "errors",
    "hookimpl": "hookspecs", "hookspec": "hookspecs",
    "KINDS": "registry", "Command": "registry", "Entry": "registry", "PluginInfo": "registry",
    "Registry": "registry", "get_registry": "manager", "reset_registry": "manager",
}
__all__ = [
    "KINDS", "Command", "Entry", "NameClashError", "PluginError", "PluginInfo", "PluginWarning", "Registry",
    "UnknownNameError", "get_registry", "hookimpl", "hookspec", "reset_registry",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__)

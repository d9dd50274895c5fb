"""Plugin machinery: hook specs, discovery with quarantine, and the registry of names per kind.

Names load lazily (PEP 562) so that ``from torchloom.plugins.errors import PluginError`` in the
kernel's modules does not import pluggy or the registry at ``import torchloom`` time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .errors import NameClashError, PluginError, PluginWarning, UnknownNameError
    from .hookspecs import hookimpl, hookspec
    from .registry import KINDS, Command, Entry, PluginInfo, Registry, get_registry, reset_registry

_LAZY = {
    "NameClashError": "errors", "PluginError": "errors", "PluginWarning": "errors", "UnknownNameError": "errors",
    "hookimpl": "hookspecs", "hookspec": "hookspecs",
    "KINDS": "registry", "Command": "registry", "Entry": "registry", "PluginInfo": "registry",
    "Registry": "registry", "get_registry": "registry", "reset_registry": "registry",
}
__all__ = [
    "KINDS", "Command", "Entry", "NameClashError", "PluginError", "PluginInfo", "PluginWarning", "Registry",
    "UnknownNameError", "get_registry", "hookimpl", "hookspec", "reset_registry",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__)

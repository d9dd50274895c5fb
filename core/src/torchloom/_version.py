"""The kernel's version (the one place it is written; the package metadata reads it) and plugin API level."""
from __future__ import annotations

__version__ = "0.1.0"

#: The plugin API level; a plugin module declaring another ``PLUGIN_API`` is quarantined.
PLUGIN_API = 1

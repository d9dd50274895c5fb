"""Hook implementations only. torchloom imports this module to learn which names the plugin
provides, so it must stay tiny: name the callback by a "module:attr" string, never import it here.
"""
from __future__ import annotations

from typing import Any

import torchloom

PLUGIN_API = 1  # the torchloom plugin API this plugin is written for (torchloom.PLUGIN_API)


@torchloom.hookimpl
def register_callbacks(register: Any) -> None:
    register(
        "example",
        "torchloom_example.callback:ExampleCallback",
        doc="Record the global gradient norm every `every` backward passes",
    )

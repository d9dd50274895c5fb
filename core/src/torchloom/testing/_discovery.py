"""assert_discovery_is_lazy: a plugin's check that being discovered does not import its heavy module."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping

__all__ = ["assert_discovery_is_lazy"]

# Runs in a fresh interpreter, so that nothing imported by the calling test process counts.
_CODE = """
import json, sys
kind, name, module = json.loads(sys.argv[1])
from torchloom._plugins.manager import get_registry
reg = get_registry()
assert module not in sys.modules, f"discovery imported {module}"
e = reg.entry(kind, name)
assert not e.is_loaded, f"discovery loaded the {kind} {name!r}"
e.load()
assert module in sys.modules, f"loading the {kind} {name!r} did not import {module}"
print("ok")
"""


def assert_discovery_is_lazy(kind: str, name: str, module: str, *, env: Mapping[str, str] | None = None,
                             timeout: float = 120) -> None:
    """Assert that discovery is not activation for the registered ``kind`` entry ``name``.

    In a fresh interpreter: building the plugin registry must not import ``module`` (the heavy module
    behind the entry, e.g. ``"torchloom_mixup.mixup"``) nor load the entry; ``entry.load()`` must
    import it. This keeps ``import torchloom`` and ``torchloom plugins`` fast however many plugins are
    installed. ``env`` adds to (or overrides) the current environment variables of the subprocess.
    Raises ``AssertionError`` with the subprocess's stderr on failure.
    """
    environ = {**os.environ, **(env or {})}
    out = subprocess.run([sys.executable, "-c", _CODE, json.dumps([kind, name, module])], env=environ,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 or out.stdout.strip() != "ok":
        raise AssertionError(f"discovery of the {kind} {name!r} is not lazy (exit {out.returncode}):\n"
                             f"{out.stderr.strip() or out.stdout.strip()}")

"""Discovery is not activation: finding the plugin imports only its tiny `plugin` module."""
from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from torchloom.plugins import get_registry
reg = get_registry()
assert "torchloom_fp16.precision" not in sys.modules, "discovery imported torchloom_fp16.precision"
e = reg.entry("callback", "fp16")
assert not e.is_loaded
e.load()
assert "torchloom_fp16.precision" in sys.modules
print("ok")
"""


def test_discovery_imports_only_the_plugin_module():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr

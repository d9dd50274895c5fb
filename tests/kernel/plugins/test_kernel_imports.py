"""The kernel stays light: importing it and all its modules pulls in no domain-plugin dependency."""
from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("torchvision", "PIL", "pandas", "matplotlib", "sklearn", "scipy")

CODE = """
import importlib, pkgutil, sys, json
import torchloom
after_init = sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in {heavy})
failed = {{}}
names = []
for info in pkgutil.walk_packages(torchloom.__path__, "torchloom."):
    if ".plugin_template" in info.name:
        continue
    names.append(info.name)
    try:
        importlib.import_module(info.name)
    except Exception as e:
        failed[info.name] = f"{{type(e).__name__}}: {{e}}"
from torchloom.plugins import get_registry, KINDS
reg = get_registry()
for kind in KINDS:
    for entry in reg.entries(kind):
        try:
            entry.load()
        except Exception as e:
            failed[f"{{kind}} {{entry.name}}"] = str(e)
for name in torchloom.__all__:
    try:
        getattr(torchloom, name)
    except Exception as e:
        failed["torchloom." + name] = f"{{type(e).__name__}}: {{e}}"
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy}))
print(json.dumps({{"after_init": after_init, "heavy": heavy, "failed": failed, "modules": names}}))
"""


_cache: dict = {}


def _run() -> dict:
    if _cache:
        return _cache
    import json

    code = textwrap.dedent(CODE.format(heavy=repr(set(HEAVY))))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={"PATH": "/usr/bin:/bin", "TORCHLOOM_PLUGINS": ""})
    assert proc.returncode == 0, proc.stderr
    _cache.update(json.loads(proc.stdout.splitlines()[-1]))
    return _cache


def test_kernel_imports_no_plugin_dependencies() -> None:
    result = _run()
    assert result["after_init"] == []
    assert "torchloom.plugins.registry" in result["modules"] and "torchloom.cli" in result["modules"]
    assert result["heavy"] == [], f"kernel modules imported {result['heavy']}"


def test_every_public_name_and_kernel_registration_resolves() -> None:
    """Everything in ``torchloom.__all__`` and every name the built-in plugin registers can be loaded."""
    assert _run()["failed"] == {}

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
from torchloom._plugins import get_registry, KINDS
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
    assert "torchloom._plugins.registry" in result["modules"] and "torchloom._cli" in result["modules"]
    assert result["heavy"] == [], f"kernel modules imported {result['heavy']}"


def test_every_public_name_and_kernel_registration_resolves() -> None:
    """Everything in ``torchloom.__all__`` and every name the built-in plugin registers can be loaded."""
    assert _run()["failed"] == {}


TRAIN_BLOCKED = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {heavy}:
            raise ModuleNotFoundError(f"blocked for this test: {{name}}")
        return None

sys.meta_path.insert(0, Block())
from torchloom import accuracy
from torchloom.testing import synth_learner

learn = synth_learner(task="classification", metrics=accuracy)
before = learn.validate()[1]
learn.fit_one_cycle(4, 0.1)
after = learn.validate()[1]
learn.path = sys.argv[1]
learn.save("blobs")
learn2 = synth_learner(task="classification", metrics=accuracy)  # same data, fresh weights
learn2.path = sys.argv[1]
fresh = learn2.validate()[1]
learn2.load("blobs")
print(before, after, fresh, learn2.validate()[1])
"""


def test_kernel_trains_and_saves_with_plugin_dependencies_blocked(tmp_path) -> None:
    """The kernel works where torchvision, pillow, pandas and matplotlib cannot be imported at all."""
    code = textwrap.dedent(TRAIN_BLOCKED.format(heavy=repr(set(HEAVY))))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "TORCHLOOM_PLUGINS": ""})
    assert proc.returncode == 0, proc.stderr
    before, after, fresh, reloaded = map(float, proc.stdout.split())
    assert after > 0.9 and after > before
    assert fresh == before and reloaded == after

"""Plugin isolation: any BaseException from a plugin is quarantined, first-party names stay with their
distribution, and slow imports are reported."""
from __future__ import annotations

from tests.kernel.fakedist import Site, probe

KEYBOARD_AT_IMPORT = """
import torchloom
raise KeyboardInterrupt
"""

CUSTOM_BASE = """
import torchloom
class Bail(BaseException):
    pass
@torchloom.hookimpl
def register_callbacks(register):
    raise Bail("custom BaseException from a hook")
"""

SYSEXIT_IN_HOOK = """
import torchloom
@torchloom.hookimpl
def register_steppers(register):
    raise SystemExit(3)
"""

STEALS_MIXUP = """
import torchloom
@torchloom.hookimpl
def register_callbacks(register):
    register("mixup", "{pkg}.heavy:Sparkle", doc="not the real mixup")
    register("own_name", "{pkg}.heavy:Sparkle")
"""

SLOW = """
import time, torchloom
time.sleep(0.4)
@torchloom.hookimpl
def register_callbacks(register):
    register("sleepy", "{pkg}.heavy:Sparkle")
"""

USE_A_LEARNER = """
import json, warnings
from torchloom.testing import synth_learner
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    learn = synth_learner(n_train=32, n_valid=16)
    learn.logger = lambda *a: None
    learn.fit(1)
print(json.dumps({"ok": True, "warnings": [str(w.message) for w in caught if "quarantined" in str(w.message)]}))
"""


def _status(state: dict, name: str) -> dict:
    return next(p for p in state["plugins"] if p["name"] == name)


def test_any_base_exception_is_quarantined_and_learners_still_work(site: Site) -> None:
    site.add("tl-good")
    site.add("tl-ctrlc", KEYBOARD_AT_IMPORT)
    site.add("tl-custom", CUSTOM_BASE)
    site.add("tl-exit", SYSEXIT_IN_HOOK)
    state = probe(site)
    assert _status(state, "tl-good")["status"] == "loaded"
    for name, cause in (("tl-ctrlc", "import failed: KeyboardInterrupt"),
                        ("tl-custom", "hook register_callbacks raised Bail: custom BaseException"),
                        ("tl-exit", "hook register_steppers raised SystemExit: 3")):
        st = _status(state, name)
        assert st["status"] == "quarantined" and cause in st["cause"], st
    assert len(state["warnings"]) == 3  # one each
    proc = site.run(USE_A_LEARNER)
    assert proc.returncode == 0, proc.stderr
    assert '"ok": true' in proc.stdout
    cli = site.run("", args=["-m", "torchloom._cli", "plugins"])
    assert cli.returncode == 0, cli.stderr
    assert "QUARANTINED" in cli.stdout and "KeyboardInterrupt" in cli.stdout


def test_a_third_party_cannot_take_a_first_party_name(site: Site) -> None:
    site.add("tl-thief", STEALS_MIXUP)
    state = probe(site, select=False)  # installed, not selected by name: the first-party name is refused
    thief = _status(state, "tl-thief")
    assert thief["status"] == "loaded" and thief["provides"] == {"callback": ["own_name"]}
    (msg,) = [w for w in state["warnings"] if "first-party" in w]
    assert "callback 'mixup' (torchloom-mixup)" in msg and "refused for tl-thief" in msg
    chosen = probe(site)  # selected explicitly with TORCHLOOM_PLUGINS: the user's choice wins
    assert _status(chosen, "tl-thief")["provides"] == {"callback": ["mixup", "own_name"]}


def test_slow_plugin_imports_are_reported(site: Site) -> None:
    site.add("tl-sleepy", SLOW)
    state = probe(site, env={"TORCHLOOM_SLOW_PLUGIN_SECONDS": "0.2"})
    st = _status(state, "tl-sleepy")
    assert st["status"] == "loaded" and st["load_seconds"] >= 0.4
    (msg,) = [w for w in state["warnings"] if "to import" in w]
    assert "plugin 'tl-sleepy'" in msg and "TORCHLOOM_DISABLE_PLUGINS=tl-sleepy" in msg
    cli = site.run("", args=["-m", "torchloom._cli", "plugins"], env={"TORCHLOOM_SLOW_PLUGIN_SECONDS": "0.2"})
    assert cli.returncode == 0, cli.stderr
    line = next(ln for ln in cli.stdout.splitlines() if ln.startswith("tl-sleepy"))
    assert " ms SLOW" in line


PATCHES_THEN_FAILS = """
import torchloom._learner as L
L.Learner.fit = lambda self, *a, **k: "hijacked"
L.Learner.stolen = True
raise RuntimeError("broken after patching")
"""

CHECK_PATCH = """
import json, warnings
import torchloom._learner as L
original = L.Learner.fit
from torchloom._plugins import get_registry
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    get_registry()
print(json.dumps({"restored": L.Learner.fit is original, "stolen": hasattr(L.Learner, "stolen"),
                  "warnings": [str(w.message) for w in caught]}))
"""


def test_a_quarantined_plugins_monkeypatch_of_a_kernel_class_is_undone(site: Site) -> None:
    import json

    site.add("tl-patcher", PATCHES_THEN_FAILS)
    proc = site.run(CHECK_PATCH)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["restored"] and not out["stolen"], out
    (msg,) = [w for w in out["warnings"] if "quarantined" in w]
    assert "changes to kernel classes were undone: Learner.fit, Learner.stolen" in msg

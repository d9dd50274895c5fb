"""A broken plugin is quarantined with exactly one warning; everything else keeps working."""
from __future__ import annotations

import pytest

from tests.kernel.fakedist import Site, probe
from torchloom._plugins import NameClashError, PluginError, PluginWarning, get_registry

BROKEN_IMPORT = """
import torchloom
import tl_no_such_dependency  # noqa
"""

HOOK_RAISES = """
import torchloom
@torchloom.hookimpl
def register_callbacks(register):
    register("half_done", "tl_raiser.heavy:Sparkle")
@torchloom.hookimpl
def register_steppers(register):
    register("also_half", "tl_raiser.heavy:make_opt")
    raise RuntimeError("boom in steppers")
@torchloom.hookimpl
def register_commands(cli):
    cli.add_command("half-cmd", "tl_raiser.cmd:configure", "never added")
"""

OLD_API = """
import torchloom
PLUGIN_API = 99
@torchloom.hookimpl
def register_callbacks(register):
    raise AssertionError("hooks of an incompatible plugin must not run")
"""


def _only_warning(state: dict) -> str:
    assert len(state["warnings"]) == 1, state["warnings"]
    return state["warnings"][0]


def _status(state: dict, name: str) -> dict:
    return next(p for p in state["plugins"] if p["name"] == name)


@pytest.mark.parametrize(("source", "cause"), [
    (BROKEN_IMPORT, "import failed: ModuleNotFoundError: No module named 'tl_no_such_dependency'"),
    (HOOK_RAISES, "hook register_steppers raised RuntimeError: boom in steppers"),
    (OLD_API, "built for torchloom PLUGIN_API 99, but torchloom 0.1.0 provides PLUGIN_API 1"),
], ids=["import-error", "hook-exception", "wrong-plugin-api"])
def test_broken_plugin_is_quarantined_with_one_warning(site: Site, source: str, cause: str) -> None:
    site.add("tl-good")
    site.add("tl-raiser", source, version="0.7")
    state = probe(site)
    msg = _only_warning(state)
    assert "plugin 'raiser'" not in msg  # the entry-point name is the dist name minus torchloom-
    assert "'tl-raiser' from distribution tl-raiser 0.7 was quarantined" in msg
    assert cause in msg
    bad = _status(state, "tl-raiser")
    assert bad["status"] == "quarantined" and cause in bad["cause"]
    assert bad["provides"] == {} and bad["commands"] == []
    good = _status(state, "tl-good")
    assert good["status"] == "loaded" and good["provides"]["callback"] == ["sparkle"]


def test_partial_registrations_are_rolled_back(site: Site, select) -> None:
    site.add("tl-good")
    site.add("tl-raiser", HOOK_RAISES)
    select()
    with pytest.warns(PluginWarning, match="boom in steppers") as record:
        reg = get_registry()
    assert len([w for w in record if issubclass(w.category, PluginWarning)]) == 1
    for kind, name in (("callback", "half_done"), ("stepper", "also_half")):
        assert name not in reg.names(kind)
    assert "half-cmd" not in reg.commands
    assert reg.resolve("callback", "sparkle").__name__ == "Sparkle"
    assert [p.name for p in reg.quarantined] == ["tl-raiser"]


@pytest.mark.parametrize(("source", "cause"), [
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(registr):
            pass
     """, "invalid hook implementation"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_callback(register):
            pass
     """, "implements unknown hook 'register_callback'"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(register):
            register("x", "tl_bad.heavy:Sparkle", order="high")
     """, "manifest field 'order' must be a number, got 'high'"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(register):
            register("x", "not-a-target")
     """, "target must be 'module:attr'"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(register):
            register("x", "tl_bad.heavy:Sparkle")
            register("x", "tl_bad.heavy:Sparkle")
     """, "callback 'x' registered twice by the same plugin"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_optimizers(register):
            register("adam", "tl_bad.heavy:make_opt")
     """, "registers optimizer 'adam', a name the torchloom kernel already provides"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_steppers(register):
            register("tl_opt", "tl_bad.heavy:make_opt", optimizer=True)
     """, "optimizers have their own kind; register them in the register_optimizers hook"),
    ("""
        import torchloom
        @torchloom.hookimpl
        def register_commands(cli):
            cli.add_command("plugins", "tl_bad.cmd:configure")
     """, "adds command 'plugins', which the torchloom kernel already provides"),
], ids=["bad-hook-args", "unknown-hook", "bad-manifest", "bad-target", "duplicate", "kernel-name", "optimizer-as-stepper", "kernel-cmd"])
def test_invalid_plugins_are_quarantined(site: Site, select, source: str, cause: str) -> None:
    site.add("tl-bad", source)
    site.add("tl-good")
    select()
    with pytest.warns(PluginWarning) as record:
        reg = get_registry()
    messages = [str(w.message) for w in record if issubclass(w.category, PluginWarning)]
    assert len(messages) == 1 and cause in messages[0] and "tl-bad 1.0" in messages[0]
    assert reg.plugin("tl-bad").status == "quarantined"
    assert "x" not in reg.names("callback")
    assert reg.entry("optimizer", "adam").dist == "torchloom"
    assert reg.commands["plugins"].dist == "torchloom"
    assert "sparkle" in reg.names("callback")


def test_strict_mode_raises_instead(site: Site, select, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add("tl-good")
    site.add("tl-raiser", HOOK_RAISES, version="0.7")
    select()
    monkeypatch.setenv("TORCHLOOM_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"'tl-raiser' from distribution tl-raiser 0\.7.*boom in steppers") as info:
        get_registry()
    assert isinstance(info.value.__cause__, RuntimeError)


def test_strict_mode_in_a_fresh_process(site: Site) -> None:
    site.add("tl-broken", BROKEN_IMPORT)
    out = site.run("from torchloom._plugins import get_registry; get_registry()",
                   env={"TORCHLOOM_STRICT_PLUGINS": "1"})
    assert out.returncode == 1
    assert "PluginError: torchloom: plugin 'tl-broken' from distribution tl-broken 1.0" in out.stderr


def test_name_clash_between_distributions_names_both(site: Site, select) -> None:
    site.add("tl-one", version="1.1")
    site.add("tl-two", version="2.2")
    select()
    with pytest.warns(PluginWarning, match="more than one distribution") as record:
        reg = get_registry()
    # one warning per clashing name (callback, stepper, dataset) and one for the command
    assert len(record) == 4
    with pytest.raises(NameClashError) as err:
        reg.entry("callback", "sparkle")
    assert "tl-one 1.1" in str(err.value) and "tl-two 2.2" in str(err.value)
    assert "TORCHLOOM_DISABLE_PLUGINS" in str(err.value)
    assert sorted(e.dist for e in reg.which("sparkle")) == ["tl-one", "tl-two"]
    assert "sparkle" not in reg.names("callback")


def test_name_clash_is_an_error_in_strict_mode(site: Site, select, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add("tl-one")
    site.add("tl-two")
    select()
    monkeypatch.setenv("TORCHLOOM_STRICT_PLUGINS", "1")
    with pytest.raises(NameClashError, match="tl-one 1.0.*tl-two 1.0"):
        get_registry()


def test_entry_point_named_builtin_cannot_pose_as_the_kernel(site: Site, select) -> None:
    site.add("tl-sneaky", """
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(register):
            register("sneaky", "tl_sneaky.heavy:Sparkle", default=True)
    """, ep_name="builtin")
    select()
    with pytest.warns(PluginWarning, match="the entry-point name 'builtin' is reserved"):
        reg = get_registry()
    assert "sneaky" not in reg.names("callback")
    assert [e.name for e in reg.defaults("callback")] == ["train_eval", "cast_to_tensor", "recorder", "fit_guard", "progress"]


def test_plugin_asking_for_the_registry_during_discovery_is_quarantined(site: Site, select) -> None:
    site.add("tl-eager", """
        import torchloom
        @torchloom.hookimpl
        def register_callbacks(register):
            torchloom.get_registry()
    """)
    site.add("tl-good")
    select()
    with pytest.warns(PluginWarning, match="get_registry\\(\\) was called while plugins are being discovered"):
        reg = get_registry()
    assert reg.plugin("tl-eager").status == "quarantined" and "sparkle" in reg.names("callback")

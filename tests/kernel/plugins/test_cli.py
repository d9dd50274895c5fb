"""The ``torchloom`` command: plugin listing (plain and JSON), ``which``, and plugin-added subcommands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kernel.fakedist import Site
from torchloom._cli import main

BROKEN = "import torchloom\nraise ImportError('libfoo.so: cannot open shared object file')\n"

BAD_COMMANDS = """
import torchloom
@torchloom.hookimpl
def register_commands(cli):
    cli.add_command("ghost", "tl_cmds.nothere:configure", "a command whose module is missing")
    cli.add_command("nohandler", "tl_cmds.cmds:no_handler", "forgets set_defaults")
    cli.add_command("fails", "tl_cmds.cmds:fails", "raises a PluginError")
"""

CMDS = """
from torchloom._plugins import PluginError

def no_handler(parser):
    pass

def fails(parser):
    def handler(args):
        raise PluginError("nothing to do")
    parser.set_defaults(handler=handler)
"""


@pytest.fixture
def listed(site: Site, select) -> Site:
    site.add("tl-good", version="1.2.3")
    site.add("tl-broken", BROKEN, version="0.0.1")
    select()
    return site


def test_plugins_lists_distributions_versions_names_and_quarantine(listed: Site, capsys) -> None:
    with pytest.warns(UserWarning, match="libfoo"):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "builtin  torchloom 0.1.0  [loaded]" in out
    block = out[out.index("tl-good  tl-good 1.2.3  [loaded]  (tl_good.plugin, "):]
    assert block.splitlines()[1:5] == ["    callbacks:  sparkle", "    optimizers: sparkle_opt",
                                       "    datasets:   tiny", "    commands:   hello"]
    assert "tl-broken  tl-broken 0.0.1  [QUARANTINED]" in out
    assert "cause: import failed: ImportError: libfoo.so: cannot open shared object file" in out


def test_plugins_json(listed: Site, capsys) -> None:
    with pytest.warns(UserWarning):
        assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plugin_api"] == 1
    plugins = {p["name"]: p for p in data["plugins"]}
    assert plugins["tl-good"]["version"] == "1.2.3"
    assert plugins["tl-good"]["provides"] == {"callback": ["sparkle"], "dataset": ["tiny"], "optimizer": ["sparkle_opt"]}
    assert plugins["tl-broken"]["status"] == "quarantined" and "libfoo" in plugins["tl-broken"]["cause"]
    assert data["names"]["callback"]["sparkle"]["conflicts"] == ["glitter"]
    assert data["names"]["optimizer"]["adam"]["kind"] == "optimizer" and "adam" not in data["names"]["stepper"]
    assert data["commands"]["hello"]["dist"] == "tl-good"


def test_which_shows_provider_target_and_manifest(listed: Site, capsys) -> None:
    with pytest.warns(UserWarning):
        assert main(["plugins", "which", "sparkle"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "sparkle  (callback)  from tl-good 1.2.3, plugin 'tl-good'",
        "    target: tl_good.heavy:Sparkle",
        "    doc:    adds sparkle",
        "    manifest: order=5, after=('recorder',), conflicts=('glitter',), slot='fx', requires=('recorder',), "
        "flavour='gold'",
    ]
    assert main(["plugins", "which", "adam", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["dist"], entry["kind"], entry["target"]) == ("torchloom", "optimizer", "torchloom.optim._optimizer:Adam")


def test_which_unknown_name_fails_with_the_helpful_message(listed: Site, capsys) -> None:
    with pytest.warns(UserWarning):
        assert main(["plugins", "which", "sparkel"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchloom: unknown name 'sparkel'. Did you mean 'sparkle' or 'sparkle_opt'?")
    assert main(["plugins", "which", "sparkle", "--kind", "stepper"]) == 1
    assert "unknown stepper 'sparkle'" in capsys.readouterr().err


def test_plugin_added_subcommand_runs(listed: Site, capsys) -> None:
    with pytest.warns(UserWarning):
        assert main(["hello", "--who", "loom"]) == 0
    assert capsys.readouterr().out == "hello loom\n"
    assert main([]) == 0
    help_text = capsys.readouterr().out
    assert "hello" in help_text and "say hello [tl-good]" in help_text


def test_broken_subcommands_fail_cleanly_and_others_still_work(site: Site, select, capsys) -> None:
    site.add("tl-good")
    site.add("tl-cmds", BAD_COMMANDS, modules={"cmds": CMDS})
    select()
    assert main(["ghost"]) == 2
    err = capsys.readouterr().err
    assert "command 'ghost' (from tl-cmds 1.0) is unavailable" in err and "tl_cmds.nothere:configure" in err
    assert main(["nohandler"]) == 2
    assert "must call parser.set_defaults(handler=fn)" in capsys.readouterr().err
    assert main(["fails"]) == 1
    assert capsys.readouterr().err == "torchloom: error: nothing to do\n"
    assert main(["hello"]) == 0 and capsys.readouterr().out == "hello world\n"
    assert main(["plugins"]) == 0


def test_console_script_is_installed_and_works(listed: Site) -> None:
    script = Path(sys.executable).with_name("torchloom")
    assert script.exists(), "the torchloom distribution must install the 'torchloom' console script"
    proc = subprocess.run([str(script), "plugins", "which", "adam"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(listed.root), "TORCHLOOM_PLUGINS": "tl-good"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("adam  (optimizer)  from torchloom")
    proc = subprocess.run([str(script), "tl-good-missing-command"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice: 'tl-good-missing-command'" in proc.stderr


def test_plugins_and_which_show_a_name_clash(site: Site, select, capsys) -> None:
    site.add("tl-one", version="1.1")
    site.add("tl-two", version="2.2")
    select()
    with pytest.warns(UserWarning, match="more than one distribution"):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "Name clashes (unusable until one provider is removed or disabled):" in out
    assert "    callback 'sparkle': tl-one 1.1 and tl-two 2.2" in out
    assert main(["plugins", "which", "sparkle"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "warning: 'sparkle' is registered by more than one distribution (a name clash):"
    assert "sparkle  (callback)  from tl-one 1.1, plugin 'tl-one'" in lines
    assert "sparkle  (callback)  from tl-two 2.2, plugin 'tl-two'" in lines

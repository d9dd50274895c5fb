"""Helpers: throwaway plugin distributions that importlib.metadata finds exactly like pip-installed ones.

A distribution is a ``<name>-<version>.dist-info/`` folder (METADATA + entry_points.txt) next to its
package, in a directory put on ``sys.path`` (in-process) or ``PYTHONPATH`` (subprocesses).
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

GOOD_PLUGIN = """
import torchloom
PLUGIN_API = 1

@torchloom.hookimpl
def register_callbacks(register):
    register("{prefix}sparkle", "{pkg}.heavy:Sparkle", order=5, after="recorder", conflicts=["glitter"],
             slot="fx", requires=("recorder",), doc="adds sparkle", flavour="gold")

@torchloom.hookimpl
def register_optimizers(register):
    register("{prefix}sparkle_opt", "{pkg}.heavy:make_opt", doc="a sparkly optimizer")

@torchloom.hookimpl
def register_datasets(register):
    register("{prefix}tiny", "{pkg}.heavy:tiny", doc="a tiny dataset")

@torchloom.hookimpl
def register_commands(cli):
    cli.add_command("{prefix}hello", "{pkg}.cmd:configure", "say hello")
"""

HEAVY = """
class Sparkle:
    pass

def make_opt(params, lr=0.1):
    return ("opt", list(params), lr)

def tiny(n=3):
    return list(range(n))
"""

CMD = """
def configure(parser):
    parser.add_argument("--who", default="world")
    parser.set_defaults(handler=lambda args: print(f"hello {args.who}") or 0)
"""


class Site:
    """A directory of fake installed distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.packages: list[str] = []
        self.plugin_names: list[str] = []
        root.mkdir(parents=True, exist_ok=True)

    def add(self, dist: str, plugin: str | None = None, *, version: str = "1.0", modules: dict[str, str] | None = None,
            ep_name: str | None = None, prefix: str = "") -> str:
        """Create distribution ``dist`` whose ``<pkg>.plugin`` module holds ``plugin`` (default: GOOD_PLUGIN).

        ``{pkg}`` and ``{prefix}`` in the sources are replaced. Returns the entry-point name.
        """
        pkg = dist.replace("-", "_")
        ep_name = ep_name or dist.removeprefix("torchloom-")
        sources = {"plugin": GOOD_PLUGIN if plugin is None else plugin, "heavy": HEAVY, "cmd": CMD, **(modules or {})}
        pkg_dir = self.root / pkg
        pkg_dir.mkdir()
        (pkg_dir / "__init__.py").write_text("")
        for mod, src in sources.items():
            src = textwrap.dedent(src).replace("{pkg}", pkg).replace("{prefix}", prefix)
            (pkg_dir / f"{mod}.py").write_text(src)
        info = self.root / f"{pkg}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[torchloom]\n{ep_name} = {pkg}.plugin\n")
        (info / "top_level.txt").write_text(pkg + "\n")
        self.packages.append(pkg)
        self.plugin_names.append(ep_name)
        importlib.invalidate_caches()
        return ep_name

    def only_env(self) -> str:
        """TORCHLOOM_PLUGINS value selecting just this site's plugins (real installed ones are skipped)."""
        return ",".join(self.plugin_names)

    def run(self, code: str, env: dict[str, str] | None = None, args: list[str] | None = None,
            select: bool = True) -> subprocess.CompletedProcess[str]:
        """Run Python ``code`` (or ``-m`` args) in a fresh interpreter that sees this site first."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TORCHLOOM_")}
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), environ.get("PYTHONPATH")]))
        if select:
            environ["TORCHLOOM_PLUGINS"] = self.only_env()
        environ.update(env or {})
        cmd = [sys.executable, *(args or ["-c", textwrap.dedent(code)])]
        return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120)


# Prints the registry state and the warnings of discovery as JSON (used with Site.run).
PROBE = """
import json, sys, warnings
from torchloom._plugins import get_registry, PluginWarning
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reg = get_registry()
print(json.dumps({
    "plugins": [p.to_dict() for p in reg.plugins],
    "warnings": [str(w.message) for w in caught if issubclass(w.category, PluginWarning)],
    "modules": sorted(m for m in sys.modules if m.startswith("tl_")),
}))
"""


def probe(site: Site, env: dict[str, str] | None = None, select: bool = True) -> dict:
    proc = site.run(PROBE, env=env, select=select)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)

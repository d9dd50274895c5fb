"""``torchloom new-plugin NAME``: render the plugin template shipped with the kernel into a folder.

The template lives in ``torchloom/plugin_template/`` (package data). Every file there ends in
``.tmpl``; ``{{name}}``, ``{{dist}}``, ``{{package}}`` and ``{{class_name}}`` are replaced in file
contents and paths, and a path part ``dot-x`` becomes ``.x`` (``dot-github`` -> ``.github``). ``contrib/plugin-template`` in the torchloom repository is this template rendered
for the name ``example``, so authors can read a finished plugin and the two cannot drift apart.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["NewPluginError", "PluginNames", "configure", "name_taken_by", "plugin_names", "render_plugin",
           "render_template"]

TEMPLATE_PACKAGE = "torchloom"
TEMPLATE_DIR = "plugin_template"
SUFFIX = ".tmpl"
#: a path part ``dot-x`` is written as ``.x``: dotfiles are skipped by the package-data globs
DOT_PREFIX = "dot-"

_NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_PLACEHOLDER_RE = re.compile(r"\{\{(\w+)\}\}")


class NewPluginError(ValueError):
    """A bad plugin name or destination; nothing was written."""


@dataclass(frozen=True)
class PluginNames:
    """The names a plugin called ``name`` goes by."""

    name: str  # registered name: learn.use(name)
    dist: str  # distribution on PyPI: torchloom-<name>
    package: str  # import package: torchloom_<name>
    class_name: str  # the callback class

    def mapping(self) -> dict[str, str]:
        return {"name": self.name, "dist": self.dist, "package": self.package, "class_name": self.class_name}


def plugin_names(name: str) -> PluginNames:
    """Validate ``name`` and derive the distribution, package and class names from it."""
    if not isinstance(name, str) or not name:
        raise NewPluginError(f"plugin name must be a non-empty string, got {name!r}")
    if name != name.lower():
        raise NewPluginError(f"invalid plugin name {name!r}: use lowercase letters (try {name.lower()!r})")
    if re.match(r"torchloom(?:[-_]|$)", name):
        short = re.sub(r"^torchloom[-_]?", "", name)
        hint = f" (try {short!r})" if _NAME_RE.fullmatch(short) else ""
        raise NewPluginError(
            f"invalid plugin name {name!r}: give the short name, the 'torchloom-' prefix is added for you{hint}"
        )
    if not _NAME_RE.fullmatch(name):
        raise NewPluginError(
            f"invalid plugin name {name!r}: it must start with a letter and contain only lowercase letters, "
            "digits and single '-' or '_' between them (for example 'ema' or 'grad-norm')"
        )
    words = re.split(r"[-_]", name)
    package = "torchloom_" + "_".join(words)
    class_name = "".join(w[:1].upper() + w[1:] for w in words) + "Callback"
    return PluginNames(name=name, dist="torchloom-" + "-".join(words), package=package, class_name=class_name)


def name_taken_by(names: PluginNames) -> str | None:
    """The distribution that already provides ``names.name``, else None.

    Two distributions registering one name make it unusable, so a new plugin must pick a free name.
    First-party names (torchloom's own plugins) always count; an installed plugin counts unless it is
    the very distribution being rendered (re-rendering one's own installed plugin is fine).
    """
    from torchloom._plugins.firstparty import first_party_dist
    from torchloom._plugins.manager import get_registry

    first_party = first_party_dist(names.name)
    if first_party:
        return first_party
    try:
        providers = [e.dist for e in get_registry().which(names.name)]
    except Exception:  # a broken environment must not stop an author from starting a plugin
        providers = []
    return next((d for d in providers if re.sub(r"[-_.]+", "-", d.lower()) != names.dist), None)


def _template_root() -> Traversable:
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR)


def _walk(node: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    out = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            out.extend(_walk(child, (*prefix, child.name)))
        elif child.name.endswith(SUFFIX):
            out.append(((*prefix, child.name), child))
    return out


def _fill(text: str, mapping: dict[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in mapping:
            raise NewPluginError(f"template file {where}: unknown placeholder {m.group(0)}")
        return mapping[key]

    return _PLACEHOLDER_RE.sub(sub, text)


def render_template(name: str) -> dict[str, str]:
    """The rendered plugin as ``{relative posix path: file text}``, without touching the disk."""
    names = plugin_names(name)
    mapping = names.mapping()
    files: dict[str, str] = {}
    entries = _walk(_template_root())
    if not entries:
        raise NewPluginError(f"the plugin template is missing from the torchloom install ({_template_root()})")
    for parts, node in entries:
        where = "/".join(parts)
        rel = [_fill(p, mapping, where) for p in parts]
        rel[-1] = rel[-1][: -len(SUFFIX)]
        rel = ["." + p[len(DOT_PREFIX):] if p.startswith(DOT_PREFIX) else p for p in rel]
        files["/".join(rel)] = _fill(node.read_text(encoding="utf-8"), mapping, where)
    return files


def render_plugin(name: str, dest: str | os.PathLike[str] | None = None, check_name: bool = True) -> Path:
    """Write the template rendered for ``name`` into ``dest`` (default ``./torchloom-<name>``).

    ``dest`` must not exist or be an empty folder, and (with ``check_name``) no other distribution
    may already provide ``name``. The files are written to a temporary folder beside ``dest`` and
    moved into place at the end, so an error leaves nothing behind.
    """
    files = render_template(name)
    if check_name:
        taken = name_taken_by(plugin_names(name))
        if taken:
            raise NewPluginError(
                f"the name {name!r} is already provided by {taken}; installing both would make "
                f"learn.use({name!r}) ambiguous, so pick another name"
            )
    target = Path(dest) if dest is not None else Path(plugin_names(name).dist)
    target = target.expanduser().absolute()
    if target.exists():
        if not target.is_dir():
            raise NewPluginError(f"cannot create plugin in {target}: it exists and is not a folder")
        if any(target.iterdir()):
            raise NewPluginError(f"cannot create plugin in {target}: the folder exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for rel, text in files.items():
            path = tmp.joinpath(*rel.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _next_steps(names: PluginNames, target: Path) -> str:
    rel = os.path.relpath(target)
    where = rel if not rel.startswith("..") else str(target)
    steps = [
        (f"pip install -e {where}", "installs it and registers its entry point"),
        ("torchloom plugins", f"lists {names.dist}"),
        (f"python -m pytest {os.path.join(where, 'tests')}", "runs its conformance tests"),
    ]
    width = max(len(cmd) for cmd, _ in steps)
    return "\n".join([
        f"Created {names.dist} in {where}",
        f"  package {names.package}, callback {names.class_name}, used as learn.use({names.name!r})",
        "Next steps:",
        *(f"  {cmd:<{width}}  # {why}" for cmd, why in steps),
        f"Then edit {os.path.join(where, 'src', names.package, 'callback.py')} to make the callback yours.",
    ])


def _handle(args: argparse.Namespace) -> int:
    try:
        names = plugin_names(args.name)
        target = render_plugin(args.name, args.dir)
    except (NewPluginError, OSError) as e:
        print(f"torchloom new-plugin: error: {e}", file=sys.stderr)
        return 2
    print(_next_steps(names, target))
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``torchloom new-plugin`` (wired up by the built-in plugin's ``register_commands``)."""
    parser.description = (
        "Create a new torchloom plugin distribution (torchloom-NAME) from the template: a callback "
        "registered as NAME, its entry point, conformance tests and a README."
    )
    parser.add_argument("name", metavar="NAME", help="plugin name used in learn.use(NAME), e.g. 'ema' or 'grad-norm'")
    parser.add_argument(
        "--dir", metavar="DIR", default=None,
        help="folder to create (must not exist or be empty; default: ./torchloom-NAME)",
    )
    parser.set_defaults(handler=_handle)

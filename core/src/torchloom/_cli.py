"""The ``torchloom`` command. Subcommands come from plugins (``register_commands``), the kernel's too.

Only the chosen subcommand's ``configure`` is imported, so a broken or slow command never affects
the others or ``torchloom --help``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence

from torchloom._plugins.errors import PluginError
from torchloom._plugins.manager import get_registry, slow_seconds
from torchloom._plugins.registry import KINDS, Entry, Registry
from torchloom._version import PLUGIN_API, __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    reg = get_registry()
    parser = argparse.ArgumentParser(prog="torchloom", description="torchloom: fastai-style training on "
                                     "PyTorch, extended by plugins.")
    parser.add_argument("--version", action="version", version=f"torchloom {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, cmd in sorted(reg.commands.items()):
        p = sub.add_parser(name, help=f"{cmd.help} [{cmd.dist}]", description=cmd.help)
        if name == chosen:
            try:
                cmd.load()(p)
            except Exception as e:
                print(f"torchloom: command {name!r} (from {cmd.dist} {cmd.version}) is unavailable: "
                      f"{type(e).__name__}: {e}", file=sys.stderr)
                return 2
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler = getattr(args, "handler", None)
    if handler is None:
        cmd = reg.commands[args.command]
        print(f"torchloom: command {args.command!r} (from {cmd.dist}) set no handler: its configure(parser) "
              f"must call parser.set_defaults(handler=fn)", file=sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except PluginError as e:
        print(f"torchloom: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `torchloom plugins | head`
        sys.stdout = open(os.devnull, "w")
        return 0


# -- torchloom plugins ---------------------------------------------------------------------------------
def configure_plugins(parser: argparse.ArgumentParser) -> None:
    """``torchloom plugins [--json]`` and ``torchloom plugins which NAME [--kind K] [--json]``."""
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="plugins_action", metavar="ACTION")
    which = sub.add_parser("which", help="show which distribution provides NAME")
    which.add_argument("name")
    which.add_argument("--kind", choices=KINDS, help="only look at this kind")
    which.add_argument("--json", action="store_true", dest="which_json", help="machine-readable output")
    parser.set_defaults(handler=_plugins_handler)


def _plugins_handler(args: argparse.Namespace) -> int:
    reg = get_registry()
    as_json = args.json or getattr(args, "which_json", False)
    if args.plugins_action == "which":
        return _which(reg, args.name, args.kind, as_json)
    if as_json:
        print(json.dumps(reg.to_dict(), indent=2, sort_keys=True))
    else:
        print(format_plugins(reg))
    return 0


def format_plugins(reg: Registry) -> str:
    """Human-readable listing: one block per plugin with its distribution, status and names by kind."""
    out = [f"torchloom {__version__} (PLUGIN_API {PLUGIN_API}); "
           f"{sum(p.status == 'loaded' for p in reg.plugins)} plugin(s) loaded, "
           f"discovery {reg.discovery_seconds * 1000:.0f} ms (metadata scan {reg.scan_seconds * 1000:.0f} ms)", ""]
    for p in reg.plugins:
        status = {"loaded": "loaded", "disabled": "disabled", "quarantined": "QUARANTINED"}[p.status]
        took = f", {p.load_seconds * 1000:.0f} ms" if p.status != "disabled" else ""
        if p.status != "disabled" and p.load_seconds > slow_seconds():
            took += " SLOW"
        out.append(f"{p.name}  {p.dist} {p.version}  [{status}]  ({p.module}{took})")
        if p.cause:
            out.append(textwrap.fill(p.cause, 100, initial_indent="    cause: ", subsequent_indent=" " * 11))
        rows = [(k, p.provides[k]) for k in KINDS if p.provides.get(k)]
        if p.commands:
            rows.append(("command", sorted(p.commands)))
        for kind, names in rows:
            head = f"    {kind + 's:':<12}"
            out.append(textwrap.fill(", ".join(names), 100, initial_indent=head, subsequent_indent=" " * len(head)))
    clashes = reg.to_dict()["clashes"]
    if clashes:
        out += ["", "Name clashes (unusable until one provider is removed or disabled):"]
        out += [f"    {c['kind']} {c['name']!r}: {' and '.join(c['dists'])}" for c in clashes]
    return "\n".join(out)


def _which(reg: Registry, name: str, kind: str | None, as_json: bool) -> int:
    found: list[Entry] = [e for e in reg.which(name) if kind is None or e.kind == kind]
    if not found:
        print(f"torchloom: {reg.unknown_message(kind, name)}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps([e.to_dict() for e in found], indent=2, sort_keys=True))
        return 0
    if len({(e.kind, e.dist) for e in found}) > len({e.kind for e in found}):
        print(f"warning: {name!r} is registered by more than one distribution (a name clash):")
    for e in found:
        print(f"{e.name}  ({e.kind})  from {e.dist} {e.version}, plugin {e.plugin!r}")
        print(f"    target: {e.target_path}")
        if e.doc:
            print(f"    doc:    {e.doc}")
        manifest = {k: v for k, v in (("order", e.order), ("before", e.before), ("after", e.after),
                                       ("conflicts", e.conflicts), ("slot", e.slot), ("requires", e.requires))
                    if v not in (None, ())}
        manifest.update(e.extra)
        if manifest:
            print("    manifest: " + ", ".join(f"{k}={v!r}" for k, v in manifest.items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The registry of names per kind, filled by plugins through hooks, with lazy ``"module:attr"`` targets.

Plain data: discovery and the process-wide registry (``get_registry()``) live in ``manager.py``.
A target's module is imported only when ``Entry.load()`` is first called.
"""
from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from torchloom._plugins.errors import NameClashError, PluginError, UnknownNameError
from torchloom._plugins.firstparty import FIRST_PARTY, first_party_dist
from torchloom._plugins.hookspecs import KINDS
from torchloom._target_syntax import split_target

BUILTIN = "builtin"


@dataclass
class Entry:
    """One registered name: where it comes from, its manifest, and its (lazily imported) target."""

    name: str
    kind: str
    target: Any
    dist: str
    version: str
    plugin: str = BUILTIN
    order: float | None = None
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    slot: str | None = None
    requires: tuple[str, ...] = ()
    doc: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _loaded: Any = field(default=None, repr=False, compare=False)
    _is_loaded: bool = field(default=False, repr=False, compare=False)

    @property
    def target_path(self) -> str:
        """``"module:attr"`` for display, also when the target was given as an object."""
        if isinstance(self.target, str):
            return self.target
        mod = getattr(self.target, "__module__", "?")
        return f"{mod}:{getattr(self.target, '__qualname__', repr(self.target))}"

    @property
    def is_loaded(self) -> bool:
        return self._is_loaded

    def load(self) -> Any:
        """Import and return the target (cached). Errors name the target and the distribution."""
        if self._is_loaded:
            return self._loaded
        obj = self.target
        if isinstance(obj, str):
            try:  # installed code wrote it: the resolver's syntax check, then a plain import
                mod, attr = split_target(obj)
                obj = getattr(importlib.import_module(mod), attr)
            except Exception as e:
                raise PluginError(
                    f"cannot load {self.kind} {self.name!r}: target {self.target!r} from "
                    f"{self.dist} {self.version} failed: {type(e).__name__}: {e}"
                ) from e
        self._loaded, self._is_loaded = obj, True
        return obj

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (used by ``torchloom plugins --json``)."""
        d = {k: getattr(self, k) for k in ("name", "kind", "dist", "version", "plugin", "order", "slot", "doc")}
        d.update(target=self.target_path, before=list(self.before), after=list(self.after),
                 conflicts=list(self.conflicts), requires=list(self.requires))
        d["extra"] = {k: v for k, v in self.extra.items() if isinstance(v, (str, int, float, bool, type(None)))}
        return d


@dataclass
class Command:
    """A ``torchloom`` subcommand added through ``register_commands``."""

    name: str
    target: Any
    help: str
    dist: str
    version: str
    plugin: str = BUILTIN

    def load(self) -> Any:
        """The ``configure(parser)`` callable (imported lazily)."""
        return Entry(self.name, "command", self.target, self.dist, self.version, self.plugin).load()


@dataclass
class PluginInfo:
    """A discovered plugin (one entry point, or the built-in one) and what happened to it."""

    name: str
    dist: str
    version: str
    module: str
    status: str = "loaded"  # loaded | quarantined | disabled
    cause: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    load_seconds: float = 0.0  # importing its module and running its hooks

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dist": self.dist, "version": self.version, "module": self.module,
                "status": self.status, "cause": self.cause, "provides": self.provides, "commands": self.commands,
                "load_seconds": round(self.load_seconds, 6)}


def _names(value: Any, field_name: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PluginError(f"{name!r}: manifest field {field_name!r} must be a name or a list of names, got {value!r}")


def make_entry(kind: str, name: Any, target: Any, dist: str, version: str, plugin: str, **manifest: Any) -> Entry:
    """Validate one ``register(name, target, **manifest)`` call and build its Entry."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise PluginError(f"{kind} names must be non-empty strings without surrounding spaces, got {name!r}")
    if isinstance(target, str):
        if ":" not in target or not all(target.partition(":")[::2]):
            raise PluginError(f"{kind} {name!r}: target must be 'module:attr', got {target!r}")
    elif target is None:
        raise PluginError(f"{kind} {name!r}: target is None")
    order = manifest.pop("order", None)
    if order is not None and (isinstance(order, bool) or not isinstance(order, (int, float))):
        raise PluginError(f"{kind} {name!r}: manifest field 'order' must be a number, got {order!r}")
    slot = manifest.pop("slot", None)
    if slot is not None and not isinstance(slot, str):
        raise PluginError(f"{kind} {name!r}: manifest field 'slot' must be a string, got {slot!r}")
    doc = manifest.pop("doc", "") or ""
    if not isinstance(doc, str):
        raise PluginError(f"{kind} {name!r}: manifest field 'doc' must be a string, got {doc!r}")
    if kind == "stepper" and "optimizer" in manifest:
        raise PluginError(f"stepper {name!r}: optimizers have their own kind; register them in the "
                          f"register_optimizers hook instead of passing optimizer=True to register_steppers")
    lists = {f: _names(manifest.pop(f, None), f, name) for f in ("before", "after", "conflicts", "requires")}
    return Entry(name=name, kind=kind, target=target, dist=dist, version=version, plugin=plugin, order=order,
                 slot=slot, doc=doc, extra=manifest, **lists)


class Registry:
    """Names per kind, the plugins that provided them, and the CLI commands they added."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self._clashes: dict[tuple[str, str], list[Entry]] = {}
        self.commands: dict[str, Command] = {}
        self.plugins: list[PluginInfo] = []
        self.discovery_seconds = 0.0  # the whole of discover()
        self.scan_seconds = 0.0  # reading entry points from the installed distributions' metadata

    # -- filling (used by the manager) -------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        """Add one entry; a name already taken by another distribution becomes ambiguous (NameClashError)."""
        key = (entry.kind, entry.name)
        if key in self._clashes:
            self._clashes[key].append(entry)
            return
        old = self._entries[entry.kind].get(entry.name)
        if old is not None:
            self._clashes[key] = [old, entry]
            del self._entries[entry.kind][entry.name]
            return
        self._entries[entry.kind][entry.name] = entry

    def owner(self, kind: str, name: str) -> Entry | None:
        """The entry currently holding (kind, name), ambiguous ones included (first registrant)."""
        if (kind, name) in self._clashes:
            return self._clashes[(kind, name)][0]
        return self._entries[kind].get(name)

    # -- queries -----------------------------------------------------------------------------------
    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")

    def entry(self, kind: str, name: str) -> Entry:
        """The entry for (kind, name); UnknownNameError/NameClashError with a helpful message otherwise."""
        self._check_kind(kind)
        e = self._entries[kind].get(name)
        if e is not None:
            return e
        if (kind, name) in self._clashes:
            raise NameClashError(clash_message(self._clashes[(kind, name)]))
        raise UnknownNameError(self.unknown_message(kind, name))

    def resolve(self, kind: str, name: str) -> Any:
        """``entry(kind, name).load()``."""
        return self.entry(kind, name).load()

    def get(self, kind: str, name: str) -> Entry | None:
        """The entry or None (no error)."""
        self._check_kind(kind)
        return self._entries[kind].get(name)

    def names(self, kind: str) -> list[str]:
        """Sorted names of one kind (ambiguous names excluded)."""
        self._check_kind(kind)
        return sorted(self._entries[kind])

    def entries(self, kind: str) -> list[Entry]:
        self._check_kind(kind)
        return [self._entries[kind][n] for n in sorted(self._entries[kind])]

    def defaults(self, kind: str) -> list[Entry]:
        """The built-in plugin's ``default=True`` entries, in registration order (plugins cannot auto-enable)."""
        self._check_kind(kind)
        return [e for e in self._entries[kind].values() if e.plugin == BUILTIN and e.extra.get("default") is True]

    def which(self, name: str) -> list[Entry]:
        """Every entry with this name, across kinds (both sides of a clash included)."""
        found = []
        for kind in KINDS:
            found.extend(self._clashes.get((kind, name), []))
            if name in self._entries[kind]:
                found.append(self._entries[kind][name])
        return found

    def find_name_for(self, obj: Any) -> tuple[str, str] | None:
        """Reverse lookup of a target object, without importing anything: (kind, name) or None."""
        path = None
        if hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
            path = f"{obj.__module__}:{obj.__qualname__}"
        for kind in KINDS:
            for e in self._entries[kind].values():
                if e.target is obj or (e.is_loaded and e.load() is obj) or (path and e.target == path):
                    return kind, e.name
        return None

    @property
    def quarantined(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.status == "quarantined"]

    def plugin(self, name_or_dist: str) -> PluginInfo | None:
        for p in self.plugins:
            if name_or_dist in (p.name, p.dist):
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        from torchloom._version import PLUGIN_API, __version__

        return {
            "torchloom": __version__,
            "plugin_api": PLUGIN_API,
            "plugins": [p.to_dict() for p in self.plugins],
            "names": {k: {n: e.to_dict() for n, e in sorted(self._entries[k].items())} for k in KINDS},
            "clashes": [{"kind": k, "name": n, "dists": [f"{e.dist} {e.version}" for e in es]}
                        for (k, n), es in sorted(self._clashes.items())],
            "commands": {n: {"dist": c.dist, "help": c.help} for n, c in sorted(self.commands.items())},
        }

    # -- messages ----------------------------------------------------------------------------------
    def _provider_hint(self, dist: str) -> str:
        info = self.plugin(dist)
        if info is not None and info.status == "quarantined":
            return f"is provided by {dist} {info.version}, which is installed but was quarantined: {info.cause}"
        if info is not None and info.status == "disabled":
            return f"is provided by {dist}, which is installed but not loaded ({info.cause})."
        return f"is provided by the distribution {dist}: pip install {dist}."

    def unknown_message(self, kind: str | None, name: str) -> str:
        """Lists installed names (of ``kind``, or all), suggests close ones, says what to install or enable."""
        label = kind or "name"
        if kind is None:
            installed = sorted({n for k in KINDS for n in self._entries[k]})
        else:
            installed = self.names(kind)
        lines = [f"unknown {label} {name!r}."]
        close = difflib.get_close_matches(name, installed, n=3, cutoff=0.6)
        if close:
            lines.append("Did you mean " + " or ".join(repr(c) for c in close) + "?")
        elsewhere = [k for k in KINDS if k != kind and name in self._entries[k]]
        if kind is not None and elsewhere:
            kinds = " and ".join(_a(k) for k in elsewhere)
            lines.append(f"{name!r} is registered as {kinds}, not {_a(kind)}.")
        dist = first_party_dist(name)
        if dist is not None:
            if not elsewhere:  # installed under another kind: the line above said so, nothing to install
                lines.append(f"{name!r} {self._provider_hint(dist)}")
        else:
            hint = difflib.get_close_matches(name, [n for n in FIRST_PARTY if n not in installed], n=1, cutoff=0.75)
            if hint:
                lines.append(f"Did you mean {hint[0]!r}? It {self._provider_hint(FIRST_PARTY[hint[0]])}")
            for p in self.quarantined:
                lines.append(f"(plugin {p.name!r} from {p.dist} {p.version} is quarantined: {p.cause})")
            off = [p.name for p in self.plugins if p.status == "disabled"]
            if off:
                lines.append(f"(installed but not loaded: {', '.join(off)}; see TORCHLOOM_PLUGINS and "
                             f"TORCHLOOM_DISABLE_PLUGINS)")
        lines.append(f"Installed {label}s: {', '.join(installed) if installed else '(none)'}.")
        return " ".join(lines)


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def clash_message(entries: list[Entry]) -> str:
    e = entries[0]
    who = " and ".join(f"{x.dist} {x.version} (plugin {x.plugin!r})" for x in entries)
    return (f"{e.kind} {e.name!r} is registered by more than one distribution: {who}. "
            f"Uninstall one, or skip one with TORCHLOOM_DISABLE_PLUGINS=<plugin>.")

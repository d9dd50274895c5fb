"""Plugin discovery: entry points of group ``torchloom``, each plugin loaded and run in isolation.

We do not use ``PluginManager.load_setuptools_entrypoints``: it imports everything eagerly and a
single broken plugin aborts it half-way. Here each plugin is imported, checked and has its hooks
called inside its own try/except; on failure its registrations are dropped (they were only
pending) and it is quarantined with one warning. ``TORCHLOOM_STRICT_PLUGINS=1`` raises instead.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
import warnings
from importlib.metadata import Distribution, EntryPoint, distributions
from typing import Any

import pluggy

from torchloom._plugins.errors import NameClashError, PluginError, PluginWarning
from torchloom._plugins.firstparty import first_party_dist
from torchloom._plugins.hookspecs import COMMANDS_HOOK, HOOK_KIND, HOOK_NAMES, PROJECT, TorchloomSpecs
from torchloom._plugins.registry import (
    BUILTIN,
    Command,
    Entry,
    PluginInfo,
    Registry,
    clash_message,
    make_entry,
)

GROUP = "torchloom"


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _env_list(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {_norm(v) for v in value.split(",") if v.strip()}


def strict_mode() -> bool:
    """True when ``TORCHLOOM_STRICT_PLUGINS`` asks for errors instead of quarantine."""
    return os.environ.get("TORCHLOOM_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes", "on")


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return text


class _Quarantine(Exception):
    def __init__(self, cause: str, exc: BaseException | None = None) -> None:
        super().__init__(cause)
        self.cause, self.exc = cause, exc


class _Collector:
    """The ``register`` callable and ``cli`` object handed to one plugin's hooks; collects pending entries."""

    def __init__(self, info: PluginInfo) -> None:
        self.info = info
        self.entries: list[Entry] = []
        self.commands: list[Command] = []
        self._seen: set[tuple[str, str]] = set()

    def registrar(self, kind: str):
        def register(name: str, target: Any, **manifest: Any) -> None:
            entry = make_entry(kind, name, target, self.info.dist, self.info.version, self.info.name, **manifest)
            if (kind, name) in self._seen:
                raise PluginError(f"{kind} {name!r} registered twice by the same plugin")
            self._seen.add((kind, name))
            self.entries.append(entry)

        register.__doc__ = f"register(name, target, **manifest): add a {kind} to the torchloom registry."
        return register

    def add_command(self, name: str, target: Any, help: str = "") -> None:
        """Add a ``torchloom NAME`` subcommand; ``target`` is ``configure(parser)`` or ``"module:attr"``."""
        if not isinstance(name, str) or not name or " " in name:
            raise PluginError(f"command names must be non-empty strings without spaces, got {name!r}")
        if any(c.name == name for c in self.commands):
            raise PluginError(f"command {name!r} added twice by the same plugin")
        self.commands.append(Command(name, target, help or "", self.info.dist, self.info.version, self.info.name))


def _run_hooks(pm: pluggy.PluginManager, plugin: object, info: PluginInfo) -> _Collector:
    """Register ``plugin`` with pluggy and call each of its hooks alone; raise _Quarantine on any failure."""
    try:
        pm.register(plugin, name=f"{info.dist}:{info.name}")
    except Exception as e:  # PluginValidationError: a hookimpl whose arguments the spec lacks, duplicates
        raise _Quarantine(f"invalid hook implementation: {e}", e) from e
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.spec is None and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls()):
            pm.unregister(plugin)
            raise _Quarantine(f"implements unknown hook {caller.name!r}; hooks are {', '.join(HOOK_NAMES)}")
    others = [p for p in pm.get_plugins() if p is not plugin]
    collector = _Collector(info)
    try:
        for hook in HOOK_NAMES:
            call = pm.subset_hook_caller(hook, remove_plugins=others)
            if hook == COMMANDS_HOOK:
                call(cli=collector)
            else:
                call(register=collector.registrar(HOOK_KIND[hook]))
    except BaseException as e:  # KeyboardInterrupt or a custom BaseException from a plugin must not break discovery
        pm.unregister(plugin)
        raise _Quarantine(f"hook {hook} raised {_describe(e)}", e) from e
    return collector


def _refuse_first_party_names(collector: _Collector, explicit: bool) -> None:
    """Drop the names of first-party plugins that another distribution registers, with one warning, unless
    the user selected that plugin explicitly (``TORCHLOOM_PLUGINS``): a name like ``mixup`` stays usable."""
    info = collector.info
    if explicit:
        return
    taken = [e for e in collector.entries
             if (fp := first_party_dist(e.name)) is not None and _norm(fp) != _norm(info.dist)]
    if not taken:
        return
    collector.entries = [e for e in collector.entries if e not in taken]
    names = ", ".join(f"{e.kind} {e.name!r} ({first_party_dist(e.name)})" for e in taken)
    warnings.warn(f"torchloom: plugin {info.name!r} from distribution {info.dist} {info.version} registers "
                  f"first-party names it does not own: {names}; refused for {info.dist} (the first-party "
                  f"distribution keeps them). To use {info.dist}'s versions, select it explicitly with "
                  f"TORCHLOOM_PLUGINS={info.name}.", PluginWarning, stacklevel=4)


def slow_seconds() -> float:
    """A plugin import slower than this is reported (``TORCHLOOM_SLOW_PLUGIN_SECONDS``, default 1 s)."""
    try:
        return float(os.environ.get("TORCHLOOM_SLOW_PLUGIN_SECONDS", "1.0"))
    except ValueError:
        return 1.0


def _commit(reg: Registry, collector: _Collector, strict: bool) -> None:
    """Move a plugin's pending registrations into the registry (a kernel name is reserved: quarantine)."""
    info = collector.info
    for e in collector.entries:
        owner = reg.owner(e.kind, e.name)
        if owner is not None and owner.plugin == BUILTIN and info.name != BUILTIN:
            raise _Quarantine(f"registers {e.kind} {e.name!r}, a name the torchloom kernel already provides")
    for c in collector.commands:
        old = reg.commands.get(c.name)
        if old is not None and old.plugin == BUILTIN:
            raise _Quarantine(f"adds command {c.name!r}, which the torchloom kernel already provides")
    for e in collector.entries:
        owner = reg.owner(e.kind, e.name)
        reg.add(e)
        if owner is not None:
            msg = clash_message([owner, e])
            if strict:
                raise NameClashError(msg)
            warnings.warn(f"torchloom: {msg}", PluginWarning, stacklevel=4)
        info.provides.setdefault(e.kind, []).append(e.name)
    for c in collector.commands:
        old = reg.commands.get(c.name)
        if old is not None:
            msg = (f"command {c.name!r} is added by more than one distribution: {old.dist} {old.version} and "
                   f"{c.dist} {c.version}; keeping {old.dist}'s")
            if strict:
                raise NameClashError(msg)
            warnings.warn(f"torchloom: {msg}", PluginWarning, stacklevel=4)
            continue
        reg.commands[c.name] = c
        info.commands.append(c.name)
    for names in info.provides.values():
        names.sort()


def entry_points(group: str) -> list[EntryPoint]:
    """``importlib.metadata.entry_points(group=group)``, faster: only distributions whose
    ``entry_points.txt`` mentions the group are parsed (there may be hundreds of unrelated ones).
    Like the stdlib, the first distribution of a name on ``sys.path`` wins."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for dist in distributions():
        text = dist.read_text("entry_points.txt")
        if not text or group not in text:
            continue
        eps = dist.entry_points.select(group=group)
        if not eps:
            continue
        name = _norm(_name_version(dist)[0])
        if name not in seen:
            seen.add(name)
            found.extend(eps)
    return found


def _name_version(dist: Distribution) -> tuple[str, str]:
    """Name and Version from the metadata headers, without importing the email package (~10 ms)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # end of the headers
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    if len(found) < 2:  # unusual metadata: let importlib.metadata parse it
        return dist.metadata["Name"] or "(unknown distribution)", dist.metadata["Version"] or "?"
    return found["Name"], found["Version"]


def _entry_point_info(ep: EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    name, version = _name_version(dist) if dist is not None else ("(unknown distribution)", "?")
    return PluginInfo(name=ep.name, dist=name, version=version, module=ep.value)


def _selected(info: PluginInfo, only: set[str] | None, disable: set[str] | None) -> str:
    """'' when the plugin should load, else why it is skipped."""
    keys = {_norm(info.name), _norm(info.dist)}
    if disable and keys & disable:
        return f"skipped by TORCHLOOM_DISABLE_PLUGINS={os.environ.get('TORCHLOOM_DISABLE_PLUGINS', '')}"
    if only is not None and not keys & only:
        return f"not listed in TORCHLOOM_PLUGINS={os.environ.get('TORCHLOOM_PLUGINS', '')}"
    return ""


class _KernelSnapshot:
    """The attributes of the kernel's classes (those already imported), so that a quarantined plugin's
    import-time monkeypatching of, say, ``Learner.fit`` can be undone."""

    def __init__(self) -> None:
        import sys

        self.classes: dict[type, dict[str, Any]] = {}
        for name, mod in list(sys.modules.items()):
            if mod is None or not (name == "torchloom" or name.startswith("torchloom.")):
                continue
            for obj in list(vars(mod).values()):
                if isinstance(obj, type) and getattr(obj, "__module__", "") == name:
                    self.classes[obj] = dict(vars(obj))

    def restore(self) -> list[str]:
        """Put back every changed or added attribute; returns ``Class.attr`` names that were restored."""
        undone = []
        for cls, before in self.classes.items():
            now = vars(cls)
            for key in [k for k in now if k not in before]:
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(cls, key)
                    undone.append(f"{cls.__qualname__}.{key}")
            for key, value in before.items():
                if now.get(key, _MISSING) is not value:
                    with contextlib.suppress(AttributeError, TypeError):
                        setattr(cls, key, value)
                        undone.append(f"{cls.__qualname__}.{key}")
        return undone


_MISSING = object()


def _load_entry_point(ep: EntryPoint) -> object:
    from torchloom._version import PLUGIN_API, __version__

    try:
        plugin = ep.load()
    except BaseException as e:  # SystemExit, KeyboardInterrupt, custom BaseException subclasses at import
        raise _Quarantine(f"import failed: {_describe(e)}", e) from e
    api = getattr(plugin, "PLUGIN_API", PLUGIN_API)
    if api != PLUGIN_API:
        raise _Quarantine(f"built for torchloom PLUGIN_API {api!r}, but torchloom {__version__} "
                          f"provides PLUGIN_API {PLUGIN_API}; upgrade the plugin or torchloom")
    return plugin


def discover(group: str = GROUP) -> Registry:
    """Build a Registry: the built-in plugin first, then every selected entry point of ``group``."""
    import torchloom._plugins.builtin as builtin
    from torchloom._version import __version__

    start = time.perf_counter()
    strict = strict_mode()
    reg = Registry()
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(TorchloomSpecs)

    info = PluginInfo(name=BUILTIN, dist="torchloom", version=__version__, module=builtin.__name__)
    _commit(reg, _run_hooks(pm, builtin, info), strict=True)
    reg.plugins.append(info)
    info.load_seconds = time.perf_counter() - start

    only, disable = _env_list("TORCHLOOM_PLUGINS"), _env_list("TORCHLOOM_DISABLE_PLUGINS")
    scan_start = time.perf_counter()
    infos = sorted(((_entry_point_info(ep), ep) for ep in entry_points(group)),
                   key=lambda pair: (_norm(pair[0].dist), pair[0].name))
    reg.scan_seconds = time.perf_counter() - scan_start
    matched: set[str] = set()
    for info, ep in infos:
        matched |= {_norm(info.name), _norm(info.dist)}
        reg.plugins.append(info)
        skip = _selected(info, only, disable)
        if skip:
            info.status, info.cause = "disabled", skip
            continue
        plugin, t0 = None, time.perf_counter()
        snapshot = _KernelSnapshot()
        try:
            if info.name == BUILTIN:  # its entries would count as kernel defaults
                raise _Quarantine(f"the entry-point name {BUILTIN!r} is reserved for the kernel's own plugin")
            plugin = _load_entry_point(ep)
            collector = _run_hooks(pm, plugin, info)
            _refuse_first_party_names(collector, explicit=only is not None and bool(
                {_norm(info.name), _norm(info.dist)} & only))
            _commit(reg, collector, strict)
        except _Quarantine as q:
            if plugin is not None and pm.is_registered(plugin):
                pm.unregister(plugin)
            info.status, info.cause, info.provides, info.commands = "quarantined", q.cause, {}, []
            undone = snapshot.restore()
            if undone:
                q.cause += f" (its changes to kernel classes were undone: {', '.join(sorted(undone)[:5])})"
            msg = (f"torchloom: plugin {info.name!r} from distribution {info.dist} {info.version} was "
                   f"quarantined: {q.cause}. Other plugins are unaffected; set TORCHLOOM_STRICT_PLUGINS=1 "
                   f"to make this an error or TORCHLOOM_DISABLE_PLUGINS={info.name} to skip it.")
            if strict:
                raise PluginError(msg) from q.exc
            warnings.warn(msg, PluginWarning, stacklevel=3)
        finally:
            info.load_seconds = time.perf_counter() - t0
        if info.load_seconds > slow_seconds():
            warnings.warn(f"torchloom: plugin {info.name!r} from distribution {info.dist} {info.version} took "
                          f"{info.load_seconds:.1f} s to import and register; every program's first Learner waits "
                          f"for it (see `torchloom plugins`; skip it with TORCHLOOM_DISABLE_PLUGINS={info.name})",
                          PluginWarning, stacklevel=3)
    missing = sorted((only or set()) - matched)
    if missing:
        warnings.warn(f"torchloom: TORCHLOOM_PLUGINS names {', '.join(missing)}, but no installed plugin "
                      f"(entry point or distribution) has that name", PluginWarning, stacklevel=3)
    reg.discovery_seconds = time.perf_counter() - start
    return reg


_lock = threading.RLock()
_registry: Registry | None = None
_discovering = False


def get_registry() -> Registry:
    """The process-wide registry; plugins are discovered on the first call (cached afterwards)."""
    global _registry, _discovering
    if _registry is None:
        with _lock:
            if _registry is None:
                if _discovering:  # same thread: a plugin's module or hook asked for the registry
                    raise PluginError("get_registry() was called while plugins are being discovered; a plugin's "
                                      "plugin module and hooks must only call register(...)")
                _discovering = True
                try:
                    _registry = discover()
                finally:
                    _discovering = False
    return _registry


def reset_registry() -> None:
    """Forget the cached registry so the next ``get_registry()`` discovers again (for tests)."""
    global _registry
    with _lock:
        _registry = None

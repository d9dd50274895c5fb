#!/usr/bin/env python3
"""Prepare a light tox env on top of one shared environment holding the heavy third-party deps.

torch + torchvision are a multi-GB install, so they are installed once into ``.tox/.base`` and every
tox env (a fresh, empty venv) sees them through a ``.pth`` file that adds the base site-packages
*after* its own. pip in the env then treats them as installed, and ``pip install ./core
./plugins/<name>`` does a real, non-editable install of only our distributions, which catches
packaging mistakes. Finally we check that no other torchloom plugin is installed or importable.

Usage (from tox, with the env's python)::

    python tools/toxenv.py prepare kernel            # kernel only
    python tools/toxenv.py prepare vision            # kernel + plugins/vision
    python tools/toxenv.py prepare gan               # kernel + plugins/vision (its dependency) + plugins/gan
    python tools/toxenv.py prepare integration       # kernel + every plugin
    python tools/toxenv.py prepare bench --extra fastai==2.8.12
Only the standard library is used.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_REQUIREMENTS = [
    "torch==2.14.1", "torchvision==0.29.1", "numpy", "pillow", "pandas", "matplotlib", "pluggy>=1.3",
    "tqdm", "safetensors", "importlib-metadata", "pytest", "setuptools>=64", "wheel",
]
# tox env name -> folder of the plugin distribution it tests (with the kernel alone), or a list of folders
# when that plugin depends on another of ours (the dependencies first, the plugin under test last)
PLUGIN_DIRS: dict[str, str | list[str]] = {
    "vision": "plugins/vision", "text": "plugins/text", "mixup": "plugins/mixup", "fp16": "plugins/fp16",
    "lamb": "plugins/lamb", "ema": "contrib/ema", "template": "contrib/plugin-template",
    "tabular": "plugins/tabular", "collab": ["plugins/tabular", "plugins/collab"],
    "gan": ["plugins/vision", "plugins/gan"],
    "wandb": "contrib/wandb",
}
# tox envs that install the kernel alone (security: the hostile-file suite, tests/security; types: mypy)
KERNEL_ONLY_ENVS = ("kernel", "security", "types")
PTH_NAME = "_torchloom_base.pth"


def log(msg: str) -> None:
    print(f"[toxenv] {msg}", flush=True)


def run(cmd: list[str]) -> None:
    log(" ".join(cmd))
    subprocess.run(cmd, check=True)


def site_packages(prefix: Path) -> Path:
    rel = Path(sysconfig.get_path("purelib", vars={"base": "x", "platbase": "x"})).relative_to("x")
    return prefix / rel


def base_dir() -> Path:
    return Path(os.environ.get("TORCHLOOM_TOX_BASE", ROOT / ".tox" / ".base"))


def ensure_base(requirements: list[str]) -> Path:
    """Create (once, under a lock) the shared env with the heavy deps; return its site-packages."""
    base = base_dir()
    stamp_value = hashlib.sha256(json.dumps([sys.version_info[:2], requirements]).encode()).hexdigest()
    base.parent.mkdir(parents=True, exist_ok=True)
    with open(base.parent / ".base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = base / ".torchloom-base-stamp"
        if stamp.exists() and stamp.read_text() == stamp_value:
            log(f"shared base env up to date: {base}")
        else:
            start = time.perf_counter()
            log(f"creating the shared base env {base} (heavy deps, once)")
            venv.EnvBuilder(clear=True, with_pip=True).create(base)
            run([str(base / "bin" / "python"), "-m", "pip", "install", "-q", *requirements])
            stamp.write_text(stamp_value)
            log(f"base env ready in {time.perf_counter() - start:.0f} s")
    return site_packages(base)


def link_base(base_site: Path) -> None:
    """Write the .pth that appends the base site-packages to this env's sys.path."""
    own = Path(sysconfig.get_path("purelib"))
    if own == base_site:
        raise SystemExit("toxenv: refusing to link the base env into itself")
    (own / PTH_NAME).write_text(f"import site; site.addsitedir({str(base_site)!r})\n")
    log(f"linked {base_site} into {own / PTH_NAME}")


def torchloom_dists() -> dict[str, Path | None]:
    """Installed distributions that are torchloom or register torchloom plugins, with their location."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("torchloom") or any(ep.group == "torchloom" for ep in dist.entry_points):
            found[name] = Path(str(dist.locate_file(""))).resolve()
    return found


def check_isolation(allowed: set[str]) -> None:
    """Fail unless exactly the allowed torchloom distributions are installed, none editable or from the tree."""
    found = torchloom_dists()
    extra = sorted(set(found) - allowed)
    missing = sorted(allowed - set(found))
    if extra or missing:
        raise SystemExit(f"toxenv: isolation check failed: unexpected {extra}, missing {missing} "
                         f"(installed: {sorted(found)})")
    own = Path(sysconfig.get_path("purelib")).resolve()
    for name, where in found.items():
        if where != own:
            raise SystemExit(f"toxenv: {name} is not installed in this env but at {where}")
    others = [d.replace("-", "_") for d in _all_plugin_dists() if d not in allowed]
    mine = [d.replace("-", "_") for d in allowed]
    code = ("import importlib.util, json, sys; n = int(sys.argv[1]); mods = sys.argv[2:]; "
            "print(json.dumps({'importable': [m for m in mods[:n] if importlib.util.find_spec(m)], "
            "'origins': {m: importlib.util.find_spec(m).origin for m in mods[n:]}}))")
    proc = subprocess.run([sys.executable, "-c", code, str(len(others)), *others, *mine], cwd=ROOT / "tests",
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout)
    if result["importable"]:
        raise SystemExit(f"toxenv: other plugins are importable in this env: {result['importable']}")
    for mod, origin in result["origins"].items():
        if not Path(origin).resolve().is_relative_to(own):
            raise SystemExit(f"toxenv: {mod} is imported from {origin}, not from this env's {own}")
    log(f"isolation ok: only {sorted(allowed)} installed; not importable: {', '.join(others) or '-'}")


def _dist_name(folder: Path) -> str:
    text = (folder / "pyproject.toml").read_text()
    for line in text.splitlines():
        if line.strip().startswith("name") and "=" in line:
            return line.split("=", 1)[1].strip().strip('"\'')
    raise SystemExit(f"toxenv: no [project] name in {folder / 'pyproject.toml'}")


def _all_plugin_dirs() -> list[Path]:
    dirs = [p for p in sorted((ROOT / "plugins").glob("*")) + sorted((ROOT / "contrib").glob("*"))
            if (p / "pyproject.toml").exists()]
    return dirs


def _all_plugin_dists() -> list[str]:
    return [_dist_name(d) for d in _all_plugin_dirs()]


def prepare(env: str, extra: list[str]) -> None:
    start = time.perf_counter()
    link_base(ensure_base(BASE_REQUIREMENTS))
    if env == "integration" or env == "bench":
        folders = [ROOT / "core", *_all_plugin_dirs()]
    elif env in KERNEL_ONLY_ENVS:
        folders = [ROOT / "core"]
    elif env in PLUGIN_DIRS:
        dirs = PLUGIN_DIRS[env]
        folders = [ROOT / "core"]
        for rel in [dirs] if isinstance(dirs, str) else dirs:
            if not (ROOT / rel / "pyproject.toml").exists():
                raise SystemExit(f"toxenv: the tox env {env!r} installs the plugin in {rel}/, but "
                                 f"{rel}/pyproject.toml does not exist")
            folders.append(ROOT / rel)
    else:
        raise SystemExit(f"toxenv: unknown env {env!r}; known: {', '.join(KERNEL_ONLY_ENVS)}, integration, bench, {', '.join(PLUGIN_DIRS)}")
    for folder in folders:  # setuptools reuses build/: a stale copy would ship files deleted from src/
        shutil.rmtree(folder / "build", ignore_errors=True)
    # pip always reinstalls local project folders (fresh code each run); their dependencies resolve
    # against the base env through the .pth, so nothing heavy is installed here (extras: e.g. fastai)
    run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", *map(str, folders), *extra])
    if env != "bench":
        check_isolation({_dist_name(f) for f in folders})
    log(f"env {env!r} prepared in {time.perf_counter() - start:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="link the base env, install our distributions, check isolation")
    p.add_argument("env")
    p.add_argument("--extra", action="append", default=[], help="more requirements (bench: fastai)")
    sub.add_parser("base", help="only create/update the shared base env")
    args = parser.parse_args(argv)
    if args.cmd == "base":
        ensure_base(BASE_REQUIREMENTS)
    else:
        prepare(args.env, args.extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Import cost: ``import torchloom`` (and its main API) beyond ``import torch``, plugin discovery time
with every installed plugin, and fastai's ``import fastai.vision.all`` side by side.

Each figure is the median over N fresh interpreter processes (imports are cached within a process),
after one discarded warm-up run that also writes bytecode caches, as a pip install would. Discovery
is reported as wall time and CPU time: on a shared, loaded machine the wall time mostly measures
waiting for a core.
Targets (DESIGN §5): kernel import <= 0.3 s beyond torch, discovery <= 50 ms.

    python bench/bench_import.py [--n 7] [--json bench/out/bench_import.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
{stmt}
t2 = time.perf_counter()
extra = {{}}
{after}
print(json.dumps({{"torch": t1 - t0, "beyond": t2 - t1, **extra}}))
"""

CASES = [
    ("import torchloom", "import torchloom", ""),
    ("from torchloom import Learner, DataLoaders, DataBlock, accuracy",
     "from torchloom import Learner, DataLoaders, DataBlock, accuracy", ""),
    ("plugin discovery: get_registry() (all installed plugins)",
     "import torchloom",
     "t, c = time.perf_counter(), time.process_time()\nfrom torchloom import get_registry\n"
     "reg = get_registry()\n"
     "extra['discovery'] = time.perf_counter() - t\nextra['discovery_cpu'] = time.process_time() - c\n"
     "extra['plugins'] = [p.dist for p in reg.plugins if p.status == 'loaded']\n"
     "extra['not_loaded'] = [f'{p.dist}: {p.status}' for p in reg.plugins if p.status != 'loaded']"),
    ("from torchloom_vision import vision_learner, ImageDataLoaders",
     "from torchloom_vision import vision_learner, ImageDataLoaders\n"
     "import torchloom_vision.learner, torchloom_vision.data", ""),
    ("import fastai.vision.all", "import fastai.vision.all", ""),
]


def measure(stmt: str, after: str, n: int) -> list[dict]:
    code = textwrap.dedent(PROBE).format(stmt=stmt, after=textwrap.indent(after, ""))
    # as installed: bytecode caches written (a pip install compiles them); one discarded warm-up run
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHLOOM_") and k != "PYTHONDONTWRITEBYTECODE"}
    runs = []
    for _ in range(n + 1):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode:
            raise RuntimeError(f"probe failed for {stmt!r}:\n{proc.stderr[-2000:]}")
        runs.append(json.loads(proc.stdout.splitlines()[-1]))
    return runs[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=7, help="fresh processes per figure (median reported)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "out" / "bench_import.json")
    args = parser.parse_args(argv)

    print(f"import benchmark: median of {args.n} fresh processes, python {sys.version.split()[0]}")
    results: dict[str, dict] = {}
    for label, stmt, after in CASES:
        module = stmt.split()[1].split(".")[0]
        if importlib.util.find_spec(module) is None:
            print(f"  {label:<64} {module} not installed: skipped")
            continue
        runs = measure(stmt, after, args.n)
        med = statistics.median(r["beyond"] for r in runs)
        results[label] = {"beyond_torch_s": med, "torch_s": statistics.median(r["torch"] for r in runs),
                          "runs": [r["beyond"] for r in runs]}
        line = f"  {label:<64} {med * 1000:8.1f} ms beyond torch"
        if "discovery" in runs[0]:
            disc = statistics.median(r["discovery"] for r in runs)
            cpu = statistics.median(r["discovery_cpu"] for r in runs)
            results[label].update(discovery_s=disc, discovery_cpu_s=cpu, plugins=runs[0]["plugins"],
                                  not_loaded=runs[0]["not_loaded"])
            line = (f"  {label:<64} {disc * 1000:8.1f} ms wall, {cpu * 1000:.1f} ms CPU "
                    f"({len(runs[0]['plugins'])} plugins: "
                    f"{', '.join(runs[0]['plugins'])})  target <= 50 ms: "
                    f"{'OK' if disc <= 0.05 else 'MISSED'}")
            if runs[0]["not_loaded"]:
                line += f"  [not loaded: {'; '.join(runs[0]['not_loaded'])}]"
        elif module == "torchloom":
            line += f"   target <= 300 ms: {'OK' if med <= 0.3 else 'MISSED'}"
        print(line, flush=True)
    if "import fastai.vision.all" not in results:
        print("  fastai not installed: skipped")
    torch_s = statistics.median(r["torch_s"] for r in results.values())
    print(f"  (import torch itself: {torch_s * 1000:.0f} ms, median)")
    api = results.get("from torchloom import Learner, DataLoaders, DataBlock, accuracy")
    fa = results.get("import fastai.vision.all")
    vis = results.get("from torchloom_vision import vision_learner, ImageDataLoaders")
    if api and fa:
        print(f"  ratio fastai.vision.all / torchloom kernel API: {fa['beyond_torch_s'] / api['beyond_torch_s']:.0f}x")
    if vis and fa:
        print(f"  ratio fastai.vision.all / torchloom kernel+vision API: "
              f"{fa['beyond_torch_s'] / vis['beyond_torch_s']:.1f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

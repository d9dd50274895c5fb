"""Run every ``bench/bench_*.py`` in its own process, stream its output, and collect it.

    python bench/run_all.py                 # all benchmarks
    python bench/run_all.py import optim    # only bench_import.py and bench_optim.py
Output of each script is saved to bench/out/<name>.txt; a summary with exit codes and durations
is printed at the end (and saved to bench/out/summary.txt). Exit code 1 if any script failed.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    wanted = sys.argv[1:] if argv is None else argv
    scripts = sorted(HERE.glob("bench_*.py"))
    if wanted:
        names = {f"bench_{w.removeprefix('bench_').removesuffix('.py')}.py" for w in wanted}
        unknown = names - {s.name for s in scripts}
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(s.name for s in scripts)}")
            return 2
        scripts = [s for s in scripts if s.name in names]
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    summary = []
    for script in scripts:
        print(f"\n===== {script.name} =====", flush=True)
        start = time.perf_counter()
        lines = []
        with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, cwd=HERE.parent) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                lines.append(line)
        took = time.perf_counter() - start
        (out_dir / f"{script.stem}.txt").write_text("".join(lines))
        summary.append(f"{script.name:<32} {'ok' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})':<18}"
                       f"{took:8.1f} s")
    text = "\n".join(["", "===== summary =====", *summary])
    print(text)
    (out_dir / "summary.txt").write_text(text + "\n")
    return 1 if any("FAILED" in s for s in summary) else 0


if __name__ == "__main__":
    sys.exit(main())

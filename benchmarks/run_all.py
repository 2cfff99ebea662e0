"""Run every `benchmarks/bench_*.py` in turn, each in a fresh process, and print its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    wanted = set(sys.argv[1:])
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        if wanted and script.stem not in wanted and script.name not in wanted:
            continue
        print(f"==> {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=here.parent).returncode != 0:
            failed.append(script.name)
        print(flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

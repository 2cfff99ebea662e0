"""Child of `bench_map.py`, run by the project's Python: slop's repository map over a corpus.

Reads one JSON job on stdin, writes one JSON result on stdout:
  {"root": ..., "budgets": [...], "cache_dir": ..., "overview_tokens": N or null}
For each budget: build with an empty cache folder and render (cold), then build again over the
cache the first build left and render (warm). Imports happen before any timing, as in Aider's
child, so neither side pays for starting Python.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402

from slop_tui.memory.repo_map import RepoMap  # noqa: E402
from slop_tui.tokens import estimate_tokens  # noqa: E402


def main() -> int:
    job = json.load(sys.stdin)
    out, sys.stdout = sys.stdout, sys.stderr  # nothing but the JSON on stdout
    root, cache_dir = Path(job["root"]), Path(job["cache_dir"])
    results: list[dict[str, Any]] = []
    overview: dict[str, Any] | None = None
    for budget in job["budgets"]:
        shutil.rmtree(cache_dir, ignore_errors=True)
        runs = []
        for _ in ("cold", "warm"):
            start, cpu = time.perf_counter(), time.process_time()
            repo_map = RepoMap.build(root, cache_dir=cache_dir)
            text = repo_map.render(tokens=budget)
            runs.append((repo_map, text, time.perf_counter() - start, time.process_time() - cpu))
        (_, cold_text, cold, cold_cpu), (warm_map, warm_text, warm, warm_cpu) = runs
        results.append(
            {
                "budget": budget,
                "text": cold_text,
                "estimate": estimate_tokens(cold_text),
                "same_when_warm": warm_text == cold_text,
                "cold_s": cold,
                "warm_s": warm,
                "cold_cpu_s": cold_cpu,
                "warm_cpu_s": warm_cpu,
                "stats": msgspec.to_builtins(getattr(warm_map, "stats", None)),
            }
        )
        if job.get("overview_tokens") and overview is None:
            start = time.perf_counter()
            text = warm_map.overview(tokens=job["overview_tokens"])
            overview = {
                "text": text,
                "estimate": estimate_tokens(text),
                "seconds": time.perf_counter() - start,
            }
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump({"results": results, "overview": overview, "maxrss_kb": maxrss}, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Child of `bench_map.py`, run by the Python of the benchmark's own aider-chat venv (never the
project's): Aider's repository map over a corpus, or exact cl100k counts of texts.

Reads one JSON job on stdin, writes one JSON result on stdout (everything Aider prints goes to
stderr). Jobs:
  {"mode": "map", "root": ..., "files": [...], "budgets": [...], "cache_dir": ...}
  {"mode": "count", "texts": [...]}
The encoder is tiktoken's cl100k_base read from litellm's bundled files (`TIKTOKEN_CACHE_DIR`
set by the parent), so nothing is downloaded.

Aider's tree-sitter captures come back in an order that varies run to run (tree-sitter 0.25), and
its tag loop depends on that order, so the captures are sorted here: the map is then the same run
to run. Its own map code is otherwise untouched.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from typing import Any


def _encoder() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


class _Cl100kModel:
    """The one part of Aider's `Model` that RepoMap uses: `token_count(text)`."""

    def __init__(self) -> None:
        self._enc = _encoder()

    def token_count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))


class _QuietIO:
    """The part of Aider's `InputOutput` that RepoMap uses, without a terminal."""

    def read_text(self, filename: str, silent: bool = False) -> str | None:
        try:
            with open(filename, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None

    def tool_output(self, *args: object, **kwargs: object) -> None:
        pass

    def tool_warning(self, *args: object, **kwargs: object) -> None:
        pass

    def tool_error(self, *args: object, **kwargs: object) -> None:
        pass


def _sorted_captures(original: Any) -> Any:
    def run(self: Any, query: Any, node: Any) -> dict[str, list[Any]]:
        captures = original(self, query, node)
        return {
            name: sorted(captures[name], key=lambda n: (n.start_byte, n.end_byte))
            for name in sorted(captures)
        }

    return run


def run_map(job: dict[str, Any]) -> dict[str, Any]:
    import networkx  # noqa: F401  (imported lazily by Aider: kept out of the timing)
    from aider.repomap import RepoMap

    RepoMap._run_captures = _sorted_captures(RepoMap._run_captures)
    # An absolute path joined to the root is that path: Aider's cache stays out of the corpus.
    RepoMap.TAGS_CACHE_DIR = job["cache_dir"]
    model, io = _Cl100kModel(), _QuietIO()
    results = []
    for budget in job["budgets"]:
        shutil.rmtree(job["cache_dir"], ignore_errors=True)
        runs = []
        for _ in ("cold", "warm"):  # a new RepoMap each time: only the disk cache carries over
            start, cpu = time.perf_counter(), time.process_time()
            repo_map = RepoMap(
                map_tokens=budget, root=job["root"], main_model=model, io=io, refresh="always"
            )
            text = repo_map.get_ranked_tags_map([], job["files"], max_map_tokens=budget) or ""
            runs.append((text, time.perf_counter() - start, time.process_time() - cpu))
        (cold_text, cold, cold_cpu), (warm_text, warm, warm_cpu) = runs
        results.append(
            {
                "budget": budget,
                "text": cold_text,
                "same_when_warm": warm_text == cold_text,
                "cold_s": cold,
                "warm_s": warm,
                "cold_cpu_s": cold_cpu,
                "warm_cpu_s": warm_cpu,
            }
        )
    return {"results": results, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def run_count(job: dict[str, Any]) -> dict[str, Any]:
    model = _Cl100kModel()
    return {"counts": [model.token_count(text) for text in job["texts"]]}


def main() -> int:
    job = json.load(sys.stdin)
    out = sys.stdout
    sys.stdout = sys.stderr  # Aider's spinner and tqdm must not mix into the JSON
    try:
        result = run_map(job) if job["mode"] == "map" else run_count(job)
    finally:
        sys.stdout = out
    json.dump(result, out)
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

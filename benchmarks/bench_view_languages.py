"""The views benchmark's per-language table (every language but Python), over real corpora.

Each corpus is what this machine has or can install, gathered once into a cache folder
(`~/.cache/slop-tui-bench/corpus`) or read where a Debian package put it:
  TypeScript  npm `rxjs` (its `src/`) and `@types/node`, `npm pack`ed into the cache
  JavaScript  npm's own sources (/usr/lib/node_modules/npm)
  Go          golang-golang-x-text-dev (/usr/share/gocode)
  Rust        librust-serde-dev, librust-regex-dev (/usr/share/cargo/registry)
  Java        the JDK's src.zip (java.base), unpacked into the cache
  C           every `.c` file under /usr (examples, numpy's checks, ...)
  C++         /usr/include (`.h` parsed as C++)
  C#          pythonnet's sdist from PyPI (its C# runtime, `src/runtime/*.cs`), unpacked into the cache
  PHP         the App Engine PHP SDK inside google-cloud-sdk
  Ruby        Ruby's standard library (libruby3.1, /usr/lib/ruby/3.1.0)
A language with no files prints `no corpus` and fails the benchmark.

Per language: files and MB; skeleton throughput (parse + walk) against that grammar's parse
alone, CPU time, each file's best of `ROUNDS` interleaved file by file (target >= 0.85 x);
skeleton/raw tokens; and the share of files that parse clean whose skeleton and curated views both parse clean and keep every definition the
grammar's tags query finds outside function bodies (target 100 %). Each corpus is capped at
`CAP_BYTES` (files in sorted order) so the table runs in a minute or two on a shared machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slop_tui.memory.brace_languages import BraceRules  # noqa: E402
from slop_tui.memory.brace_tags import definition_names  # noqa: E402
from slop_tui.memory.brace_views import view_of_tree  # noqa: E402
from slop_tui.memory.parsers import parse, parser_for  # noqa: E402
from slop_tui.memory.languages import rules_for_path  # noqa: E402
from slop_tui.tokens import estimate_tokens  # noqa: E402

CACHE = Path(os.environ.get("SLOP_BENCH_CORPUS", Path.home() / ".cache/slop-tui-bench/corpus"))
CAP_BYTES = 4_000_000
ROUNDS = 5
MAX_FILE = 1_000_000
_SKIPPED_PARTS = frozenset({"test", "tests", "testdata", "__pycache__", ".git"})


def _walk(root: Path | str, suffixes: tuple[str, ...], *, skip_tests: bool = True) -> list[Path]:
    found: list[Path] = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not (skip_tests and d in _SKIPPED_PARTS))
        for name in sorted(names):
            if name.endswith(suffixes) and not name.endswith((".min.js", ".bundle.js")):
                found.append(Path(directory) / name)
    return found


def _npm(packages: Iterable[str], into: Path) -> None:
    """`npm pack` packages into the cache once (the only step that needs the network)."""
    npm = shutil.which("npm")
    if npm is None:
        return
    into.mkdir(parents=True, exist_ok=True)
    for package in packages:
        if any(into.glob(f"{package.replace('@', '').replace('/', '-')}-*/")):
            continue
        done = subprocess.run([npm, "pack", package], cwd=into, capture_output=True, text=True)
        if done.returncode != 0:
            continue
        tarball = into / done.stdout.strip().splitlines()[-1]
        folder = into / tarball.name.removesuffix(".tgz")
        folder.mkdir(exist_ok=True)
        subprocess.run(["tar", "xzf", str(tarball), "-C", str(folder)], check=False)


def _sdist(requirement: str, into: Path) -> None:
    """A PyPI source distribution unpacked into the cache once (pythonnet's holds C# sources)."""
    if into.exists():
        return
    download = into.with_name(into.name + ".download")
    shutil.rmtree(download, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", requirement, "--no-binary", ":all:", "--no-deps",
         "-q", "-d", str(download)],
        capture_output=True, text=True,
    )
    archives = sorted(download.glob("*.tar.gz")) if done.returncode == 0 else []
    if archives:
        into.mkdir(parents=True)
        subprocess.run(["tar", "xzf", str(archives[0]), "-C", str(into)], check=False)
    shutil.rmtree(download, ignore_errors=True)


def _java() -> list[Path]:
    target = CACHE / "java"
    if not target.exists():
        zips = sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip"))
        if not zips:
            return []
        with zipfile.ZipFile(zips[0]) as archive:
            for name in archive.namelist():
                if name.startswith("java.base/java/util/") and name.endswith(".java"):
                    archive.extract(name, target)
    return _walk(target, (".java",))


def corpus(language: str) -> list[Path]:
    if language in ("typescript", "tsx"):
        _npm(["rxjs", "@types/node"], CACHE / "ts")
        files = _walk(CACHE / "ts", (".ts",) if language == "typescript" else (".tsx",))
        return [f for f in files if "/dist/" not in str(f)]
    if language == "javascript":
        return _walk("/usr/lib/node_modules/npm", (".js", ".mjs", ".cjs", ".jsx"))
    if language == "go":
        return _walk("/usr/share/gocode", (".go",))
    if language == "rust":
        return _walk("/usr/share/cargo/registry", (".rs",))
    if language == "java":
        return _java()
    if language == "c":
        return _walk("/usr/share/doc", (".c",)) + _walk("/root/.pyenv/versions", (".c",))
    if language == "cpp":
        return _walk("/usr/include", (".h", ".hpp", ".hh", ".hxx"))
    if language == "csharp":
        _sdist("pythonnet==3.2.1", CACHE / "csharp")
        return _walk(CACHE / "csharp", (".cs",))
    if language == "php":
        return _walk("/usr/lib/google-cloud-sdk/platform/google_appengine/php", (".php",))
    if language == "ruby":
        return _walk("/usr/lib/ruby", (".rb",))
    return []


def _capped(files: list[Path], rules: BraceRules) -> list[tuple[Path, bytes]]:
    out: list[tuple[Path, bytes]] = []
    total = 0
    for path in files:
        if rules_for_path(str(path)) is not rules:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) > MAX_FILE or b"\x00" in data:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append((path, data))
        total += len(data)
        if total >= CAP_BYTES:
            break
    return out


def _row(rules: BraceRules) -> tuple[str, bool]:
    sources = _capped(corpus(rules.name), rules)
    if not sources:
        return f"{rules.name:<11} no corpus", False
    parser = parser_for(rules)
    datas = [data for _, data in sources]
    size = sum(map(len, datas))
    # Interleaved file by file, each file's best round counted: on a shared machine the load
    # moves between rounds, and this keeps it from favouring either side.
    best_parse = [float("inf")] * len(datas)
    best_skel = [float("inf")] * len(datas)
    clock = time.process_time_ns
    for _ in range(ROUNDS):
        for i, data in enumerate(datas):
            start = clock()
            parser.parse(data)
            middle = clock()
            view_of_tree(parser.parse(data), data, "skeleton", rules)
            end = clock()
            best_parse[i] = min(best_parse[i], middle - start)
            best_skel[i] = min(best_skel[i], end - middle)
    parse_s = [sum(best_parse) / 1e9]
    skel_s = [sum(best_skel) / 1e9]
    ratio = min(parse_s) / min(skel_s)
    raw_tokens = view_tokens = 0
    clean = good = 0
    failures: list[str] = []
    for path, data in sources:
        tree = parse(data, rules)
        skeleton = view_of_tree(tree, data, "skeleton", rules).text
        raw_tokens += estimate_tokens(data.decode("utf-8"))
        view_tokens += estimate_tokens(skeleton)
        if tree.root_node.has_error:
            continue
        clean += 1
        wanted = Counter(definition_names(data, rules))
        ok = True
        for text in (skeleton, view_of_tree(tree, data, "curated", rules).text):
            encoded = text.encode()
            if parse(encoded, rules).root_node.has_error:
                ok = False
            elif wanted - Counter(definition_names(encoded, rules)):
                ok = False
        good += ok
        if not ok and len(failures) < 3:
            failures.append(str(path))
    share = 100.0 * good / clean if clean else 0.0
    met = ratio >= 0.85 and clean > 0 and good == clean
    line = (
        f"{rules.name:<11} {len(sources):>5} {size / 1e6:>6.2f} {size / 1e6 / min(parse_s):>7.1f}"
        f" {size / 1e6 / min(skel_s):>7.1f} {ratio:>6.2f}x {view_tokens / max(raw_tokens, 1):>6.1%}"
        f" {good:>5}/{clean:<5} {share:>6.1f} %{'' if met else '  UNDER TARGET'}"
    )
    for failure in failures:
        line += f"\n{'':<13}not kept: {failure}"
    return line, met


def language_table() -> int:
    """Print the table; 0 when every language met its targets, else 1."""
    from slop_tui.memory.brace_languages import BRACE_LANGUAGES

    print(
        f"\n{'language':<11} {'files':>5} {'MB':>6} {'parse':>7} {'skel':>7} {'ratio':>7}"
        f" {'tokens':>6} {'views ok':>11} {'share':>8}"
    )
    print(f"{'':<11} {'':>5} {'':>6} {'MB/s':>7} {'MB/s':>7} {'':>7} {'sk/raw':>6}")
    all_met = True
    for rules in BRACE_LANGUAGES:
        line, met = _row(rules)
        print(line, flush=True)
        all_met = all_met and met
    print("languages: " + ("all targets met" if all_met else "SOME UNDER TARGET or no corpus"))
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(language_table())

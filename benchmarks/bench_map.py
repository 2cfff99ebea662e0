"""slop's repository map against Aider's (aider-chat 0.86.2) at the same token budgets.

Corpora: requests 2.34.2, httpx 0.29.0, rich 15.0.0 (pinned wheels, `pip download --no-deps`),
`email` and `asyncio` from the running Python's standard library; budgets 1,024, 4,096 and 8,192.
Aider runs in its own virtual environment, made by this script on its first run under the user
cache folder (never a dependency of the project), through `map_driver_aider.py`: its `RepoMap`
with no chat files over every corpus file, counting tokens with cl100k_base (tiktoken reading
litellm's bundled encoding: nothing is downloaded), its tree-sitter captures sorted and its hash
seed fixed so that its map is the same run to run. slop's side (`map_driver_slop.py`) is `RepoMap.build(...).render()`.

Per corpus and budget, computed here from the code with `ast`, independently of either map:
  coverage    share of module- and class-level `def`/`class` names whose definition line (keyword
              and name) is in that file's section of the map
  central-10  of the 10 classes named from the most *other* files (imported or attribute-accessed),
              how many have their `class` line in their file's section
  tokens      exact cl100k tokens of the whole map text, both maps through the same encoder
  cold, warm  build + render seconds (wall) with an empty cache, then again with the cache left
Targets, every cell: coverage >= 2 x Aider's (or 100 %), central-10 >= Aider's, exact tokens
<= 1.05 x budget. Then the Django 5.2 sdist (~6,900 files): the Tier 1 overview at 4,096 tokens
and whether it lists django/db, django/http, django/contrib, django/forms with at least one of
each folder's 5 most imported classes (imports of that folder's modules, resolved with `ast`),
map cold build against Aider's (target <= 1 x), warm <= 10 % of cold, peak memory of each child.

Figures go to stdout and to `bench_map_figures.md` in the cache folder (and to the file named by
`--figures`). Not part of the test suite: it downloads, installs and takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from map_truth import Score, ground_truth, score, sections  # noqa: E402

HERE = Path(__file__).resolve().parent
AIDER = "aider-chat==0.86.2"
PINS = {"requests": "2.34.2", "httpx": "0.29.0", "rich": "15.0.0"}
STDLIB = ("email", "asyncio")
DJANGO = ("Django", "5.2")
BUDGETS = (1024, 4096, 8192)
DJANGO_BUDGET = 4096
DJANGO_FOLDERS = ("django/db", "django/http", "django/contrib", "django/forms")
TOKEN_SLACK = 1.05
CHILD_TIMEOUT = 3600

def say(message: str) -> None:
    print(f"bench_map: {message}", file=sys.stderr, flush=True)


# --- setup: Aider's venv and the corpora, cached across runs -------------------------------


def aider_python(cache: Path) -> Path:
    venv = cache / "aider-venv"
    python = venv / "bin" / "python"
    probe = "import importlib.metadata as m, aider.repomap; print(m.version('aider-chat'))"
    if python.exists():
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == AIDER.split("==")[1]:
            return python
    say(f"first run: installing {AIDER} into {venv} (its own venv, a few minutes, only once)")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", AIDER], check=True)
    return python


def tokenizer_dir(python: Path) -> str:
    """litellm's bundled tiktoken files (cl100k_base among them), found without importing it."""
    code = (
        "import importlib.util, os; s = importlib.util.find_spec('litellm');"
        "print(os.path.join(os.path.dirname(s.origin), 'litellm_core_utils', 'tokenizers'))"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def download(cache: Path, name: str, version: str, *, sdist: bool = False) -> tuple[Path, str]:
    """The pinned distribution file (or the closest version there is, said aloud)."""
    folder = cache / "dist"
    folder.mkdir(parents=True, exist_ok=True)
    found = _downloaded(folder, name, version)
    if found is None:
        if not _pip_download(folder, name, version, sdist):
            closest = closest_version(name, version)
            say(f"{name} {version} is not on the registry: using the closest, {closest}")
            version = closest
            _pip_download(folder, name, version, sdist)
        found = _downloaded(folder, name, version)
    if found is None:
        raise SystemExit(f"bench_map: cannot download {name} {version}")
    return found, version


def _downloaded(folder: Path, name: str, version: str) -> Path | None:
    stem = f"{name}-{version}".lower()
    for path in sorted(folder.iterdir()):
        lowered = path.name.lower()
        if lowered.startswith(stem + "-") or lowered == stem + ".tar.gz":
            return path
    return None


def _pip_download(folder: Path, name: str, version: str, sdist: bool) -> bool:
    say(f"downloading {name}=={version}")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder)]
    command += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    return subprocess.run([*command, f"{name}=={version}"], capture_output=True).returncode == 0


def closest_version(name: str, version: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", name], capture_output=True, text=True
    )
    match = re.search(r"Available versions: (.*)", done.stdout)
    if not match:
        raise SystemExit(f"bench_map: no versions of {name} on the registry")

    def key(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

    target = key(version)
    return min(
        (v.strip() for v in match.group(1).split(",")),
        key=lambda v: sum(
            abs(a - b) * 1000 ** (2 - i)
            for i, (a, b) in enumerate(zip(key(v), target))
        ),
    )


def wheel_corpus(cache: Path, name: str, version: str) -> tuple[Path, str]:
    wheel, version = download(cache, name, version)
    root = cache / "corpora" / f"{name}-{version}"
    if not root.exists():
        staging = root.with_suffix(".part")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(f"{name}/")]
            archive.extractall(staging, members)
        staging.rename(root)
    return root, version


def stdlib_corpus(cache: Path, package: str) -> tuple[Path, str]:
    version = ".".join(map(str, sys.version_info[:3]))
    root = cache / "corpora" / f"stdlib-{version}-{package}"
    if not root.exists():
        source = Path(sysconfig.get_paths()["stdlib"]) / package
        shutil.copytree(source, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root, f"stdlib {version}"


def django_corpus(cache: Path) -> tuple[Path, str]:
    sdist, version = download(cache, *DJANGO, sdist=True)
    root = cache / "corpora" / f"Django-{version}"
    if not root.exists():
        staging = cache / "corpora" / "django.part"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(sdist) as archive:
            archive.extractall(staging, filter="data")
        (top,) = list(staging.iterdir())  # the sdist's one top folder, Django-5.2
        top.rename(root)
        shutil.rmtree(staging, ignore_errors=True)
    return root, version


def corpus_files(root: Path) -> list[str]:
    return sorted(
        str(path) for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


# --- the children --------------------------------------------------------------------------


def run_child(python: Path | str, script: str, job: dict[str, Any], env: dict[str, str]) -> Any:
    done = subprocess.run(
        [str(python), str(HERE / script)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=CHILD_TIMEOUT,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"bench_map: {script} failed ({done.returncode}):\n{tail}")
    return json.loads(done.stdout)


@dataclass
class Cell:
    corpus: str
    budget: int
    aider: dict[str, Any]
    slop: dict[str, Any]
    aider_score: Score | None = None
    slop_score: Score | None = None
    aider_tokens: int = 0
    slop_tokens: int = 0
    central: list[str] = field(default_factory=list)

    def checks(self) -> dict[str, bool]:
        assert self.aider_score and self.slop_score
        a, s = self.aider_score, self.slop_score
        return {
            "coverage": s.coverage >= min(2 * a.coverage, 1.0) - 1e-9,
            "central": s.central_hits >= a.central_hits,
            "tokens": self.slop_tokens <= TOKEN_SLACK * self.budget,
        }


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def table(cells: list[Cell]) -> list[str]:
    lines = [
        "| corpus | budget | coverage Aider / slop | central-10 Aider / slop "
        "| exact tokens Aider / slop (slop estimate) | cold s Aider / slop | warm s Aider / slop "
        "| result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in cells:
        a, s = cell.aider, cell.slop
        assert cell.aider_score and cell.slop_score
        checks = cell.checks()
        failed = [name for name, ok in checks.items() if not ok]
        lines.append(
            f"| {cell.corpus} | {cell.budget:,} "
            f"| {pct(cell.aider_score.coverage)} / {pct(cell.slop_score.coverage)} "
            f"| {cell.aider_score.central_hits} / {cell.slop_score.central_hits} "
            f"| {cell.aider_tokens:,} / {cell.slop_tokens:,} ({s['estimate']:,}) "
            f"| {a['cold_s']:.2f} / {s['cold_s']:.2f} | {a['warm_s']:.2f} / {s['warm_s']:.2f} "
            f"| {'PASS' if not failed else 'FAIL: ' + ', '.join(failed)} |"
        )
    return lines


def save_map(cache: Path, name: str, budget: int, text: str) -> None:
    """Each map as it was measured, for a person to read: <cache>/maps/<name>-<budget>.txt."""
    folder = cache / "maps"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}-{budget}.txt").write_text(text)


def count_tokens(python: Path, env: dict[str, str], texts: list[str]) -> list[int]:
    job = {"mode": "count", "texts": texts}
    return list(run_child(python, "map_driver_aider.py", job, env)["counts"])


def bench_corpus(
    name: str, root: Path, budgets: tuple[int, ...], python: Path, env: dict[str, str], cache: Path
) -> list[Cell]:
    files = corpus_files(root)
    say(f"{name}: {len(files)} files; Aider's map")
    aider = run_child(
        python,
        "map_driver_aider.py",
        {"mode": "map", "root": str(root), "files": files, "budgets": list(budgets),
         "cache_dir": str(cache / "aider-tags" / name)},
        env,
    )
    say(f"{name}: slop's map")
    slop = run_child(
        sys.executable,
        "map_driver_slop.py",
        {"root": str(root), "budgets": list(budgets), "cache_dir": str(cache / "slop-tags" / name)},
        {"PYTHONPATH": str(HERE.parent)},
    )
    truth = ground_truth(root)
    cells = [Cell(name, a["budget"], a, s) for a, s in zip(aider["results"], slop["results"])]
    texts = [text for cell in cells for text in (cell.aider["text"], cell.slop["text"])]
    counts = count_tokens(python, env, texts)
    for i, cell in enumerate(cells):
        cell.aider_score = score(cell.aider["text"], truth)
        cell.slop_score = score(cell.slop["text"], truth)
        cell.aider_tokens, cell.slop_tokens = counts[2 * i], counts[2 * i + 1]
        cell.central = [name for name, _, _ in truth.central[:10]]
        save_map(cache, f"{name}-aider", cell.budget, cell.aider["text"])
        save_map(cache, f"{name}-slop", cell.budget, cell.slop["text"])
        for side, result in (("Aider", cell.aider), ("slop", cell.slop)):
            if not result["same_when_warm"]:
                say(f"warning: {side}'s warm map differs from its cold map ({name}, {cell.budget})")
    return cells


def listed_folders(text: str) -> set[str]:
    """Folders an overview lists: lines `name/ ...`, a deeper one either spelled out whole
    (`django/db/`) or indented under its parent (`  db/` under `django/`)."""
    found: set[str] = set()
    stack: list[tuple[int, str]] = []
    for match in re.finditer(r"(?m)^( *)([\w.\-/]+?)/(?=[\s:(,]|$)", text):
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = f"{stack[-1][1]}/{name}" if stack and "/" not in name else name
        found.add(path)
        stack.append((indent, path))
    return found


def django_report(root: Path, python: Path, env: dict[str, str], cache: Path) -> list[str]:
    files = corpus_files(root)
    say(f"Django: {len(files)} files; Aider's map (its cold build takes a while)")
    aider = run_child(
        python,
        "map_driver_aider.py",
        {"mode": "map", "root": str(root), "files": files, "budgets": [DJANGO_BUDGET],
         "cache_dir": str(cache / "aider-tags" / "django")},
        env,
    )
    say("Django: slop's map and overview")
    slop = run_child(
        sys.executable,
        "map_driver_slop.py",
        {"root": str(root), "budgets": [DJANGO_BUDGET],
         "cache_dir": str(cache / "slop-tags" / "django"), "overview_tokens": DJANGO_BUDGET},
        {"PYTHONPATH": str(HERE.parent)},
    )
    a, s, overview = aider["results"][0], slop["results"][0], slop["overview"]
    overview_tokens, aider_tokens, slop_tokens = count_tokens(
        python, env, [overview["text"], a["text"], s["text"]]
    )
    truth = ground_truth(root, with_definitions=False, qualified=True)
    known = {path.relative_to(root).as_posix() for path in root.rglob("*.py")}
    shown = sections(overview["text"], known)
    save_map(cache, "django-overview-slop", DJANGO_BUDGET, overview["text"])
    save_map(cache, "django-aider", DJANGO_BUDGET, a["text"])
    save_map(cache, "django-slop", DJANGO_BUDGET, s["text"])
    lines = [
        f"Django {DJANGO[1]} sdist, {len(files):,} files, budget {DJANGO_BUDGET:,}:",
        f"- Tier 1 overview: {overview_tokens:,} exact tokens (estimate {overview['estimate']:,}), "
        f"{len(shown)} file sections; target <= {int(TOKEN_SLACK * DJANGO_BUDGET):,}: "
        f"{'PASS' if overview_tokens <= TOKEN_SLACK * DJANGO_BUDGET else 'FAIL'}",
    ]
    for folder in DJANGO_FOLDERS:
        listed = folder in listed_folders(overview["text"])
        central = truth.folder_central(folder, top=5)
        here = {rel: defs for rel, defs in shown.items() if rel.startswith(folder + "/")}
        hits = [name for name in central if any(("class", name) in defs for defs in here.values())]
        with_defs = sum(1 for defs in here.values() if defs)
        ok = listed and bool(hits)
        lines.append(
            f"- {folder}: listed {'yes' if listed else 'no'}, {with_defs} file sections with "
            f"definitions, its 5 most imported classes shown {len(hits)}/5 ({', '.join(central)}"
            f"{'; shown: ' + ', '.join(hits) if hits else ''}): {'PASS' if ok else 'FAIL'}"
        )
    ratio = s["cold_s"] / a["cold_s"] if a["cold_s"] else float("inf")
    warm_share = s["warm_s"] / s["cold_s"] if s["cold_s"] else 0.0
    cpu_share = s["warm_cpu_s"] / s["cold_cpu_s"] if s["cold_cpu_s"] else 0.0
    lines += [
        f"- map build cold: slop {s['cold_s']:.2f} s (CPU {s['cold_cpu_s']:.2f}) vs Aider "
        f"{a['cold_s']:.2f} s (CPU {a['cold_cpu_s']:.2f}): {ratio:.2f} x; target <= 1: "
        f"{'PASS' if ratio <= 1 else 'FAIL'}",
        f"- map build warm: slop {s['warm_s']:.2f} s = {100 * warm_share:.1f} % of its cold; "
        f"target <= 10 %: {'PASS' if warm_share <= 0.10 else 'FAIL'} (by CPU time "
        f"{s['warm_cpu_s']:.2f} s = {100 * cpu_share:.1f} %; Aider warm {a['warm_s']:.2f} s)",
        f"- map at {DJANGO_BUDGET:,}: exact tokens slop {slop_tokens:,} "
        f"(estimate {s['estimate']:,}), "
        f"Aider {aider_tokens:,}",
        f"- peak memory (max RSS of the child, imports included): slop "
        f"{slop['maxrss_kb'] / 1024:.0f} MiB, Aider {aider['maxrss_kb'] / 1024:.0f} MiB",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench_map.py",
        description="slop's repository map against Aider 0.86.2's: coverage, central-10, exact "
        "tokens, build times; then the Django 5.2 overview and build. Downloads Aider into its "
        "own cached venv and the pinned corpora on first run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one corpus (requests), 4,096 tokens, no Django"
    )
    parser.add_argument("--no-django", action="store_true", help="skip the Django tree")
    parser.add_argument("--corpus", action="append", help="only this corpus (repeatable)")
    parser.add_argument("--figures", type=Path, help="also write the figures (Markdown) here")
    args = parser.parse_args(argv)

    cache = Path(platformdirs.user_cache_dir("slop-tui-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    python = aider_python(cache)
    # Aider ranks through sets of identifier strings: without a fixed hash seed its map changes
    # from one process to the next even with its captures sorted.
    env = {"TIKTOKEN_CACHE_DIR": tokenizer_dir(python), "PYTHONHASHSEED": "0"}
    budgets = (4096,) if args.quick else BUDGETS
    wanted = ["requests"] if args.quick else (args.corpus or [*PINS, *STDLIB])

    corpora: list[tuple[str, Path, str]] = []
    for name in wanted:
        if name in PINS:
            root, version = wheel_corpus(cache, name, PINS[name])
        elif name in STDLIB:
            root, version = stdlib_corpus(cache, name)
        else:
            raise SystemExit(f"bench_map: unknown corpus {name!r}")
        corpora.append((name, root, version))

    started = time.time()
    cells: list[Cell] = []
    for name, root, _ in corpora:
        cells += bench_corpus(name, root, budgets, python, env, cache)
    out = [
        f"# bench_map figures ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
        f"{os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}, {AIDER})",
        "",
        "Corpora: " + ", ".join(f"{name} {version}" for name, _, version in corpora) + ".",
        "Targets per cell: coverage >= 2 x Aider's (or 100 %), central-10 >= Aider's, exact "
        f"cl100k tokens <= {TOKEN_SLACK} x budget. Times are wall seconds (build + render).",
        "",
        *table(cells),
        "",
        "Central-10 (from `ast`) and which each map shows:",
    ]
    for cell in cells:
        assert cell.aider_score and cell.slop_score
        if cell.budget == budgets[0]:
            out.append(f"- {cell.corpus} central-10: {', '.join(cell.central)}")
        out.append(
            f"- {cell.corpus} {cell.budget:,}: "
            f"Aider [{', '.join(cell.aider_score.central_names)}]; "
            f"slop [{', '.join(cell.slop_score.central_names)}]"
        )
    django_lines: list[str] = []
    if not (args.quick or args.no_django or args.corpus):
        root, _ = django_corpus(cache)
        django_lines = django_report(root, python, env, cache)
        out += ["", *django_lines]
    failed = [c for c in cells if not all(c.checks().values())]
    summary = f"{len(cells) - len(failed)} of {len(cells)} cells pass"
    if django_lines:
        verdicts = re.findall(r": (PASS|FAIL)\b", "\n".join(django_lines))
        summary += f"; Django {verdicts.count('PASS')} of {len(verdicts)} checks pass"
    out += ["", f"{summary}; run took {time.time() - started:.0f} s."]
    text = "\n".join(out) + "\n"
    print(text)
    (cache / "bench_map_figures.md").write_text(text)
    if args.figures:
        args.figures.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

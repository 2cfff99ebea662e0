"""The repository map: ranking, personalization, the exact budget, the cache, bad input, and
the output contract, on real files in temporary folders (and a real git repository)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from slop_tui.memory.repo_map import RepoMap, map_files
from slop_tui.tokens import estimate_tokens

_OLD = time.time() - 3600  # older than the cache's racy window: the stat alone is trusted


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, (_OLD, _OLD))


def sections(text: str) -> list[str]:
    """The files of a map, in order (their unindented `path:` lines)."""
    return [line[:-1] for line in text.splitlines() if line and not line[0].isspace() and line.endswith(":")]


def build(root: Path, tmp_path: Path) -> RepoMap:
    return RepoMap.build(root, cache_dir=tmp_path / "cache")


def hub_repo(root: Path) -> None:
    """`core.py` imported by five modules; `leaf.py` imported by none."""
    files = {
        "pkg/__init__.py": "",
        "pkg/core.py": "class Engine:\n    def start(self, speed=3):\n        pass\n\ndef helper(x):\n    return x\n",
        "pkg/leaf.py": "class Lonely:\n    def wander(self):\n        pass\n\ndef stray(a, b):\n    pass\n",
    }
    for n in range(5):
        files[f"pkg/user{n}.py"] = f"from pkg.core import Engine\n\ndef use{n}():\n    return Engine()\n"
    write(root, files)


def generated_repo(root: Path, modules: int = 60) -> None:
    files: dict[str, str] = {"app/__init__.py": ""}
    for n in range(modules):
        body = [f"from app import mod{(n * 7) % modules} as other\n", f"LIMIT_{n} = {n}\n"]
        body.append(f"class Thing{n}(Base{n % 3}):\n")
        for m in range(6):
            body.append(f"    def method_{m}(self, value, *, flag=False, **rest):\n        return other\n")
        body.append(f"    def _hidden_{n}(self):\n        pass\n")
        body.append(f"def function_{n}(alpha, beta=2, *args):\n    return Thing{(n + 1) % modules}\n")
        body.append(f"async def fetch_{n}(url):\n    pass\n")
        files[f"app/mod{n}.py"] = "".join(body)
    write(root, files)


# --- ranking and personalization -----------------------------------------------------------


def test_a_module_imported_by_many_ranks_above_a_leaf(tmp_path: Path) -> None:
    hub_repo(tmp_path / "repo")
    repo_map = build(tmp_path / "repo", tmp_path)
    order = sections(repo_map.render(tokens=4000))
    assert order[0] == "pkg/core.py"
    assert order.index("pkg/core.py") < order.index("pkg/leaf.py")
    # With room for little, the hub is what is shown first.
    assert sections(repo_map.render(tokens=30))[0] == "pkg/core.py"


def test_focus_puts_the_named_file_and_its_neighbours_first(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        {
            "lib/__init__.py": "",
            "lib/models/__init__.py": "",
            "lib/models/query.py": "from lib.models.sql import Compiler\n\nclass QuerySet:\n    def filter(self, *args, **kwargs):\n        return Compiler()\n",
            "lib/models/sql.py": "class Compiler:\n    def compile(self, node):\n        pass\n",
            "lib/core.py": "class Hub:\n    pass\n",
            **{f"lib/use{n}.py": f"from lib.core import Hub\n\ndef go{n}():\n    return Hub()\n" for n in range(6)},
        },
    )
    repo_map = build(root, tmp_path)
    assert sections(repo_map.render(tokens=4000))[0] == "lib/core.py"  # unfocused: the hub
    focused = sections(repo_map.render(tokens=4000, focus=["Speed up lib/models/query.py, please."]))
    assert focused[:2] == ["lib/models/query.py", "lib/models/sql.py"]
    # A dotted module name and a class name work too; targets as well.
    assert sections(repo_map.render(tokens=4000, focus=["in lib.models.sql"]))[0] == "lib/models/sql.py"
    assert sections(repo_map.render(tokens=4000, focus=["the Compiler class"]))[0] == "lib/models/sql.py"
    assert sections(repo_map.render(tokens=4000, targets=["lib/models/sql.py"]))[0] == "lib/models/sql.py"
    # A path that starts with the root folder's own name still names the file.
    assert sections(repo_map.render(tokens=4000, focus=[f"{root.name}/lib/models/sql.py"]))[0] == "lib/models/sql.py"
    # `Class.method` brings that method in early, before other files' lines.
    tight = repo_map.render(tokens=40, focus=["make Compiler.compile faster"])
    assert "    def compile(self, node)" in tight and sections(tight)[0] == "lib/models/sql.py"


def test_a_path_in_the_focus_never_matches_inside_another_name(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        {
            "a.py": "def alpha():\n    pass\n",
            "data.py": "def load():\n    pass\n",
            "metadata.py": "def meta():\n    pass\n",
            "pkg/a.py": "def other_alpha():\n    pass\n",
            "core.py": "def hub():\n    pass\n",
            **{f"u{n}.py": "from core import hub\n" for n in range(4)},
        },
    )
    repo_map = build(root, tmp_path)
    order = sections(repo_map.render(tokens=4000, focus=["Fix a.py now"]))
    assert order[0] == "a.py"
    # `data.py` and `metadata.py` end in "a.py" but are other files: no boost above the hub.
    assert order.index("data.py") > order.index("core.py")
    assert order.index("metadata.py") > order.index("core.py")
    # `pkg/a.py` is named exactly, so it comes first; the root `a.py` is not boosted.
    order = sections(repo_map.render(tokens=4000, focus=["see pkg/a.py"]))
    assert order[0] == "pkg/a.py" and order.index("a.py") > order.index("core.py")


def test_related_leaves_out_the_given_files_and_shows_what_they_use(tmp_path: Path) -> None:
    hub_repo(tmp_path / "repo")
    repo_map = build(tmp_path / "repo", tmp_path)
    text = repo_map.related(["pkg/user0.py"], tokens=300)
    assert "pkg/user0.py" not in sections(text)
    assert sections(text)[0] == "pkg/core.py"
    assert estimate_tokens(text) <= 300


# --- the budget ------------------------------------------------------------------------------


def test_everything_fits_the_budget_from_200_to_50000_tokens(tmp_path: Path) -> None:
    generated_repo(tmp_path / "repo")
    repo_map = build(tmp_path / "repo", tmp_path)
    previous = 0
    for budget in (200, 201, 250, 333, 500, 777, 1000, 1500, 2048, 3000, 4096, 8192, 12000, 50000):
        text = repo_map.render(tokens=budget)
        used = estimate_tokens(text)
        assert used <= budget, budget
        assert used >= previous  # a bigger budget never shows less
        previous = used
        if budget < 4096:
            assert re.search(r"^… [\d,]+ more files? not shown$", text, re.MULTILINE), budget
            assert used >= budget * 0.85, budget  # the budget is used, not left idle
        assert estimate_tokens(repo_map.overview(tokens=budget)) <= budget
        assert estimate_tokens(repo_map.related(["app/mod3.py"], tokens=budget)) <= budget
        assert estimate_tokens(repo_map.render(tokens=budget, focus=["app/mod7.py Thing9"])) <= budget
    assert "more files not shown" not in repo_map.render(tokens=50000)
    for tiny in (0, 1, 5, 12):
        assert estimate_tokens(repo_map.render(tokens=tiny)) <= tiny


def test_top_level_definitions_come_before_methods_across_files(tmp_path: Path) -> None:
    generated_repo(tmp_path / "repo")
    repo_map = build(tmp_path / "repo", tmp_path)
    text = repo_map.render(tokens=1000)
    shown_files = sections(text)
    assert len(shown_files) >= 5  # breadth first: the top files' classes, not one file's methods
    assert "    def method_" not in text  # no method yet at this budget
    wide = repo_map.render(tokens=50000)
    assert "    def method_0(self, value, *, flag=…, **rest)" in wide


# --- the output contract -------------------------------------------------------------------


def test_output_contract(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        {
            "rich/console.py": (
                "from typing import Any\n"
                "WIDTH: int = 80\n"
                "class Base:\n    pass\n"
                "class Console(Base, metaclass=Meta):\n"
                "    def _private(self):\n        pass\n"
                "    def print(self, *objects: Any, sep: str = ' ', end: str = '\\n') -> None:\n        pass\n"
                "    @property\n    def width(self) -> int:\n        return 1\n"
                "def _helper():\n    pass\n"
                "async def fetch(url: str, *, timeout: float = 1.0) -> bytes:\n"
                "    def inner():\n        pass\n"
                "    return b''\n"
                "def render(renderable, /, width=None):\n    pass\n"
            ),
        },
    )
    text = build(root, tmp_path).render(tokens=5000)
    lines = text.splitlines()
    assert lines[0] == "rich/console.py:"
    body = lines[1:]
    assert all(line.startswith("  ") for line in body)
    assert "  class Console(Base, metaclass=…):" in body
    assert "    def print(self, *objects, sep=…, end=…)" in body
    assert "  async def fetch(url, *, timeout=…)" in body
    assert "  def render(renderable, width=…)" in body
    assert "inner" not in text and "Any" not in text and "->" not in text  # no annotations
    # Public before private at each level; methods indented under their class.
    assert body.index("  def _helper()") > body.index("  def render(renderable, width=…)")
    console = body.index("  class Console(Base, metaclass=…):")
    assert body.index("    def print(self, *objects, sep=…, end=…)") == console + 1
    assert body.index("    def _private(self)") > body.index("    def width(self)")


def test_a_nested_classs_members_are_shown_under_its_dotted_name(tmp_path: Path) -> None:
    # httpx's `Cookies._CookieCompatRequest.add_unredirected_header`: a method of a class in a
    # class is API too (the benchmark counts it); a class inside a function is not.
    root = tmp_path / "repo"
    write(
        root,
        {
            "cookies.py": (
                "class Cookies:\n"
                "    def set(self, name, value):\n        pass\n"
                "    class _Request:\n"
                "        def add_unredirected_header(self, key, value):\n            pass\n"
                "def factory():\n"
                "    class Local:\n        def hidden(self):\n            pass\n"
                "    return Local\n"
            ),
        },
    )
    body = build(root, tmp_path).render(tokens=5000).splitlines()
    assert "    class _Request:" in body and "    def set(self, name, value)" in body
    nested = body.index("  class Cookies._Request:")
    assert body[nested + 1] == "    def add_unredirected_header(self, key, value)"
    assert not any("hidden" in line or "Local" in line for line in body)


# --- the cache -----------------------------------------------------------------------------


def test_a_second_build_reads_no_unchanged_file_and_rereads_a_changed_one(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    generated_repo(root, modules=20)
    first = build(root, tmp_path)
    assert first.stats.files_read == 21 and first.stats.files_parsed == 21
    second = build(root, tmp_path)
    assert second.stats.files_read == 0 and second.stats.cache_hits == 21
    assert second.render(tokens=3000) == first.render(tokens=3000)

    changed = root / "app/mod4.py"
    changed.write_text(changed.read_text() + "def brand_new(x):\n    pass\n")
    os.utime(changed, (_OLD + 10, _OLD + 10))
    third = build(root, tmp_path)
    assert third.stats.files_read == 1 and third.stats.files_parsed == 1
    assert "def brand_new(x)" in third.render(tokens=50000)

    # Same bytes under a new mtime (a checkout): read and hashed, not parsed again.
    os.utime(changed, (_OLD + 20, _OLD + 20))
    fourth = build(root, tmp_path)
    assert fourth.stats.files_read == 1 and fourth.stats.files_parsed == 0


def test_a_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    hub_repo(root)
    expected = build(root, tmp_path).render(tokens=2000)
    for path in (tmp_path / "cache").iterdir():
        path.write_bytes(b"\x93garbage" * 10)
    again = build(root, tmp_path)
    assert again.stats.files_parsed == 8 and again.render(tokens=2000) == expected
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_a_file_modified_just_now_is_checked_again(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {"m.py": "def a():\n    pass\n"})
    os.utime(root / "m.py")  # now: inside the racy window
    build(root, tmp_path)
    # Same size, same mtime a coarse file system would report, new content: still seen.
    (root / "m.py").write_text("def b():\n    pass\n")
    assert "def b()" in build(root, tmp_path).render(tokens=500)


def test_refresh_retags_the_files_a_ticket_changed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    hub_repo(root)
    repo_map = build(root, tmp_path)
    (root / "pkg/leaf.py").write_text("def renamed(q):\n    pass\n")
    (root / "pkg/new.py").write_text("from pkg.core import Engine\nclass Fresh:\n    pass\n")
    (root / "pkg/user4.py").unlink()
    repo_map.refresh(["pkg/leaf.py", str(root / "pkg/new.py"), "pkg/user4.py"])
    text = repo_map.render(tokens=5000)
    assert "def renamed(q)" in text and "class Fresh:" in text and "def stray" not in text
    assert "pkg/user4.py" not in sections(text)


# --- what the map looks at, and bad input ---------------------------------------------------


def test_map_files_in_git_leaves_out_ignored_vendored_and_minified_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        {
            "src/app.py": "def main():\n    pass\n",
            "src/ignored.py": "def secret():\n    pass\n",
            ".gitignore": "ignored.py\n",
            "node_modules/lib/index.js": "module.exports = 1\n",
            "third_party/dep.py": "def dep():\n    pass\n",
            "web/app.min.js": "var a=1;",
            "web/bundle.js": "var a=1;" * 400,  # one 3,200-character line: minified
            "web/main.js": "function main() {\n  return 1;\n}\n",
            "logo.png": "not really a png",
        },
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    files = map_files(root)
    assert files == [".gitignore", "src/app.py", "web/main.js"]
    # From a sub-folder of the work tree, paths are relative to that folder.
    assert map_files(root / "src") == ["app.py"]


def test_bad_input_never_breaks_the_map(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(
        root,
        {
            "good.py": "class Fine:\n    def ok(self):\n        pass\n",
            "broken.py": "def half(:\n    class Whole:\n  pass\n)))\ndef after(x):\n    pass\n",
            "latin.py": "# -*- coding: latin-1 -*-\ndef caf\u00e9():\n    pass\n",
        },
    )
    (root / "binary.py").write_bytes(b"\x00\x01\x02def x():\x00\xff")
    (root / "bad_utf8.py").write_bytes(b"def f():\n    return '\xff\xfe'\n")
    (root / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop
    (root / "outside.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "elsewhere.py").write_text("def leaked():\n    pass\n")
    (root / "\x1b[31mred.py").write_text("def shown():\n    pass\n")
    repo_map = build(root, tmp_path)
    text = repo_map.render(tokens=2000)
    assert "class Fine:" in text and "def after(x)" in text and "def f()" in text  # bad_utf8.py
    assert "leaked" not in text and not any(path.startswith("loop/") for path in repo_map.files)
    assert "binary.py" not in sections(text)
    assert estimate_tokens(text) <= 2000


def test_fifty_thousand_files(tmp_path: Path) -> None:
    root = tmp_path / "big"
    # One folder of 500 files, then 99 more of hard links to them: 50,000 directory entries,
    # each a regular file as the map sees it, for a fraction of the disk's work of writing
    # 50,000 files (16 s on a busy disk, most of this test's time).
    first = root / "area0" / "part0"
    first.mkdir(parents=True)
    for n in range(498):
        (first / f"note{n}.txt").write_bytes(b"x\n")
    for n in range(2):
        (first / f"m{n}.py").write_bytes(b"def f%d(a):\n    pass\n" % n)
    names = sorted(os.listdir(first))
    for d in range(1, 100):
        folder = root / f"area{d % 10}" / f"part{d}"
        folder.mkdir(parents=True)
        for name in names:
            os.link(first / name, folder / name)
    started = time.perf_counter()
    repo_map = build(root, tmp_path)
    assert repo_map.stats.files == 50_000 and repo_map.stats.tagged_files == 200
    text = repo_map.render(tokens=1000)
    overview = repo_map.overview(tokens=1000)
    assert estimate_tokens(text) <= 1000 and estimate_tokens(overview) <= 1000
    assert "area0/ 5,000 files" in overview
    assert time.perf_counter() - started < 60


def test_overview_lists_folders_by_centrality_with_each_ones_leading_definitions(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    files = {
        "core/__init__.py": "",
        "core/base.py": "class Model:\n    def save(self):\n        pass\n",
        "core/db/__init__.py": "",
        "core/db/query.py": "from core.base import Model\n\nclass QuerySet:\n    pass\n",
        "web/__init__.py": "",
        "web/http.py": "from core.base import Model\n\nclass Request:\n    pass\n",
        "docs/guide.md": "# Guide\n",
        "docs/api/index.md": "# API\n",
    }
    for n in range(30):
        files[f"apps/app{n}.py"] = (
            f"from core.base import Model\nfrom core.db.query import QuerySet\n\nclass Thing{n}(Model):\n"
            + "".join(f"    def method_{m}(self, value):\n        pass\n" for m in range(8))
        )
    write(root, files)
    repo_map = build(root, tmp_path)
    assert "… 1 more folder" in repo_map.overview(tokens=300)  # a tight budget counts the rest
    text = repo_map.overview(tokens=600)
    assert estimate_tokens(text) <= 600
    folders, _, body = text.partition("\nMap:\n")
    assert folders.index("core/ 4 files: python") < folders.index("docs/ 2 files: markdown")
    assert "\n  db/ 2 files: python\n" in folders and "\n  api/ 1 file: markdown\n" in folders
    # Every central folder shows its leading definitions, not only the biggest files.
    assert "class Model:" in body and "class Request:" in body and "class QuerySet:" in body

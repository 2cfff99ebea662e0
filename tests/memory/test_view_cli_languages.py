"""`slop view` over folders of several languages, as a real process: what has a view is
printed, git-ignored, dependency, vendored and minified files are left out, the files without
a view are counted on one stderr line, and an unsupported file is shown raw with a note."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.memory.languages import rules_for_path

REPO_ROOT = Path(__file__).resolve().parents[2]


def slop(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", "view", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
    )


def headers(stdout: bytes) -> list[str]:
    prefix, suffix = "# ==> ", " <=="
    return [
        line[len(prefix) : -len(suffix)]
        for line in stdout.decode().splitlines()
        if line.startswith(prefix)
    ]


def test_a_folder_counts_what_has_no_view_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def run(): pass\n")
    for name in ("README.md", "CHANGES.md", "docs.md"):
        (tmp_path / name).write_text("# notes\n")
    (tmp_path / "data.json").write_text("{}\n")
    (tmp_path / "Makefile").write_text("all:\n")
    done = slop(".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert headers(done.stdout) == [os.path.join(".", "app.py")]
    assert done.stderr.decode().splitlines() == [
        "skipped: 3 .md, 1 .json, 1 without suffix (no view)"
    ]


def test_pyi_and_pyw_files_are_python(tmp_path: Path) -> None:
    (tmp_path / "stubs.pyi").write_text("def typed(x: int) -> str:\n    return str(x)\n")
    (tmp_path / "gui.pyw").write_text("import os\n\nclass Window:\n    def show(self): pass\n")
    done = slop(".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert headers(done.stdout) == [os.path.join(".", "gui.pyw"), os.path.join(".", "stubs.pyi")]
    assert "def typed(x: int) -> str: ...\n" in out
    assert "class Window:\n    def show(self): ...\n" in out
    alone = slop("stubs.pyi", cwd=tmp_path)
    assert alone.stdout == b"def typed(x: int) -> str: ...\n" and alone.stderr == b""


def test_an_unsupported_file_is_shown_raw_with_a_note(tmp_path: Path) -> None:
    assert rules_for_path("notes.xyz") is None
    (tmp_path / "notes.xyz").write_bytes(b"def looks_like_python(): pass\n")
    done = slop("notes.xyz", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == b"def looks_like_python(): pass\n"
    assert done.stderr.decode() == "slop: note: no view for .xyz files; showing it raw\n"
    raw = slop("notes.xyz", "--raw", cwd=tmp_path)  # asked for raw: nothing to say
    assert raw.stdout == b"def looks_like_python(): pass\n" and raw.stderr == b""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_ignored_dependency_vendored_and_minified_files_are_left_out(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("secret_build.py\nout/\n")
    (tmp_path / "kept.py").write_text("def kept(): pass\n")
    (tmp_path / "secret_build.py").write_text("def ignored(): pass\n")
    for folder, name in (
        ("out", "gen.py"), ("node_modules/pkg", "index.py"), ("vendor", "lib.py"),
    ):  # fmt: skip
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / name).write_text("def hidden(): pass\n")
    (tmp_path / "bundle.min.js").write_text("var a=1;\n")
    done = slop(".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert headers(done.stdout) == [os.path.join(".", "kept.py")]
    assert b"hidden" not in done.stdout and b"ignored" not in done.stdout
    # .gitignore itself has no view; the left-out files are not counted as "no view".
    assert done.stderr.decode() == "skipped: 1 without suffix (no view)\n"


def test_a_latin1_file_printed_raw_says_utf8(tmp_path: Path) -> None:
    source = '# -*- coding: latin-1 -*-\nNAME = "grüße"\n'
    (tmp_path / "old.py").write_bytes(source.encode("latin-1"))
    done = slop("old.py", "--raw", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.decode("utf-8")  # the output is UTF-8 ...
    assert printed == '# -*- coding: utf-8 -*-\nNAME = "grüße"\n'  # ... and says so
    compiled = compile(done.stdout, "old.py", "exec")  # read back by its cookie: the same text
    namespace: dict[str, object] = {}
    exec(compiled, namespace)
    assert namespace["NAME"] == "grüße"


def test_an_indentation_error_is_warned_at_pythons_line(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import os\n\ndef f():\n    x = 1\n  y = 2\n")
    done = slop("bad.py", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr.decode().startswith("slop: warning: bad.py:5:")
    assert b"import os\n" in done.stdout

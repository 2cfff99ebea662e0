"""`slop view`, run as a real process: `python -m slop_tui view ...`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from slop_tui.tokens import estimate_tokens

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def slop(*args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", "view", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
    )


def test_a_file_prints_its_skeleton_by_default() -> None:
    done = slop(DATA / "tricky.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (DATA / "tricky.skeleton.txt").read_bytes()
    assert done.stderr == b""


def test_curated_and_raw_are_byte_exact() -> None:
    curated = slop(DATA / "tricky.py", "--curated")
    assert curated.returncode == 0
    assert curated.stdout == (DATA / "tricky.curated.txt").read_bytes()
    raw = slop(DATA / "tricky.py", "--raw")
    assert raw.stdout == (DATA / "tricky.py").read_bytes()
    assert "🍏".encode() in raw.stdout and "grüße".encode() in curated.stdout


def test_a_folder_prints_every_python_file_under_a_header(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "b.py").write_text("def b(): pass\n")
    (tmp_path / "a.py").write_text("def a(): pass\n")
    (tmp_path / "notes.txt").write_text("not python\n")
    for skipped in (".git", ".venv", ".slop", "__pycache__"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "hidden.py").write_text("def hidden(): pass\n")
    done = slop(".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    a, b = os.path.join(".", "a.py"), os.path.join(".", "pkg", "b.py")
    assert done.stdout.decode() == (
        f"# ==> {a} <==\ndef a(): ...\n\n# ==> {b} <==\ndef b(): ...\n\n"
    )


def test_stats_prints_sizes_tokens_and_ratio_per_file_and_in_total(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def a(x):\n" + "    x += 1\n" * 20 + "    return x\n")
    (tmp_path / "b.py").write_text("import os\n")
    done = slop(tmp_path, "--stats")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0].split() == [
        "file", "raw", "bytes", "skeleton", "bytes", "raw", "tokens", "skeleton", "tokens", "ratio",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    a_row = rows[str(tmp_path / "a.py")]
    raw_text = "def a(x):\n" + "    x += 1\n" * 20 + "    return x\n"
    raw_a, view_a = len(raw_text), len("def a(x): ...\n")
    raw_tokens, view_tokens = estimate_tokens(raw_text), estimate_tokens("def a(x): ...\n")
    assert a_row == [
        str(raw_a), str(view_a), str(raw_tokens), str(view_tokens), f"{view_tokens / raw_tokens:.2f}",
    ]  # fmt: skip
    b_tokens = str(estimate_tokens("import os\n"))
    assert rows[str(tmp_path / "b.py")] == ["10", "10", b_tokens, b_tokens, "1.00"]
    total = lines[-1].split()
    assert total[:3] == ["total", "(2", "files)"]
    assert total[3:5] == [str(raw_a + 10), str(view_a + 10)]
    assert b"def a" not in done.stdout  # the views themselves are not printed


def test_a_broken_file_warns_with_file_and_line_and_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_bytes((DATA / "broken_source.txt").read_bytes())
    done = slop(path)
    assert done.returncode == 0
    assert done.stdout == (DATA / "broken.skeleton.txt").read_bytes()
    stderr = done.stderr.decode()
    assert f"{path}:10:" in stderr  # where Python itself stops (`ast`), not tree-sitter
    assert "warning" in stderr and "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1


def test_a_missing_path_is_one_line_and_non_zero(tmp_path: Path) -> None:
    done = slop(tmp_path / "nope.py")
    assert done.returncode != 0
    stderr = done.stderr.decode()
    assert stderr == f"slop: error: {tmp_path / 'nope.py'}: no such file or directory\n"
    assert done.stdout == b""


def test_a_binary_file_is_one_line_and_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "blob.py"
    path.write_bytes(bytes(range(256)))
    done = slop(path)
    assert done.returncode != 0
    stderr = done.stderr.decode()
    assert len(stderr.splitlines()) == 1
    assert str(path) in stderr and "binary" in stderr
    assert "Traceback" not in stderr


def test_an_undecodable_file_is_one_line_and_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes("x = 'café'\n".encode("latin-1"))
    done = slop(path)
    assert done.returncode != 0
    assert len(done.stderr.splitlines()) == 1 and b"Traceback" not in done.stderr


def test_a_bad_file_in_a_folder_is_reported_and_the_rest_still_printed(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"\x00\x00")
    (tmp_path / "b.py").write_text("def b(): pass\n")
    done = slop(tmp_path)
    assert done.returncode == 1
    assert b"def b(): ..." in done.stdout
    assert done.stderr.count(b"\n") == 1 and b"a.py" in done.stderr


def test_help_explains_the_command() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    top = subprocess.run(
        [sys.executable, "-m", "slop_tui", "--help"], cwd=REPO_ROOT, env=env,
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert top.returncode == 0
    assert b"view" in top.stdout
    own = slop("--help")
    assert own.returncode == 0
    text = own.stdout.decode()
    for words in ("--skeleton", "--curated", "--raw", "--stats", "# [HOT]", "@core_logic"):
        assert words in text

"""`slop map` through the real command line, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from slop_tui.tokens import estimate_tokens


def slop(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLOP_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", "map", *args],
        capture_output=True, text=True, env=env, timeout=60,
    )


def make_repo(root: Path) -> None:
    files = {
        "shop/__init__.py": "",
        "shop/models.py": "class Order:\n    def total(self, *, tax=0.2):\n        pass\n\nasync def fetch(url):\n    pass\n",
        "shop/views.py": "from shop.models import Order\n\ndef show(request, order_id):\n    return Order()\n",
        "shop/admin.py": "from shop.models import Order\n\nclass OrderAdmin:\n    pass\n",
        "notes/\x1b[2Jevil.py": "def evil():\n    pass\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_map_prints_the_contract_within_the_budget(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo")
    done = slop(str(tmp_path / "repo"), "--tokens", "300", "--stats", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("shop/models.py:\n")
    assert "  class Order:\n    def total(self, *, tax=…)\n" in out
    assert "  async def fetch(url)\n" in out
    assert estimate_tokens(out) <= 300
    assert "\x1b" not in out and "\\x1b" in out  # a hostile file name is shown escaped
    assert "files 5" in done.stderr and "tokens" in done.stderr and "build" in done.stderr


def test_map_focus_and_a_tight_budget(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo")
    done = slop(str(tmp_path / "repo"), "--tokens", "40", "--focus", "fix shop/views.py", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("shop/views.py:\n  def show(request, order_id)\n")
    assert "more files not shown" in done.stdout and estimate_tokens(done.stdout) <= 40


def test_map_overview(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo")
    done = slop(str(tmp_path / "repo"), "--overview", "--tokens", "500", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "shop/ 4 files: python" in done.stdout and "shop/models.py:" in done.stdout


def test_map_bad_path_and_bad_budget_are_one_line_errors(tmp_path: Path) -> None:
    for args in (["/no/such/place"], [str(tmp_path), "--tokens", "0"]):
        done = slop(*args, cache=tmp_path / "cache")
        assert done.returncode == 2
        assert done.stdout == "" and done.stderr.count("\n") == 1 and done.stderr.startswith("slop: error:")
    (tmp_path / "file.py").write_text("x = 1\n")
    done = slop(str(tmp_path / "file.py"), cache=tmp_path / "cache")
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_map_help(tmp_path: Path) -> None:
    done = slop("--help", cache=tmp_path / "cache")
    assert done.returncode == 0
    assert "--tokens N" in done.stdout and "--focus TEXT" in done.stdout and "--stats" in done.stdout


def test_map_is_the_same_in_every_process(tmp_path: Path) -> None:
    # Set iteration order depends on the hash seed; the map must not.
    make_repo(tmp_path / "repo")
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "SLOP_CACHE_DIR": str(tmp_path / f"cache{seed}"), "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "slop_tui", "map", str(tmp_path / "repo"), "--tokens", "60",
             "--focus", "shop/views.py Order"],
            capture_output=True, text=True, env=env, timeout=60,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1

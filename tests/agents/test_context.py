"""A worker's first context: curated targets, skeletons of imports, the budget, the prompt."""

from __future__ import annotations

import ast
from pathlib import Path

from slop_tui.agents.context import (
    assemble_context,
    imported_files,
    mentioned_files,
    worker_system_prompt,
)
from slop_tui.memory.file_cache import FileCache
from slop_tui.models import Archetype, Ticket
from slop_tui.tokens import estimate_tokens

from tests.agents.helpers import make_repo

BODY = "".join(f"    step_{n} = value * {n}\n" for n in range(40))

FILES = {
    "pkg/__init__.py": "",
    "pkg/core.py": (
        '"""Core logic."""\n\nimport os\nfrom pkg import util\nfrom .models import Thing\n\n\n'
        "def compute(value: int) -> int:\n"
        '    """Compute it."""\n' + BODY + "    return value\n\n\n"
        "# [HOT]\ndef hot(value: int) -> int:\n    return value + 41\n"
    ),
    "pkg/util.py": "def helper(x: int) -> int:\n    '''Help.'''\n" + BODY.replace("value", "x") + "    return x\n",
    "pkg/models.py": "class Thing:\n    name: str\n\n    def grow(self) -> None:\n"
    + BODY.replace("    step", "        step").replace("value", "1"),
    "scripts/run.py": "import pkg.core\nimport json\n",
    "docs/notes.md": "notes\n",
}


def make(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", FILES)


def test_imports_resolve_to_repository_files_only(tmp_path: Path) -> None:
    root = make(tmp_path)
    source = FILES["pkg/core.py"]
    assert imported_files(root.resolve(), "pkg/core.py", source) == ["pkg/util.py", "pkg/models.py"]
    assert imported_files(root.resolve(), "scripts/run.py", FILES["scripts/run.py"]) == ["pkg/core.py"]


def test_imports_of_a_broken_file_are_still_found(tmp_path: Path) -> None:
    root = make(tmp_path)
    broken = "from pkg import util\nimport pkg.models\ndef f(:\n"
    assert imported_files(root.resolve(), "pkg/new.py", broken) == ["pkg/util.py", "pkg/models.py"]


def test_the_first_message_holds_views_not_bodies(tmp_path: Path) -> None:
    root = make(tmp_path)
    ticket = Ticket(
        id="t1",
        title="speed up compute",
        description="Make compute faster; see scripts/run.py and docs/notes.md.",
        target_files=["pkg/core.py", "pkg/new_module.py"],
    )
    system, user, report = assemble_context(ticket, root, FileCache(), budget=12000)
    assert "step_7" not in user  # compute's body is hidden
    assert "return value + 41" in user  # the [HOT] body stays
    assert "def compute(value: int) -> int:" in user and "def helper(x: int) -> int:" in user
    assert "class Thing:" in user
    shown = [(f.path, f.role, f.view) for f in report.files]
    assert shown == [
        ("pkg/core.py", "target", "curated"),
        ("pkg/new_module.py", "target", "new"),
        ("pkg/util.py", "import", "skeleton"),
        ("pkg/models.py", "import", "skeleton"),
        ("scripts/run.py", "mentioned", "skeleton"),
    ]
    assert "### pkg/new_module.py (target): does not exist yet" in user
    assert report.total_tokens == estimate_tokens(system) + estimate_tokens(user)
    # Every view block is valid Python.
    for block in user.split("```python\n")[1:]:
        ast.parse(block.split("\n```", 1)[0])


def test_the_budget_degrades_views_then_omits_files(tmp_path: Path) -> None:
    root = make(tmp_path)
    ticket = Ticket(id="t1", title="x", target_files=["pkg/core.py"])
    cache = FileCache()
    _, _, roomy = assemble_context(ticket, root, cache, budget=100_000, target_view="raw", related_view="raw")
    _, _, normal = assemble_context(ticket, root, cache, budget=100_000)
    assert normal.total_tokens < roomy.total_tokens / 2
    tight_budget = normal.total_tokens - 5
    _, user, tight = assemble_context(ticket, root, cache, budget=tight_budget)
    assert tight.total_tokens <= tight_budget
    assert any(f.view == "omitted" and f.note == "over the context budget" for f in tight.files)
    assert "Not shown (read them with read_file if you need them): " in user
    _, user, starved = assemble_context(ticket, root, cache, budget=10)
    assert {f.view for f in starved.files} == {"omitted"} and len(starved.files) == 3
    assert "pkg/core.py (over the context budget)" in user


def test_a_file_with_syntax_errors_gets_a_best_effort_view(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"half.py": "def good():\n    return 1\n\ndef bad(:\n    pass\n"})
    ticket = Ticket(id="t1", title="fix half.py", target_files=["half.py"])
    _, user, report = assemble_context(ticket, root, FileCache(), budget=12000)
    (entry,) = report.files
    assert entry.view == "curated" and entry.note.startswith("syntax problem at line")
    assert "def good():" in user


def test_a_target_outside_the_repository_is_named_not_read(tmp_path: Path) -> None:
    root = make(tmp_path)
    (tmp_path / "secret.py").write_text("TOKEN = 'x'\n")
    ticket = Ticket(id="t1", title="x", target_files=["../secret.py"])
    _, user, report = assemble_context(ticket, root, FileCache(), budget=12000)
    assert [(f.path, f.view) for f in report.files] == [("../secret.py", "omitted")]
    assert "TOKEN" not in user and "../secret.py (outside the repository" in user


def test_mentioned_files_must_exist_inside_the_repository(tmp_path: Path) -> None:
    root = make(tmp_path).resolve()
    ticket = Ticket(id="t", title="t", description="pkg/util.py, ../escape.py, missing.py, /etc/x.py")
    assert mentioned_files(root, ticket) == ["pkg/util.py"]


def test_each_archetype_gets_its_section_of_the_prompt() -> None:
    stub = worker_system_prompt(Archetype.CONTRACT_STUBBER)
    assert "archetype is contract_stubber" in stub and "Implement nothing" in stub
    assert "## implementer" not in stub and "## tester" not in stub
    assert "run the suite" in worker_system_prompt(Archetype.TESTER)
    assert estimate_tokens(stub) < 400  # the fixed cost of every worker

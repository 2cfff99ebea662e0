"""A worker's first context: curated targets, the related map (or skeletons of imports without
one), the budget, the prompt."""

from __future__ import annotations

import ast
from pathlib import Path

from slop_tui.agents.context import (
    ContextReport,
    assemble_context,
    imported_files,
    mentioned_files,
    worker_system_prompt,
)
from slop_tui.memory.file_cache import FileCache
from slop_tui.memory.repo_map import RepoMap
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


# ---------------------------------------------------------------------------
# With the repository map: related definitions instead of whole skeletons of imports
# ---------------------------------------------------------------------------


def _with_map(root: Path, ticket: Ticket, budget: int) -> tuple[str, str, ContextReport]:
    repo_map = RepoMap.build(root, cache_dir=root.parent / "map-cache")
    return assemble_context(ticket, root, FileCache(), budget=budget, repo_map=repo_map)


def _map_text(user: str) -> str:
    return user.split("## Related definitions elsewhere in the repository")[1].split("```\n")[1]


def test_the_map_replaces_the_skeletons_of_imports(tmp_path: Path) -> None:
    root = make(tmp_path)
    ticket = Ticket(id="t1", title="speed up compute", description="Make compute faster.",
                    target_files=["pkg/core.py"])
    system, user, report = _with_map(root, ticket, 12000)
    assert "return value + 41" in user  # the target's curated view comes first, as before
    # What core imports shows as one line per definition, parameter names only...
    text = _map_text(user)
    assert "pkg/util.py:\n  def helper(x)" in text and "pkg/models.py:\n  class Thing" in text
    assert "def helper(x: int) -> int:" not in user  # ...not as a skeleton
    assert "def compute" not in text  # the target's own definitions are not repeated
    roles = [(f.path, f.role, f.view) for f in report.files]
    assert roles[0] == ("pkg/core.py", "target", "curated")
    assert ("pkg/util.py", "related", "map") in roles and ("pkg/models.py", "related", "map") in roles
    assert not any(f.role == "import" for f in report.files)
    assert report.total_tokens == estimate_tokens(system) + estimate_tokens(user) <= 12000


def test_the_map_gets_what_the_files_left_and_never_more(tmp_path: Path) -> None:
    root = make(tmp_path)
    ticket = Ticket(id="t1", title="x", description="see scripts/run.py", target_files=["pkg/core.py"])
    _, user, roomy = _with_map(root, ticket, 100_000)
    assert "scripts/run.py (named in the ticket, skeleton view)" in user
    files_only = sum(f.tokens for f in roomy.files if f.role != "related")
    mapped = sum(f.tokens for f in roomy.files if f.role == "related")
    for budget in range(roomy.total_tokens - mapped, roomy.total_tokens + 1, 5):
        _, user, report = _with_map(root, ticket, budget)
        assert report.total_tokens <= budget
        # The target and the file the ticket names keep their views; the map shrinks.
        assert sum(f.tokens for f in report.files if f.role != "related") == files_only
    for budget in range(200, roomy.total_tokens, 3):  # files omitted too: still within budget
        _, user, report = _with_map(root, ticket, budget)
        assert report.total_tokens <= budget or not any(f.view == "curated" for f in report.files)
    _, user, starved = _with_map(root, ticket, 10)
    assert starved.total_tokens > 10 and "Related definitions" not in user  # no room: no map

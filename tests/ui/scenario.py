"""A small scripted run for pilot tests: one track, three tickets, no latency.

  a  write calc.py, run a check, finish          (calc.py)
  b  after a: edit calc.py, finish               (calc.py)
  c  write notes.md, finish                      (notes.md; runs beside a)
"""

from __future__ import annotations

import json
from pathlib import Path

from slop_tui.ui.app import SlopApp
from slop_tui.ui.launch import build_app

CALC_V1 = "def add(a, b):\n    return a + b\n"
CALC_V2 = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
NOTES = "# Notes\n"

PLAN_TRACKS = {"tracks": [{"id": "calc", "title": "Build calc", "description": "A tiny calculator."}]}
PLAN_TICKETS = {
    "tickets": [
        {"id": "a", "title": "Write add", "description": "Add calc.add.", "archetype": "implementer",
         "depends_on": [], "target_files": ["calc.py"]},
        {"id": "b", "title": "Write sub", "description": "Add calc.sub.", "archetype": "implementer",
         "depends_on": ["a"], "target_files": ["calc.py"]},
        {"id": "c", "title": "Write notes", "description": "Add notes.md.", "archetype": "implementer",
         "depends_on": [], "target_files": ["notes.md"]},
    ]
}


def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def _reply(ticket: str, tool: str, **arguments: object) -> str:
    args = ", ".join(f"{k} = {_toml_str(v) if isinstance(v, str) else v}" for k, v in arguments.items())
    return f'[[worker.{ticket}]]\n[[worker.{ticket}.tool_calls]]\ntool = "{tool}"\narguments = {{ {args} }}\n'


def scenario_text(*, read_first: bool = False) -> str:
    parts = [
        f"[[planner]]\ntext = {_toml_str(json.dumps(PLAN_TRACKS))}\n",
        f"[[lead]]\ntext = {_toml_str(json.dumps(PLAN_TICKETS))}\n",
    ]
    if read_first:
        parts.append(_reply("a", "list_files", path="."))
    parts += [
        _reply("a", "write_file", path="calc.py", content=CALC_V1),
        _reply("a", "run_command", command="test -f calc.py", timeout_s=30),
        _reply("a", "finish", summary="add written"),
        _reply("b", "edit_file", path="calc.py", old="    return a + b\n", new="    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"),
        _reply("b", "finish", summary="sub written"),
        _reply("c", "write_file", path="notes.md", content=NOTES),
        _reply("c", "finish", summary="notes written"),
    ]
    return "\n".join(parts)


def make_repo(tmp: Path, *, read_first: bool = False) -> tuple[Path, dict[str, str]]:
    """A repository with a README, and an environment whose config plays the scenario."""
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("calc\n")
    scenario = tmp / "scenario.toml"
    scenario.write_text(scenario_text(read_first=read_first))
    config = tmp / "config"
    config.mkdir()
    (config / "agents.toml").write_text(
        "[models]\n" + "".join(f'{t} = "scripted:{scenario}"\n' for t in ("planner", "lead", "worker", "default_cheap"))
        + "[run]\nworkers = 2\n"
    )
    return repo, {"SLOP_CONFIG_DIR": str(config)}


def app_on(repo: Path, env: dict[str, str], tmp: Path, **kwargs: object) -> SlopApp:
    return build_app(repo, env=env, prefs_env={"SLOP_CONFIG_DIR": str(tmp / "prefs")}, initial_prompt="Build calc", **kwargs)  # type: ignore[arg-type]

"""`slop doctor`: which config files are in use, each tier's model and key, and what to fix.

Keys are shown masked (first 4 characters and the length at most). Exits 1 when a tier cannot
run, so a script can check a setup before starting a session. Every text that came from a file
(paths, model names, messages quoting a key name) goes through `display.sanitize`: a cloned
repository must not be able to write to the terminal through doctor.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slop_tui.config import Config
    from slop_tui.models import Tier

NAME = "doctor"
HELP = "check the configuration: files in use, each tier's model and key (masked), what is missing"
DESCRIPTION = (
    "Print the config files in use, the overrides the repository's .slop.toml makes, the "
    "project's instruction file (AGENTS.md or CLAUDE.md) with its size in tokens, each "
    "tier's provider and model, whether a key was found (masked), file-permission problems, and "
    "what is missing with the fix, which bwrap runs commands with its self-test, and the "
    "configured MCP servers with their tools (each started briefly). Exits 1 when a tier "
    "cannot run, the sandbox's self-test fails or an MCP server does not start."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="repository whose .slop.toml is checked too (default: the current directory)",
    )


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """`env` stands for the process environment (the TUI's demo passes its own, whose config
    folder plays the demo)."""
    from slop_tui.config import (
        AGENTS_FILE,
        CONFIG_DIR_ENV,
        CREDENTIALS_FILE,
        OLD_REPO_AGENTS,
        REPO_AGENTS,
        Config,
        ConfigError,
        CredentialsError,
        config_dir,
        load_config,
    )
    from slop_tui.models import Tier

    repo: Path = args.repo
    env = os.environ if env is None else env
    directory = config_dir(env)
    problems: list[str] = []

    origin = f"from ${CONFIG_DIR_ENV}" if env.get(CONFIG_DIR_ENV, "").strip() else "default"
    agents = directory / AGENTS_FILE
    credentials = directory / CREDENTIALS_FILE
    credentials_state = _state(credentials, follow=True, mode=True)
    if credentials_state == "not found":
        credentials_state = "not found: keys from the environment only"
    agents_state = _state(agents, follow=True)
    if agents_state == "not found":
        agents_state = "not found: built-in defaults"
    root = repo.resolve()
    local = root / REPO_AGENTS
    _row("config directory", directory, origin)
    _row(f"  {AGENTS_FILE}", agents, agents_state)
    _row(f"  {CREDENTIALS_FILE}", credentials, credentials_state)
    _row("repository", root, "")
    _row(f"  {REPO_AGENTS}", local, _state(local, follow=False))
    old = root / OLD_REPO_AGENTS
    if os.path.lexists(old):
        _row(f"  {OLD_REPO_AGENTS}", old, f"ignored: slop no longer reads it; move it to {REPO_AGENTS}")
    print()

    config: Config
    try:
        config = load_config(repo, env=env)
    except CredentialsError as exc:
        # Refused as ssh refuses a readable key; carry on without it to report the rest.
        problems.append(str(exc))
        try:
            config = load_config(repo, env=env, read_credentials=False)
        except ConfigError as inner:
            return _report([*problems, str(inner)], cannot_run=True)
    except ConfigError as exc:
        return _report([f"{exc}; fix the file named above"], cannot_run=True)

    if os.path.lexists(local):
        print(f"overrides by {REPO_AGENTS}")
        for line in config.repo_overrides or ["none: it changes nothing"]:
            _print(f"  {line}")
        print()

    _instructions(root, config.run.instructions_tokens)
    print()

    print("tiers")
    failed = False
    # As wide as the longest model name, so a long one pushes the column instead of breaking it.
    width = max([36] + [len(_label(config, tier)) for tier in Tier])
    for tier in Tier:
        try:
            spec = config.model_for(tier)
        except ConfigError as exc:
            failed = True
            problems.append(str(exc))
            _print(f"  {tier.value:<14} {config.models.get(tier.value, '(none)'):<{width}} CANNOT RUN")
            continue
        if spec.provider.kind == "scripted":
            what = f"offline scenario {spec.model}" if spec.model else "offline built-in demo scenario"
        elif spec.api_key is not None:
            source = config.key_sources.get(spec.provider.name, "")
            what = f"key {spec.api_key.masked()} from {source}"
        else:
            what = "no key needed"
        where = f" at {spec.provider.base_url}" if spec.provider.base_url else ""
        _print(f"  {tier.value:<14} {spec.label:<{width}} ok: {what}{where}")
    print()
    _prices(config, width)
    _windows(config, width)
    print()
    problems += _sandbox(root, config)
    print()
    if config.mcp:
        problems += _mcp_servers(root, config)
        print()
    for warning in config.warnings:
        _print(f"warning: {warning}")
    if config.warnings:
        print()
    return _report(problems, cannot_run=failed or bool(problems))


def _mcp_servers(root: Path, config: Config) -> list[str]:
    """Start each configured MCP server briefly, print it with its tools; the problems (a server
    that does not start, with the end of its stderr)."""
    import asyncio

    from slop_tui.config import config_dir
    from slop_tui.mcp import McpHub
    from slop_tui.errors import SlopError

    try:
        asyncio.get_running_loop()
        running = True  # inside the TUI: starting servers here would block its screen
    except RuntimeError:
        running = False
    print("MCP servers" + (" (a run starts them)" if running else " (started briefly to list their tools)"))
    problems: list[str] = []
    secrets = [s.reveal() for s in config.secrets()]
    for name, spec in config.mcp.items():
        where = spec.url if spec.url is not None else " ".join([spec.command or "", *spec.args])
        if running:
            allowed = f", tools {', '.join(spec.tools)}" if spec.tools is not None else ""
            _print(f"  {name:<14} {spec.transport:<6} {where}  (approve = {spec.approve}{allowed})")
            continue
        hub = McpHub(
            {name: spec}, root, scrub_env=sorted(config.key_env_names()), secrets=secrets, hidden=[config_dir()]
        )

        async def listed(hub: McpHub = hub) -> None:
            try:
                await hub.start()
            finally:
                await hub.close()

        try:
            asyncio.run(listed())
        except SlopError as exc:
            problems.append(str(exc))
            _print(f"  {name:<14} {spec.transport:<6} {where}  CANNOT START")
            continue
        for _name, transport, tools, note in hub.servers():
            network = f", network {spec.network}" if transport == "stdio" else ""
            _print(f"  {name:<14} {transport:<6} {where}  ok: {len(tools)} tools (approve = {spec.approve}{network})")
            if note:
                _print(f"    note: {note}")
            for tool in tools:
                how = "runs without asking" if tool.auto else "asks"
                _print(f"    {tool.exposed:<40} {'read-only, ' if tool.read_only else ''}{how}")
    return problems


def _instructions(root: Path, budget: int) -> None:
    """The project's instruction file the planners and workers get (nested ones vary by
    ticket), and any that exists but is skipped, with why. Never a problem: it only asks."""
    from slop_tui.agents.instructions import load_instructions

    found = load_instructions(root, budget=budget)
    _print(f"instructions: {found.summary()} ([run] instructions_tokens = {budget:,})")
    for skipped in found.skipped:
        _print(f"  {skipped.path}: skipped: {skipped.reason}")


def _per_tier(config: Config, width: int, title: str, describe: Callable[[Tier, str], str]) -> None:
    """A section of one line per tier: the tier, its "provider:model", what `describe` says."""
    from slop_tui.models import Tier

    print(title)
    for tier in Tier:
        label = config.models.get(tier.value, "")
        _print(f"  {tier.value:<14} {label:<{width}} {describe(tier, label)}")


def _prices(config: Config, width: int) -> None:
    """The prices the ledger will charge each tier's calls at (known without a key)."""
    from slop_tui.config import DEFAULT_PRICES, PRICES_DATED

    def price_of(tier: Tier, label: str) -> str:
        price = config.prices.get(label)
        if label.startswith("scripted") and price is None:
            from slop_tui.providers.scripted import priced_as

            stand_in = priced_as(tier)
            return f"offline, priced as {stand_in}" if stand_in else "offline: no cost"
        if price is None:
            return f'unpriced: costs show "-" (add [prices."{label}"] to set one)'
        return (
            f"{price.input:g} / {price.write_price():g} / {price.read_price():g} / "
            f"{price.output:g}  "
            + ("(built-in, " + PRICES_DATED + ")" if price == DEFAULT_PRICES.get(label)
               else "(your [prices])")
        )

    _per_tier(config, width, "prices (USD per million tokens: input / cache write / cache read / output)", price_of)


def _windows(config: Config, width: int) -> None:
    """The context window each tier's requests are checked against before they are sent."""
    from slop_tui.config import DEFAULT_WINDOWS, WINDOWS_DATED

    def window_of(tier: Tier, label: str) -> str:
        window = config.windows.get(label)
        if window is None:
            return f"unknown: not checked (add [models.windows] \"{label}\" = tokens)"
        source = f"built-in, {WINDOWS_DATED}" if DEFAULT_WINDOWS.get(label) == window else "your [models.windows]"
        return f"{window:,} ({source})"

    _per_tier(config, width, "context windows (tokens; a request over it is compacted first, else refused)", window_of)


def _sandbox(root: Path, config: Config) -> list[str]:
    """Print which bwrap commands run under and the self-test's findings; the problems."""
    from slop_tui.sandbox import detect, self_test

    print("sandbox")
    info = detect()
    if not info.available:
        # The reason names the fix (`sandbox.detect`).
        _print(f"  unavailable: {info.reason or 'no usable bwrap'}")
        if config.run.allow_unsandboxed:
            _print("  commands run unsandboxed ([run] allow_unsandboxed = true in your config)")
        else:
            _print("  commands are marked unsandboxed at the clutch, and --yes is refused "
                   "(unless [run] allow_unsandboxed = true in your own config)")
        return []
    _print(f"  bwrap              {info.bwrap} ({info.version or 'version unknown'})")
    _print(f"  network            {config.run.network} ([run] network)")
    found = self_test(root)
    if not found:
        _print("  self-test          ok: namespaces created, network off, home hidden")
        return []
    _print(f"  self-test          FAILED: {len(found)} problem{'s' if len(found) != 1 else ''}")
    return [f"sandbox self-test: {problem}" for problem in found]


def _state(path: Path, *, follow: bool, mode: bool = False) -> str:
    """What is at `path`, from `stat` alone: doctor never opens a FIFO or a device to find out."""
    try:
        info = path.stat() if follow else path.lstat()
    except FileNotFoundError:
        return "not found"
    except OSError as exc:
        return f"cannot check: {exc.strerror or exc}"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link: refused"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file: refused"
    return f"found, mode {stat.S_IMODE(info.st_mode):04o}" if mode else "found"


def _label(config: Config, tier: Tier) -> str:
    from slop_tui.config import ConfigError
    from slop_tui.display import sanitize

    try:
        return sanitize(config.model_for(tier).label, one_line=True)
    except ConfigError:
        return sanitize(config.models.get(tier.value, "(none)"), one_line=True)


def _print(text: str) -> None:
    from slop_tui.display import sanitize

    print(sanitize(text, one_line=True))


def _row(label: str, path: Path, state: str) -> None:
    _print(f"{label:<21}{path}" + (f"  ({state})" if state else ""))


def _report(problems: list[str], *, cannot_run: bool) -> int:
    if not problems:
        print("every tier can run")
        return 0
    print("problems")
    for problem in problems:
        _print(f"  - {problem}")
    return 1 if cannot_run else 0

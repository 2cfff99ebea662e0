"""Shared helpers for the tools tests: a hostile repository layout and tree fingerprints."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
from pathlib import Path


def tree_fingerprint(root: Path) -> dict[str, str]:
    """Every entry under `root` (type, mode, content hash or link target), never following links.

    FIFOs and sockets are described by their type only: opening them could block.
    """
    result: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            info = os.lstat(full)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                result[rel] = f"link {os.readlink(full)}"
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(full.read_bytes()).hexdigest()
                result[rel] = f"file {mode:o} {digest}"
            elif stat.S_ISDIR(info.st_mode):
                result[rel] = f"dir {mode:o}"
            else:
                result[rel] = f"special {stat.S_IFMT(info.st_mode):o} {mode:o}"
    return result


class HostileLayout:
    """A repository next to an `outside` folder, with every kind of trap in between."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.repo = base / "repo"
        self.outside = base / "outside"
        repo, outside = self.repo, self.outside
        (repo / "src").mkdir(parents=True)
        (repo / "sub" / "inner").mkdir(parents=True)
        outside.mkdir()
        (outside / "secret.txt").write_text("outside secret\n")
        (outside / "deeper").mkdir()
        os.mkfifo(outside / "fifo")
        (repo / "src" / "ok.py").write_text("def ok():\n    return 1\n")
        (repo / "README.md").write_text("hello\n")
        # Symlinks that leave the repository, relative and absolute, to files and folders.
        os.symlink("../outside", repo / "link_out")
        os.symlink("../outside/secret.txt", repo / "link_secret")
        os.symlink(str(outside / "secret.txt"), repo / "link_abs")
        os.symlink(str(outside), repo / "abs_link_dir")
        os.symlink("../outside/newfile.txt", repo / "dangling_out")
        os.symlink("/nonexistent-slop-test/abs", repo / "dangling_abs")
        os.symlink("../..", repo / "sub" / "link_up")
        os.symlink("../../outside", repo / "sub" / "link_parent")
        os.symlink("/dev/null", repo / "dev_null")
        os.symlink("/dev/zero", repo / "link_dev")
        os.symlink("../outside/fifo", repo / "link_fifo_out")
        os.symlink("loop", repo / "loop")
        # Special files inside the repository.
        os.mkfifo(repo / "fifo")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(str(repo / "socket"))
        # A symlink that stays inside is allowed (tested elsewhere); it must not count as a trap.
        os.symlink("src/ok.py", repo / "inside_link")

    def close(self) -> None:
        self._socket.close()

    def escape_paths(self) -> list[str]:
        """Fifty-odd paths that must all be refused by every file tool."""
        outside_secret = str(self.outside / "secret.txt")
        return [
            "../outside/secret.txt",
            "../../etc/passwd",
            "src/../../outside/secret.txt",
            "..",
            "../",
            "sub/../..",
            "./../outside/secret.txt",
            "sub/./../../outside/secret.txt",
            "link_out/../outside/secret.txt",
            "sub/link_up/repo/../outside/secret.txt",
            "/etc/passwd",
            outside_secret,
            "//etc/passwd",
            "/",
            "/dev/null",
            "/dev/zero",
            "/proc/self/environ",
            "~/.bashrc",
            "~root/.profile",
            "~",
            "link_out/secret.txt",
            "link_out/new.txt",
            "link_out",
            "link_out/",
            "link_secret",
            "link_abs",
            "abs_link_dir/secret.txt",
            "dangling_out",
            "dangling_abs",
            "sub/link_up/outside/secret.txt",
            "sub/link_up",
            "sub/link_parent/secret.txt",
            "sub/link_parent/deeper/new.txt",
            "dev_null",
            "link_dev",
            "link_fifo_out",
            "fifo",
            "socket",
            "loop",
            "src/ok.py\x00../../outside/secret.txt",
            "\x00",
            "a" * 300,
            "d/" * 2100 + "x",
            "..\\outside\\secret.txt",
            "sub\\..\\..\\outside",
            "C:\\Windows\\system.ini",
            "C:/outside/secret.txt",
            "\\\\server\\share\\x",
            "\\..\\",
            "",
            "   ",
            "src/ok.py\nother",
        ]

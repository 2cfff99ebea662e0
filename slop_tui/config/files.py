"""Reading a config file safely: bounded, regular files only, one-line errors naming the file.

Every config file, the user's and the repository's, goes through `read_toml` or
`read_config_text`: a FIFO cannot hang a read (opened non-blocking, then checked with
`fstat`), `/dev/zero` or a 50 MB file cannot exhaust memory (1 MB cap), and a repository's file
is opened with `O_NOFOLLOW`, so a symlink in a cloned repository cannot make slop read a file
of the attacker's choosing. Also here: finding the line of a key, for messages.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from slop_tui.errors import SlopError

MAX_CONFIG_BYTES = 1_048_576  # 1 MB: a config file is a few hundred bytes; anything near this is not one
CLIP_CHARS = 80  # longest piece of a file's value quoted in a message


class ConfigError(SlopError):
    """Bad or missing configuration; the message names the file, line where known, and key."""


class CredentialsError(ConfigError):
    """`credentials.toml` cannot be used; `slop doctor` reports it and goes on without it."""


class CredentialsPermissionError(CredentialsError):
    """`credentials.toml` is not private to the user; refused, as ssh refuses a key."""


class ReadFile(msgspec.Struct, frozen=True):
    """A config file's text and the `fstat` of the very descriptor it was read from."""

    text: str
    mode: int
    uid: int


def read_config_text(path: Path, *, nofollow: bool, error: type[ConfigError] = ConfigError) -> ReadFile | None:
    """The UTF-8 text of `path`, or None when it does not exist; `error` for anything else."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    if nofollow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if nofollow and (exc.errno in (errno.ELOOP, errno.EMLINK) or path.is_symlink()):
            raise error(
                f"{path}: is a symbolic link; a repository's config must be a regular file, "
                f"so it is not read"
            ) from None
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file ({_file_kind(info.st_mode)}), so it is not read")
        if info.st_size > MAX_CONFIG_BYTES:
            raise error(f"{path}: {info.st_size} bytes; a config file may have at most 1 MB")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:  # it grew while being read
            raise error(f"{path}: more than 1 MB; a config file may have at most 1 MB")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    return ReadFile(text=text, mode=info.st_mode, uid=info.st_uid)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    for test, name in kinds:
        if test(mode):
            return name
    return "not a file"


class TomlFile(msgspec.Struct, frozen=True):
    """A parsed TOML file with its text kept, to find the line of a bad key."""

    path: Path
    text: str
    data: dict[str, Any]

    def where(self, *parts: str) -> str:
        line = find_line(self.text, parts)
        return f"{self.path}{f':{line}' if line else ''}: {dotted(parts)}"

    def line(self, *parts: str) -> int | None:
        return find_line(self.text, parts)


def parse_toml(
    path: Path, text: str, *, quote_message: bool, error: type[ConfigError] = ConfigError
) -> TomlFile:
    """`text` parsed, or one line naming `path`: bad syntax, or nesting too deep to parse."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(path, exc, quote_message=quote_message, error=error) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table.
        raise error(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    return TomlFile(path=path, text=text, data=data)


def read_toml(path: Path, *, nofollow: bool) -> TomlFile | None:
    read = read_config_text(path, nofollow=nofollow)
    if read is None:
        return None
    return parse_toml(path, read.text, quote_message=True)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def toml_error(
    path: Path, exc: tomllib.TOMLDecodeError, *, quote_message: bool, error: type[ConfigError] = ConfigError
) -> ConfigError:
    """`path:line: not valid TOML: ...`. Python 3.11's error has the position only in its text."""
    message = str(exc)
    match = _TOML_POSITION.search(message)
    detail = message[: match.start()] if match else message
    if match and match.group(1):
        place, column = f"{path}:{match.group(1)}", f" (column {match.group(2)})"
    else:
        place, column = str(path), " (at the end of the file)" if match else ""
    # Some parser messages quote a character of the document; a credentials file's
    # document is secret, so its error gives the position only.
    if quote_message:
        return error(f"{place}: not valid TOML: {clip(detail)}{column}")
    return error(f"{place}: not valid TOML{column}")


def number(
    file: TomlFile,
    parts: tuple[str, ...],
    value: Any,
    kind: Any,
    minimum: float,
    inclusive: bool,
) -> Any:
    """`value` as a finite int or float at or above (or above) `minimum`, or `ConfigError`."""
    try:
        result = msgspec.convert(value, kind)
    except msgspec.ValidationError:
        wanted = "an integer" if kind is int else "a number"
        raise ConfigError(f"{file.where(*parts)}: must be {wanted}, not {type_name(value)}") from None
    # TOML has inf and nan; no limit, price or timeout means anything with either.
    if isinstance(result, float) and not math.isfinite(result):
        raise ConfigError(f"{file.where(*parts)}: must be a finite number, not {result}")
    if result < minimum or (not inclusive and result == minimum):
        bound = f"at least {minimum:g}" if inclusive else f"more than {minimum:g}"
        raise ConfigError(f"{file.where(*parts)}: must be {bound}")
    return result


def type_name(value: Any) -> str:
    # Names the type, never the value: a misplaced key must not end up in a message.
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def clip(text: str, limit: int = CLIP_CHARS) -> str:
    """`text` cut to `limit` characters, saying how long it was: a message stays one line."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


# ---------------------------------------------------------------------------
# Finding the line of a key (tomllib reports positions only for syntax errors)
# ---------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY_PART = r"(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z0-9_-]+)"
_HEADER = re.compile(rf"^\s*\[\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_PART = re.compile(_KEY_PART)


def _key_parts(text: str) -> tuple[str, ...]:
    parts = []
    for token in _PART.findall(text):
        if token.startswith('"'):
            try:
                token = json.loads(token)
            except ValueError:  # a TOML escape JSON lacks (\U0001F600): good enough for a line
                token = token[1:-1]
        elif token.startswith("'"):
            token = token[1:-1]
        parts.append(token)
    return tuple(parts)


def find_line(text: str, parts: tuple[str, ...]) -> int | None:
    """1-based line where the dotted key `parts` is declared, best effort; None if not found."""
    table: tuple[str, ...] = ()
    for number_, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _key_parts(header.group(1))
            # A deeper header counts too: `[providers.x]` is where `providers` is declared.
            if table[: len(parts)] == parts:
                return number_
            continue
        assignment = _ASSIGNMENT.match(line)
        # `key = ...` under its table, or a dotted `table.key = ...` / inline table above it.
        if assignment and (table + _key_parts(assignment.group(1)))[: len(parts)] == parts:
            return number_
    return None


def dotted(parts: tuple[str, ...]) -> str:
    return ".".join(p if _BARE_KEY.match(p) else json.dumps(clip(p)) for p in parts)

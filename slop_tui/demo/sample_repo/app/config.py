"""Configuration for pennywise.

This module grew one need at a time: a few globals read from the environment at import time,
helpers that read the environment again on every call, and an optional ``key = value`` file
named by ``PENNY_CONFIG``. Other modules also read ``PENNY_*`` variables on their own.
"""

import os

# Read once, at import: changing the environment later does not change these.
DEBUG = os.environ.get("PENNY_DEBUG", "0").strip().lower() in ("1", "true", "yes", "on")
CURRENCY = os.environ.get("PENNY_CURRENCY", "EUR")
DEFAULT_DATA_DIR = os.path.join(os.path.expanduser("~"), ".pennywise")

_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off", "")

# Keys older versions wrote in settings files, and what they are called now.
LEGACY_KEYS = {
    "db_dir": "data_dir",
    "datadir": "data_dir",
    "money": "currency",
    "digits": "decimals",
    "first_day": "week_start",
    "monthly_budget": "budget",
    "warn_at": "alert_level",
    "keep_backups": "backups",
}

KNOWN_KEYS = ("data_dir", "currency", "decimals", "week_start", "budget", "alert_level",
              "backups", "debug", "default_category", "limits")

_file_cache = {}
_file_cache_path = None


def _interpolate(value, path, number):
    """Replace ``${NAME}`` with the environment variable NAME (``$$`` is a literal dollar)."""
    out = []
    index = 0
    while index < len(value):
        char = value[index]
        if char != "$":
            out.append(char)
            index += 1
            continue
        if value.startswith("$$", index):
            out.append("$")
            index += 2
            continue
        if not value.startswith("${", index):
            out.append(char)
            index += 1
            continue
        end = value.find("}", index + 2)
        if end < 0:
            raise ValueError(f"{path}:{number}: unclosed '${{' in {value!r}")
        name = value[index + 2 : end].strip()
        if not name or not (name[0].isalpha() or name[0] == "_"):
            raise ValueError(f"{path}:{number}: bad variable name {name!r}")
        if name not in os.environ:
            raise ValueError(f"{path}:{number}: ${{{name}}} is not set in the environment")
        out.append(os.environ[name])
        index = end + 1
    return "".join(out)


def _read_lines(path, seen):
    """The (number, text) lines of `path`, with ``include = other.conf`` lines expanded."""
    real = os.path.realpath(path)
    if real in seen:
        chain = " -> ".join(seen + [real])
        raise ValueError(f"{path}: include cycle ({chain})")
    try:
        with open(path, encoding="utf-8") as handle:
            raw_lines = handle.read().splitlines()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such settings file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    lines = []
    for number, line in enumerate(raw_lines, start=1):
        stripped = line.strip()
        key, sep, rest = stripped.partition("=")
        if sep and key.strip().lower() == "include":
            target = rest.strip().strip("'\"")
            if not os.path.isabs(target):
                target = os.path.join(os.path.dirname(path), target)
            lines.extend(_read_lines(target, seen + [real]))
            continue
        lines.append((path, number, stripped))
    return lines


def load_file(path):
    """Parse a ``key = value`` settings file into a dict of lower-case keys."""
    values = {}
    section = ""
    for source, number, stripped in _read_lines(path, []):
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().lower()
            if not section or " " in section:
                raise ValueError(f"{source}:{number}: bad section name {stripped!r}")
            continue
        if "=" not in stripped:
            raise ValueError(f"{source}:{number}: expected 'key = value', got {stripped!r}")
        key, _, value = stripped.partition("=")
        key = key.strip().lower()
        if not key:
            raise ValueError(f"{source}:{number}: empty key before '='")
        value = value.strip()
        if " #" in value and not value.startswith(("'", '"')):
            value = value.split(" #", 1)[0].rstrip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quoted = value[0] == '"'
            value = value[1:-1]
            if quoted:
                value = _interpolate(value, source, number)
        else:
            value = _interpolate(value, source, number)
        if section and section != "pennywise":
            key = f"{section}.{key}"
        values[LEGACY_KEYS.get(key, key)] = value
    return values


def migrate_file(path, dry_run=False):
    """Rename the legacy keys of a settings file in place; return one line per change.

    Comments, blank lines, sections and the order of keys are kept. With `dry_run` the file is
    left alone and the changes are only reported. A key whose new name is already set in the
    same section is reported as a conflict and left as it is.
    """
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines(keepends=True)
    section = ""
    seen = {}
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().lower()
        elif "=" in stripped and not stripped.startswith(("#", ";")):
            seen.setdefault(section, set()).add(stripped.partition("=")[0].strip().lower())
    changes = []
    section = ""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().lower()
            continue
        if "=" not in stripped or stripped.startswith(("#", ";")):
            continue
        key = stripped.partition("=")[0].strip()
        new = LEGACY_KEYS.get(key.lower())
        if new is None:
            continue
        if new in seen.get(section, set()):
            changes.append(f"line {index + 1}: {key} left as is: {new} is already set")
            continue
        indent = line[: len(line) - len(line.lstrip())]
        rest = line.lstrip()[len(key):]
        lines[index] = f"{indent}{new}{rest}"
        seen.setdefault(section, set()).add(new)
        changes.append(f"line {index + 1}: {key} -> {new}")
    if changes and not dry_run:
        temporary = f"{path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        os.replace(temporary, path)
    if DEBUG:
        print(f"[config] migrate {path}: {len(changes)} change(s)")
    return changes


def set_in_file(path, key, value):
    """Set `key` to `value` in a settings file, creating it; comments and order are kept.

    The first line that sets the key (outside any section) is replaced; otherwise the key is
    added after the last top-level key. Values with spaces or ``#`` are quoted.
    """
    key = key.strip().lower()
    if not key or "=" in key or key.startswith("["):
        raise ValueError(f"not a settings key: {key!r}")
    text = str(value)
    if text != text.strip() or "#" in text or " " in text:
        text = '"' + text.replace('"', "'") + '"'
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        lines = []
    in_section = False
    last_top_level = -1
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            in_section = stripped[1:-1].strip().lower() != "pennywise"
            continue
        if in_section or "=" not in stripped or stripped.startswith(("#", ";")):
            continue
        last_top_level = index
        if stripped.partition("=")[0].strip().lower() == key:
            lines[index] = f"{key} = {text}"
            break
    else:
        lines.insert(last_top_level + 1, f"{key} = {text}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, path)


def tidy_file(path, dry_run=False):
    """Tidy a settings file: keys sorted within each section, ``=`` aligned, one blank line
    between sections. A comment stays with the key below it; comments before the first key
    stay on top. Returns True when the file changed (or would change, with `dry_run`).
    """
    with open(path, encoding="utf-8") as handle:
        original = handle.read()
    header = []
    sections = [["", []]]
    pending = []
    for number, line in enumerate(original.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            if pending and not sections[-1][1] and not header and len(sections) == 1:
                header.extend(pending)
                pending = []
            continue
        if stripped.startswith(("#", ";")):
            pending.append(stripped)
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped[1:-1].strip()
            if not name:
                raise ValueError(f"{path}:{number}: empty section name")
            sections.append([name, []])
            if pending:
                sections[-1][1].append((None, pending, ""))
                pending = []
            continue
        if "=" not in stripped:
            raise ValueError(f"{path}:{number}: expected 'key = value', got {stripped!r}")
        key, _, value = stripped.partition("=")
        sections[-1][1].append((key.strip().lower(), pending, value.strip()))
        pending = []
    blocks = []
    if header:
        blocks.append("\n".join(header))
    for name, entries in sections:
        if not entries and not name:
            continue
        lead = [entry for entry in entries if entry[0] is None]
        keyed = sorted((entry for entry in entries if entry[0] is not None), key=lambda e: e[0])
        width = max((len(entry[0]) for entry in keyed), default=0)
        lines = [f"[{name}]"] if name else []
        for _, comments, _ in lead:
            lines.extend(comments)
        for key, comments, value in keyed:
            lines.extend(comments)
            lines.append(f"{key.ljust(width)} = {value}".rstrip())
        blocks.append("\n".join(lines))
    if pending:
        blocks.append("\n".join(pending))
    tidy = "\n\n".join(block for block in blocks if block) + "\n"
    if tidy == original:
        return False
    if not dry_run:
        temporary = f"{path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(tidy)
        os.replace(temporary, path)
    if DEBUG:
        print(f"[config] tidy {path}: {'would change' if dry_run else 'changed'}")
    return True


def _file_values():
    """The values of the ``PENNY_CONFIG`` file, read once per path."""
    global _file_cache, _file_cache_path
    path = os.environ.get("PENNY_CONFIG")
    if not path:
        return {}
    if path != _file_cache_path:
        if not os.path.exists(path):
            if DEBUG:
                print(f"[config] {path} does not exist, ignoring it")
            return {}
        _file_cache = load_file(path)
        _file_cache_path = path
        if DEBUG:
            print(f"[config] read {len(_file_cache)} value(s) from {path}")
    return _file_cache


def get(name, default=None):
    """The raw text of a setting: ``PENNY_<NAME>`` in the environment, then the file."""
    env_name = "PENNY_" + name.upper()
    if env_name in os.environ:
        return os.environ[env_name]
    values = _file_values()
    if name.lower() in values:
        return values[name.lower()]
    return default


def get_int(name, default):
    """A whole-number setting; a bad value raises ValueError naming the setting."""
    raw = get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"setting {name}: expected a whole number, got {raw!r}") from None


def get_float(name, default):
    """A decimal setting; a bad value raises ValueError naming the setting."""
    raw = get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"setting {name}: expected a number, got {raw!r}") from None


def get_bool(name, default):
    """A yes/no setting: 1/true/yes/on or 0/false/no/off."""
    raw = get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE_WORDS:
        return True
    if lowered in _FALSE_WORDS:
        return False
    raise ValueError(f"setting {name}: expected yes or no, got {raw!r}")


def data_dir():
    """Where the ledger lives: ``PENNY_DATA_DIR``, then the file, then the default."""
    from_env = os.environ.get("PENNY_DATA_DIR")
    if from_env:
        return os.path.expanduser(from_env)
    from_file = _file_values().get("data_dir")
    if from_file:
        return os.path.expanduser(from_file)
    return DEFAULT_DATA_DIR


def set_currency(code):
    """Change the currency for the rest of the process (used by ``--currency``)."""
    global CURRENCY
    cleaned = code.strip().upper()
    if len(cleaned) != 3 or not cleaned.isalpha():
        raise ValueError(f"currency must be a three-letter code, got {code!r}")
    CURRENCY = cleaned
    os.environ["PENNY_CURRENCY"] = cleaned
    if DEBUG:
        print(f"[config] currency set to {cleaned}")


def describe():
    """Lines describing the effective configuration, for ``python -m app config``."""
    lines = []
    lines.append(f"data_dir = {data_dir()}")
    lines.append(f"currency = {os.environ.get('PENNY_CURRENCY', CURRENCY)}")
    lines.append(f"decimals = {get_int('decimals', 2)}")
    lines.append(f"week_start = {get('week_start', 'monday')}")
    lines.append(f"budget = {get_float('budget', 0.0)}")
    lines.append(f"alert_level = {get_int('alert_level', 80)}")
    lines.append(f"backups = {get_int('backups', 3)}")
    lines.append(f"debug = {'yes' if DEBUG else 'no'}")
    lines.append(f"default_category = {get('default_category', 'misc')}")
    source = os.environ.get("PENNY_CONFIG")
    if source:
        lines.append(f"# settings file: {source}")
        unknown = sorted(key for key in _file_values() if key not in KNOWN_KEYS)
        for key in unknown:
            lines.append(f"# unknown key in the settings file: {key}")
    return lines


def validate():
    """Every problem with the current settings, as sentences; an empty list means all is well.

    Used by ``python -m app config --check`` so that a bad value is reported before a command
    fails halfway.
    """
    problems = []
    try:
        values = _file_values()
    except ValueError as exc:
        return [str(exc)]
    for key in sorted(values):
        if key not in KNOWN_KEYS and "." not in key:
            problems.append(f"unknown key {key!r} in {os.environ.get('PENNY_CONFIG')}")
    currency = os.environ.get("PENNY_CURRENCY", CURRENCY)
    if len(currency) != 3 or not currency.isalpha():
        problems.append(f"PENNY_CURRENCY must be a three-letter code, got {currency!r}")
    checks = (
        ("decimals", get_int, 2, lambda v: v in (0, 1, 2), "must be 0, 1 or 2"),
        ("alert_level", get_int, 80, lambda v: 1 <= v <= 100, "must be between 1 and 100"),
        ("backups", get_int, 3, lambda v: v >= 0, "cannot be negative"),
        ("budget", get_float, 0.0, lambda v: v >= 0, "cannot be negative"),
    )
    for name, reader, default, accept, rule in checks:
        try:
            value = reader(name, default)
        except ValueError as exc:
            problems.append(f"PENNY_{name.upper()}: {exc}")
            continue
        if not accept(value):
            problems.append(f"PENNY_{name.upper()} {rule}, got {value!r}")
    week_start = (get("week_start", "monday") or "").strip().lower()
    if week_start not in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        problems.append(f"PENNY_WEEK_START must be a weekday name, got {week_start!r}")
    try:
        get_bool("debug", False)
    except ValueError as exc:
        problems.append(f"PENNY_DEBUG: {exc}")
    folder = data_dir()
    parent = folder
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if os.path.exists(folder) and not os.path.isdir(folder):
        problems.append(f"data_dir {folder} exists and is not a folder")
    elif parent and not os.access(parent, os.W_OK):
        problems.append(f"data_dir {folder} cannot be created or written ({parent} is read-only)")
    if DEBUG:
        print(f"[config] validate: {len(problems)} problem(s)")
    return problems

"""A server's JSON Schemas: checking arguments against them, and the form a model is shown.

Arguments are checked with `jsonschema` (which the `mcp` SDK depends on) before the clutch and
after a person's edit; a schema that is itself broken checks only that the arguments are an
object. What a model is shown is the schema with an object at its root (providers refuse
anything else) and without the keys some providers reject (`$schema`, `$id`).
"""

from __future__ import annotations

from typing import Any

from slop_tui.errors import SlopError
from slop_tui.models import clip_message

_DROPPED_KEYS = ("$schema", "$id")


class ArgumentsRefused(SlopError):
    """Arguments that do not match the tool's input schema; the message says where."""


def model_schema(schema: Any) -> dict[str, Any]:
    """`schema` as a model's tool definition takes it: an object schema at the root."""
    body = {k: v for k, v in schema.items() if k not in _DROPPED_KEYS} if isinstance(schema, dict) else {}
    if body.get("type") != "object":
        body["type"] = "object"
    if not isinstance(body.get("properties"), dict):
        body["properties"] = {}
    return body


def check_arguments(tool: str, schema: Any, arguments: Any) -> None:
    """`ArgumentsRefused` naming the first place `arguments` breaks `schema`."""
    if not isinstance(arguments, dict):
        raise ArgumentsRefused(f"{tool}: arguments must be a JSON object, not {type(arguments).__name__}")
    if not isinstance(schema, dict):
        return
    try:
        import jsonschema
        from jsonschema.exceptions import SchemaError
    except ImportError:  # pragma: no cover - the mcp SDK depends on it
        _minimal_check(tool, schema, arguments)
        return
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = validator_class(schema)
        error = next(iter(sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))), None)
    except SchemaError:
        return  # the server's schema is broken: only the object check above applies
    except Exception as exc:  # a pathological schema (recursion, bad regex) must not crash a ticket
        raise ArgumentsRefused(f"{tool}: the server's schema cannot be checked ({type(exc).__name__})") from None
    if error is not None:
        where = "/".join(str(p) for p in error.path) or "(the arguments)"
        raise ArgumentsRefused(f"{tool}: {where}: {clip_message(error.message, 300)}")


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _minimal_check(tool: str, schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    for name in schema.get("required", []) or []:
        if name not in arguments:
            raise ArgumentsRefused(f"{tool}: {name}: required")
    for name, sub in (schema.get("properties") or {}).items():
        kind = sub.get("type") if isinstance(sub, dict) else None
        if name in arguments and isinstance(kind, str) and kind in _TYPES:
            value = arguments[name]
            bad_bool = isinstance(value, bool) and kind in ("integer", "number")
            if bad_bool or not isinstance(value, _TYPES[kind]):
                raise ArgumentsRefused(f"{tool}: {name}: must be {kind}")

"""Configuration problems worded for the technician who has to fix them.

Every problem is one ``key.path: reason`` line. The reason says what was expected and
what was found, with its type when the type is the mistake (``expected an integer, got
the string "9600"``); an unknown key or table names the closest known one (``did you
mean [[sirens]]?``); a TOML syntax error shows the line and a caret under the spot.
"""

from __future__ import annotations

import difflib
import re
import types
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

#: What a value of a pydantic error type should have been, in words.
EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string in quotes",
    "list_type": "a list [ … ]",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "time_type": "a time such as 08:00:00",
    "time_parsing": "a time such as 08:00:00",
}

TOML_HINTS = (
    ("Illegal character '\\n'", "a string is not closed on this line (every \" needs its pair)"),
    ("Unclosed string", "a string is not closed (every \" needs its pair)"),
    ("Expected '=' after a key", "a key must be followed by = and a value"),
    ("Invalid value", "a value must be a number, true/false, \"a string\", [a, list] or "
                      "{ an = inline-table }"),
    ("Cannot overwrite a value", "this key is given twice"),
    ("Cannot declare", "this table is given twice (use [[…]] for a list of tables)"),
    ("Expected ']' at the end of a table declaration", "a table header must end with ]"),
)


def key_path(loc: Sequence[int | str]) -> str:
    """``('rain_gauges', 1, 'unit')`` → ``rain_gauges[1].unit``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]' if out else part
    return out


def describe(value: Any) -> str:
    """A found value with its TOML type: ``the string "9600"``, ``the integer 5``."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"the date/time {value.isoformat()}"
    return repr(value)


def _inner(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that holds values."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The config model class that holds the key at ``loc`` (``None``: not a model)."""
    current: Any = root
    for part in loc:
        current = _inner(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str):
                return None
            field = next((f for name, f in current.model_fields.items()
                          if part in (name, f.alias)), None)
            if field is None:
                return None
            current = field.annotation
        elif origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = get_args(current)[1]
        else:
            return None
    current = _inner(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def unknown_key(root: type[BaseModel], loc: Sequence[int | str], value: Any) -> str:
    key = str(loc[-1])
    owner = model_at(root, loc[:-1])
    known = known_keys(owner) if owner is not None else []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        what, shown = "table", "[[{}]]"
    elif isinstance(value, dict):
        what, shown = "table", "[{}]"
    else:
        what, shown = "key", '"{}"'
    if close:
        return f"unknown {what} {shown.format(key)}; did you mean {shown.format(close[0])}?"
    if known:
        return f"unknown {what} {shown.format(key)}; known here: {', '.join(known)}"
    return f"unknown {what} {shown.format(key)}"


def reason(root: type[BaseModel], error: dict[str, Any]) -> str:
    kind, msg, found = error["type"], error["msg"], error.get("input")
    if kind == "extra_forbidden":
        return unknown_key(root, error["loc"], found)
    if kind == "missing":
        return "required"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    if kind in EXPECTED:
        return f"expected {EXPECTED[kind]}, got {describe(found)}"
    if kind == "literal_error":
        allowed = str(error.get("ctx", {}).get("expected", msg.removeprefix("Input should be ")))
        numbers = re.fullmatch(r"[-0-9., or]+", allowed) is not None
        if numbers and not isinstance(found, int | float):
            return f"expected an integer, got {describe(found)} (one of {allowed})"
        if not numbers and not isinstance(found, str):
            return f"expected a string in quotes, got {describe(found)} (one of {allowed})"
        return f"must be {allowed}, got {describe(found)}"
    if kind == "string_pattern_mismatch":
        return f"must match {error['ctx']['pattern']}, got {describe(found)}"
    return f"{msg[0].lower()}{msg[1:]}, got {describe(found)}"


def pydantic_problems(root: type[BaseModel], exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        problems.append(f"{key_path(loc)}: {reason(root, {**error, 'loc': loc})}")
    return problems


def toml_problem(text: str, error: Exception, source: str = "(toml)") -> str:
    """A TOML syntax error as ``source:LINE:COL: message — hint``, the line, and a caret."""
    message = str(error)
    where = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if where is None:
        return f"{source}: TOML syntax: {message}"
    line_no, col = int(where.group(1)), int(where.group(2))
    message = message[: where.start()].strip()
    hint = next((h for start, h in TOML_HINTS if message.startswith(start)), None)
    lines = text.splitlines()
    line = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
    head = f"{source}:{line_no}:{col}: TOML syntax: {message}" + (f" — {hint}" if hint else "")
    caret = " " * (4 + display_width(line[: max(0, col - 1)])) + "^"
    return f"{head}\n    {line}\n{caret}"


def display_width(text: str) -> int:
    """Terminal columns of ``text``: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

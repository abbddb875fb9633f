"""Every journal kind the code can record, found by reading the code (its syntax tree).

A kind is the first argument of a ``.record(...)`` call: a string literal
(``"alarm.raised"``), a variable the same function sets from literals (``kind =
"satphone.sms_sent" if ok else "satphone.sms_failed"``), or an f-string whose variable
part comes from a known place (``f"alarm.{what}"``: the literals passed to
``_announce``). A forwarding method (``def record(self, kind, ...)``) is skipped: its
callers are ``.record(...)`` calls too. Anything this cannot resolve is reported, so a
new way of making kinds fails the translation test instead of slipping past it.
"""

from __future__ import annotations

import ast
import importlib
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "broadcast", "sat_phone", "sensors", "drivers", "voice")
KIND = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
#: Receivers whose ``.record(...)`` is not a journal's (a 叫应 callout's record for the
#: state store).
NOT_JOURNALS = frozenset({"callout"})


@dataclass(frozen=True)
class Family:
    """An f-string kind: its literal text around one ``{}`` and where its values come from:
    literal ``arg``-th arguments of calls to ``calls`` (a method or function name)."""

    template: str
    calls: str = ""
    arg: int = 0
    literal: str = ""  # or the values of a typing.Literal alias, "module:Name"

    def values(self, trees: dict[Path, ast.Module]) -> set[str]:
        out = _literal_args(trees, self.calls, self.arg) if self.calls else set()
        if self.literal:
            module, name = self.literal.split(":")
            out |= set(typing.get_args(getattr(importlib.import_module(module), name)))
        return out


#: Where the variable part of each computed kind comes from.
FAMILIES = (
    Family("alarm.{}", "_announce"),
    # on_event("queued", …), and _finish(broadcast, state) with every final state
    Family("broadcast.{}", "on_event", literal="broadcast.record:BroadcastState"),
    Family("audio.session_{}", "_report"),
    Family("fault.{}_action", "Background", arg=1),
    Family("self_test.{}", "_result", arg=1),
    Family("cap.{}", literal="broadcast.cap_decide:Action"),
)


@dataclass
class Found:
    kinds: dict[str, list[str]] = field(default_factory=dict)  # kind -> where
    unresolved: list[str] = field(default_factory=list)

    def add(self, kind: str, where: str) -> None:
        self.kinds.setdefault(kind, []).append(where)


def python_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def _template(node: ast.JoinedStr) -> str | None:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value.replace("{", "{{").replace("}", "}}"))
        else:
            parts.append("{}")
    text = "".join(parts)
    return text if text.count("{}") == 1 else None


def _strings(node: ast.expr) -> list[str] | None:
    """The strings an expression can be: a literal, or either branch of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body), _strings(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def _literal_args(trees: dict[Path, ast.Module], name: str, arg: int) -> set[str]:
    out: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) <= arg:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else None
            if called == name:
                out.update(_strings(node.args[arg]) or ())
    return out


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def scan() -> Found:
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path))
             for path in python_files()}
    found = Found()
    families = {f.template: f for f in FAMILIES}
    for path, tree in trees.items():
        rel = path.relative_to(REPO)
        for function in _functions(tree):
            args = function.args
            params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            literals = {n.value for n in ast.walk(function)
                        if isinstance(n, ast.Constant) and isinstance(n.value, str)
                        and KIND.match(n.value)}
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "record" and call.args):
                    continue
                receiver = call.func.value
                if isinstance(receiver, ast.Name) and receiver.id in NOT_JOURNALS:
                    continue
                first, where = call.args[0], f"{rel}:{call.lineno}"
                strings = _strings(first)
                if strings is not None:
                    for kind in strings:
                        if KIND.match(kind):
                            found.add(kind, where)
                        else:
                            found.unresolved.append(f"{where}: {kind!r} is not a kind")
                elif isinstance(first, ast.JoinedStr):
                    template = _template(first)
                    family = families.get(template or "")
                    if family is None:
                        found.unresolved.append(f"{where}: computed kind {template!r}: add a "
                                                "Family to tests/journal_kinds.py")
                        continue
                    for value in family.values(trees):
                        found.add(family.template.format(value), where)
                elif isinstance(first, ast.Name) and first.id in params:
                    continue  # a forwarder: its callers are scanned
                elif isinstance(first, ast.Name) and literals:
                    for kind in literals:
                        found.add(kind, where)
                else:
                    found.unresolved.append(f"{where}: cannot tell which kind is recorded")
    return found

"""Run search: parse `metrics.acc > 0.9 and params.model = 'rf'` and `metrics.acc DESC` to SQL.

Grammar (case-insensitive keywords):
    filter  := clause ("and" clause)*
    clause  := field op value
    field   := ("metrics" | "params" | "tags" | "attributes") "." key
    key     := bare-name | `quoted name` | "quoted name"
    op      := "=" | "!=" | "<" | "<=" | ">" | ">=" | "like" | "ilike"
    value   := number | 'string' | "string"
    order   := field ["asc" | "desc"]
Attributes: status, name, run_id, start_time, end_time (milliseconds), actor, git_commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from steadyml.core.errors import InvalidFilterError
from steadyml.store.tables import latest_metrics, params, runs, tags


class Scope(StrEnum):
    METRICS = "metrics"
    PARAMS = "params"
    TAGS = "tags"
    ATTRIBUTES = "attributes"


_SCOPE_ALIASES = {"metric": Scope.METRICS, "metrics": Scope.METRICS, "param": Scope.PARAMS,
                  "params": Scope.PARAMS, "tag": Scope.TAGS, "tags": Scope.TAGS,
                  "attribute": Scope.ATTRIBUTES, "attributes": Scope.ATTRIBUTES,
                  "attr": Scope.ATTRIBUTES}
_ATTRIBUTES = {"status": runs.c.status, "name": runs.c.name, "run_id": runs.c.id,
               "start_time": runs.c.start_ms, "end_time": runs.c.end_ms,
               "actor": runs.c.actor, "git_commit": runs.c.git_commit}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
_OPS = ("<=", ">=", "!=", "=", "<", ">", "like", "ilike")
_STRING_OPS = {"=", "!=", "like", "ilike"}

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<field>[A-Za-z_]+\.(?:`[^`]+`|"[^"]+"|[A-Za-z0-9_\-./]+))
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<word>[A-Za-z]+)
    )""", re.VERBOSE)


@dataclass(frozen=True)
class Field:
    scope: Scope
    key: str


@dataclass(frozen=True)
class Clause:
    field: Field
    op: str
    value: str | float


@dataclass(frozen=True)
class OrderBy:
    field: Field
    descending: bool


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a filter expression into clauses joined by AND."""
    if text is None or not text.strip():
        return []
    tokens = _tokenize(text)
    clauses: list[Clause] = []
    i = 0
    while True:
        if i + 3 > len(tokens):
            raise InvalidFilterError(f"Incomplete filter {text!r}: each clause is "
                                     "FIELD OP VALUE, e.g. metrics.acc > 0.9.")
        (kind_f, field_text), (kind_o, op), (kind_v, value) = tokens[i:i + 3]
        if kind_f != "field":
            raise InvalidFilterError(f"Expected a field like metrics.acc in filter {text!r}, "
                                     f"got {field_text!r}.")
        if not (kind_o == "op" or (kind_o == "word" and op.lower() in _OPS)):
            raise InvalidFilterError(f"Expected a comparison ({', '.join(_OPS)}) after "
                                     f"{field_text!r} in filter {text!r}, got {op!r}.")
        if kind_v not in ("string", "number"):
            raise InvalidFilterError(f"Expected a number or a quoted string after "
                                     f"{field_text} {op} in filter {text!r}, got {value!r}.")
        clause = Clause(_field(field_text), op.lower(),
                        float(value) if kind_v == "number" else _unquote(value))
        _check_clause(clause)
        clauses.append(clause)
        i += 3
        if i == len(tokens):
            return clauses
        kind, word = tokens[i]
        if kind != "word" or word.lower() != "and":
            raise InvalidFilterError(f"Expected AND between clauses in filter {text!r}, got "
                                     f"{word!r} (OR is not supported: run two searches).")
        i += 1


def parse_order_by(items: list[str] | tuple[str, ...] | None) -> list[OrderBy]:
    """Parse order expressions like `metrics.acc DESC` or `attributes.start_time`."""
    orders = []
    for item in items or ():
        parts = item.strip().rsplit(None, 1)
        descending = False
        if len(parts) == 2 and parts[1].lower() in ("asc", "desc"):
            descending = parts[1].lower() == "desc"
            item = parts[0]
        tokens = _tokenize(item)
        if len(tokens) != 1 or tokens[0][0] != "field":
            raise InvalidFilterError(f"Cannot order by {item!r}: use FIELD [ASC|DESC], e.g. "
                                     "metrics.acc DESC.")
        orders.append(OrderBy(_field(tokens[0][1]), descending))
    return orders


Join = tuple[sa.FromClause, sa.ColumnElement[bool]]


def compile_search(clauses: list[Clause], orders: list[OrderBy]
                   ) -> tuple[list[sa.ColumnElement[bool]], list[sa.ColumnElement[object]], list[Join]]:
    """Return WHERE conditions, ORDER BY terms and the outer joins (table, ON) they need."""
    where = [_condition(clause) for clause in clauses]
    order_terms: list[sa.ColumnElement[object]] = []
    joins: list[Join] = []
    for n, order in enumerate(orders):
        column = _order_column(order.field, n, joins)
        order_terms.append(column.is_(None))  # rows without the value sort last
        order_terms.append(column.desc() if order.descending else column.asc())
    order_terms += [runs.c.start_ms.desc(), runs.c.id]
    return where, order_terms, joins


def _condition(clause: Clause) -> sa.ColumnElement[bool]:
    scope, key, op, value = clause.field.scope, clause.field.key, clause.op, clause.value
    if scope is Scope.ATTRIBUTES:
        return _compare(_ATTRIBUTES[key], op, value)
    table = {Scope.METRICS: latest_metrics, Scope.PARAMS: params, Scope.TAGS: tags}[scope]
    return runs.c.id.in_(sa.select(table.c.run_id).where(
        table.c.key == key, _compare(table.c.value, op, value)))


def _compare(column: sa.ColumnElement[object], op: str, value: str | float) -> sa.ColumnElement[bool]:
    if op == "like":
        return column.like(str(value))
    if op == "ilike":
        return column.ilike(str(value))
    return {"=": column.__eq__, "!=": column.__ne__, "<": column.__lt__, "<=": column.__le__,
            ">": column.__gt__, ">=": column.__ge__}[op](value)


def _order_column(field: Field, n: int, joins: list[Join]) -> sa.ColumnElement[object]:
    if field.scope is Scope.ATTRIBUTES:
        return _ATTRIBUTES[field.key]
    table = {Scope.METRICS: latest_metrics, Scope.PARAMS: params, Scope.TAGS: tags}[field.scope]
    alias = table.alias(f"order_{n}")
    joins.append((alias, sa.and_(alias.c.run_id == runs.c.id, alias.c.key == field.key)))
    return alias.c.value


def _check_clause(clause: Clause) -> None:
    scope, key, op = clause.field.scope, clause.field.key, clause.op
    if scope is Scope.METRICS and not isinstance(clause.value, float):
        raise InvalidFilterError(f"metrics.{key} is numeric: compare it with a number, not "
                                 f"{clause.value!r}.")
    if scope in (Scope.PARAMS, Scope.TAGS) and op not in _STRING_OPS:
        raise InvalidFilterError(f"{scope}.{key} holds strings: use =, !=, LIKE or ILIKE "
                                 f"with a quoted value, not {op!r}.")
    if scope is Scope.ATTRIBUTES and key in _NUMERIC_ATTRIBUTES and isinstance(clause.value, str):
        raise InvalidFilterError(f"attributes.{key} is a time in milliseconds: compare it "
                                 "with a number.")
    if scope in (Scope.PARAMS, Scope.TAGS) and isinstance(clause.value, float):
        raise InvalidFilterError(f"{scope}.{key} holds strings: quote the value, e.g. "
                                 f"{scope}.{key} = '{clause.value:g}'.")


def _field(text: str) -> Field:
    scope_text, key = text.split(".", 1)
    scope = _SCOPE_ALIASES.get(scope_text.lower())
    if scope is None:
        raise InvalidFilterError(f"Unknown field scope {scope_text!r} in {text!r}: use "
                                 "metrics., params., tags. or attributes.")
    key = _unquote(key) if key[:1] in "`\"" else key
    if scope is Scope.ATTRIBUTES and key not in _ATTRIBUTES:
        raise InvalidFilterError(f"Unknown attribute {key!r}: use one of "
                                 f"{', '.join(sorted(_ATTRIBUTES))}.")
    return Field(scope, key)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidFilterError(f"Cannot parse filter {text!r} at position {pos}: "
                                     f"{text[pos:pos + 20]!r}.")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)

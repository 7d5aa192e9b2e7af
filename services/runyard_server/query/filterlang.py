"""The runs filter language: a tokenizer and a recursive-descent parser that build parameterized SQL.

    config.lr < 0.01 and (state = finished or tags contains "best")

Grammar (keywords are case-insensitive):

    expr       := and_expr ( OR and_expr )*
    and_expr   := not_expr ( AND not_expr )*
    not_expr   := NOT not_expr | primary
    primary    := '(' expr ')' | comparison
    comparison := field ( '=' | '!=' | '<' | '<=' | '>' | '>=' ) literal
                | field CONTAINS literal
                | field MATCHES string                     (a regular expression, see check_regex)
                | field [NOT] IN '(' literal ( ',' literal )* ')'
    field      := name | state | tags | group | job_type | host | id | created_at | updated_at
                | config.<key> | summary.<key>          (<key> may hold '.', '/', '-'; `config.`a b`` quotes)
    literal    := number | "string" | 'string' | bare_word | true | false | null

Nothing the user typed ever becomes SQL text: field names map to fixed column expressions, keys and
literals travel as bind parameters. Numbers compare numerically only against JSON numbers
(`jsonb_typeof(..) = 'number'`); a comparison with a missing key is false (also for `!=`).
Every error is an `InvalidArgument` naming the 1-based character position of the problem.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..common.errors import InvalidArgument
from ..common.limits import FILTER_DEPTH_MAX, FILTER_MAX, FILTER_NUMBER_EXPONENT_MAX

MAX_LENGTH = FILTER_MAX
MAX_DEPTH = FILTER_DEPTH_MAX

# field -> SQL column (fixed text; never built from user input)
TEXT_COLUMNS = {"name": "r.name", "state": "r.state", "group": "r.group_name", "job_type": "r.job_type",
                "host": "r.host", "id": "r.run_id", "notes": "r.notes"}
TIME_COLUMNS = {"created_at": "r.created_at", "updated_at": "r.updated_at", "finished_at": "r.finished_at",
                "heartbeat_at": "r.heartbeat_at"}
JSON_COLUMNS = {"config": "r.config", "summary": "r.summary"}
FIELDS_HELP = ("name, state, tags, group, job_type, host, id, notes, created_at, updated_at, finished_at, "
               "config.<key>, summary.<key>")

COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
KEYWORDS = {"and", "or", "not", "contains", "matches", "in", "true", "false", "null"}
MAX_REGEX = 256


class FilterError(InvalidArgument):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"filter: {message} at position {pos + 1}")
        self.pos = pos


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, op, lparen, rparen, comma, kw, end
    text: str
    pos: int
    value: Any = None


_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT = re.compile(r"[A-Za-z0-9_]+(?:(?:[./\-][A-Za-z0-9_]+)|\.`(?:[^`\\]|\\.)*`)*(?:\.`(?:[^`\\]|\\.)*`)?")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z0-9_])")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the expression is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            out.append(Token("lparen", c, i))
            i += 1
        elif c == ")":
            out.append(Token("rparen", c, i))
            i += 1
        elif c == ",":
            out.append(Token("comma", c, i))
            i += 1
        elif c in "=!<>":
            two = text[i:i + 2]
            if two in ("!=", "<=", ">=", "=="):
                out.append(Token("op", "=" if two == "==" else two, i))
                i += 2
            elif c == "!":
                raise FilterError("'!' must be followed by '=' (use `not` to negate)", i)
            else:
                out.append(Token("op", c, i))
                i += 1
        elif c in "\"'":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise FilterError("unterminated string (missing closing quote)", i)
                ch = text[j]
                if ch == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                if ch == c:
                    break
                buf.append(ch)
                j += 1
            out.append(Token("string", text[i:j + 1], i, "".join(buf)))
            i = j + 1
        elif (m := _NUMBER.match(text, i)) and (c.isdigit() or c in "+-." ):
            raw = m.group(0)
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise FilterError(f"bad number {raw!r}", i) from None
            if value and abs(value.adjusted()) > FILTER_NUMBER_EXPONENT_MAX:
                raise FilterError(f"the number {raw[:40]!r} is out of range (its magnitude must lie between "
                                  f"1e-{FILTER_NUMBER_EXPONENT_MAX} and 1e{FILTER_NUMBER_EXPONENT_MAX})", i)
            out.append(Token("number", raw, i, value))
            i = m.end()
        elif _IDENT_START.match(c):
            m = _IDENT.match(text, i)
            assert m is not None
            word = m.group(0)
            low = word.lower()
            if low in KEYWORDS:
                out.append(Token("kw", low, i))
            else:
                out.append(Token("ident", word, i))
            i = m.end()
        else:
            raise FilterError(f"unexpected character {c!r}", i)
    out.append(Token("end", "", n))
    return out


@dataclass
class Field:
    kind: str  # text, time, tags, json
    sql: str  # column expression (fixed text)
    path: list[str] = field(default_factory=list)  # json key path
    name: str = ""


def split_key(key: str, pos: int) -> list[str]:
    """`a.b` -> ['a', 'b']; backquoted parts keep their dots: a.`b.c` -> ['a', 'b.c']."""
    parts: list[str] = []
    i = 0
    while i < len(key):
        if key[i] == "`":
            j, buf = i + 1, []
            while j < len(key) and key[j] != "`":
                if key[j] == "\\" and j + 1 < len(key):
                    j += 1
                buf.append(key[j])
                j += 1
            parts.append("".join(buf))
            i = j + 2  # past the closing ` and the following dot
        else:
            j = key.find(".", i)
            if j < 0:
                j = len(key)
            if j == i:
                raise FilterError("empty key part", pos)
            parts.append(key[i:j])
            i = j + 1
    if not parts:
        raise FilterError("missing key after the dot", pos)
    return parts


def resolve_field(name: str, pos: int) -> Field:
    low = name.lower()
    if low in TEXT_COLUMNS:
        return Field("text", TEXT_COLUMNS[low], name=low)
    if low in TIME_COLUMNS:
        return Field("time", TIME_COLUMNS[low], name=low)
    if low in ("tags", "tag"):
        return Field("tags", "r.tags", name="tags")
    head, dot, rest = name.partition(".")
    if dot and head.lower() in JSON_COLUMNS:
        return Field("json", JSON_COLUMNS[head.lower()], split_key(rest, pos + len(head) + 1), name=name)
    raise FilterError(f"unknown field {name!r} (fields: {FIELDS_HELP})", pos)


class SqlBuilder:
    """Collects bind parameters; `start` is the number of parameters the surrounding query already uses."""

    def __init__(self, start: int = 0) -> None:
        self.args: list[Any] = []
        self.start = start

    def param(self, value: Any, cast: str) -> str:
        self.args.append(value)
        return f"${self.start + len(self.args)}::{cast}"


def json_path_sql(f: Field, b: SqlBuilder) -> str:
    if len(f.path) == 1:
        return f"({f.sql} -> {b.param(f.path[0], 'text')})"
    return f"({f.sql} #> {b.param(f.path, 'text[]')})"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_SQL_OP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class Parser:
    def __init__(self, text: str, builder: SqlBuilder) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.b = builder
        self.depth = 0

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def advance(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "kw" and self.tok.text == word

    def describe(self, t: Token) -> str:
        return "the end of the expression" if t.kind == "end" else repr(t.text)

    # -- grammar
    def parse(self) -> str:
        if self.tok.kind == "end":
            raise FilterError("empty expression", 0)
        sql = self.or_expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "rparen":
                raise FilterError("unbalanced ')'", t.pos)
            raise FilterError(f"expected `and`, `or` or the end, found {self.describe(t)}", t.pos)
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.is_kw("or"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.not_expr()]
        while self.is_kw("and"):
            self.advance()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_expr(self) -> str:
        if self.is_kw("not"):
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError("the expression nests too deeply", self.tok.pos)
            inner = self.not_expr()
            self.depth -= 1
            return f"(NOT coalesce({inner}, false))"
        return self.primary()

    def primary(self) -> str:
        t = self.tok
        if t.kind == "lparen":
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError("the expression nests too deeply", t.pos)
            inner = self.or_expr()
            self.depth -= 1
            if self.tok.kind != "rparen":
                raise FilterError(f"expected ')' to close the '(' at position {t.pos + 1}, found "
                                  f"{self.describe(self.tok)}", self.tok.pos)
            self.advance()
            return inner
        if t.kind != "ident":
            raise FilterError(f"expected a field name ({FIELDS_HELP}), found {self.describe(t)}", t.pos)
        self.advance()
        f = resolve_field(t.text, t.pos)
        op = self.tok
        if op.kind == "op":
            self.advance()
            lit = self.literal()
            return self.compare(f, op.text, lit, op.pos)
        if op.kind == "kw" and op.text == "contains":
            self.advance()
            lit = self.literal()
            return self.contains(f, lit)
        if op.kind == "kw" and op.text == "matches":
            self.advance()
            lit = self.literal()
            return self.matches(f, lit)
        negate = False
        if op.kind == "kw" and op.text == "not" and self.toks[self.i + 1].kind == "kw" and self.toks[self.i + 1].text == "in":
            self.advance()
            negate = True
        if self.is_kw("in"):
            self.advance()
            lits = self.literal_list()
            sql = self.in_list(f, lits, self.tok.pos)
            return f"(NOT coalesce({sql}, false))" if negate else sql
        raise FilterError(f"expected an operator (= != < <= > >= contains matches in) after {t.text!r}, found "
                          f"{self.describe(op)}", op.pos)

    def literal(self) -> Token:
        t = self.tok
        if t.kind in ("string", "number", "ident") or (t.kind == "kw" and t.text in ("true", "false", "null")):
            self.advance()
            return t
        raise FilterError(f"expected a value (number, \"string\", word, true, false or null), found {self.describe(t)}",
                          t.pos)

    def literal_list(self) -> list[Token]:
        if self.tok.kind != "lparen":
            raise FilterError(f"expected '(' after `in`, found {self.describe(self.tok)}", self.tok.pos)
        self.advance()
        out = [self.literal()]
        while self.tok.kind == "comma":
            self.advance()
            out.append(self.literal())
        if self.tok.kind != "rparen":
            raise FilterError(f"expected ',' or ')' in the list, found {self.describe(self.tok)}", self.tok.pos)
        self.advance()
        return out

    # -- SQL per field kind
    @staticmethod
    def text_of(lit: Token) -> str:
        if lit.kind == "string":
            return str(lit.value)
        return lit.text

    def time_of(self, lit: Token) -> dt.datetime:
        if lit.kind not in ("string", "ident"):
            raise FilterError("a time needs a quoted ISO 8601 date, e.g. \"2026-01-31\" or \"2026-01-31T12:00Z\"", lit.pos)
        try:
            return parse_time(self.text_of(lit))
        except ValueError as exc:
            raise FilterError(str(exc), lit.pos) from None

    def compare(self, f: Field, op: str, lit: Token, op_pos: int) -> str:
        sop = _SQL_OP[op]
        b = self.b
        if f.kind == "text":
            if lit.kind == "kw" and lit.text == "null":
                raise FilterError(f"{f.name} is never null; compare with \"\" instead", lit.pos)
            return f"({f.sql} {sop} {b.param(self.text_of(lit), 'text')})"
        if f.kind == "time":
            if lit.kind == "kw" and lit.text == "null":
                if op not in ("=", "!="):
                    raise FilterError("null only works with = and !=", op_pos)
                return f"({f.sql} IS {'NOT ' if op == '!=' else ''}NULL)"
            return f"({f.sql} {sop} {b.param(self.time_of(lit), 'timestamptz')})"
        if f.kind == "tags":
            if op not in ("=", "!="):
                raise FilterError("tags support =, !=, contains and in", op_pos)
            sql = f"({b.param(self.text_of(lit), 'text')} = ANY(r.tags))"
            return sql if op == "=" else f"(NOT {sql})"
        # json
        x = json_path_sql(f, b)
        if lit.kind == "number":
            return f"((CASE WHEN jsonb_typeof({x}) = 'number' THEN ({x})::numeric END) {sop} {b.param(lit.value, 'numeric')})"
        if lit.kind == "kw" and lit.text in ("true", "false"):
            if op not in ("=", "!="):
                raise FilterError("true/false only work with = and !=", op_pos)
            return f"((CASE WHEN jsonb_typeof({x}) = 'boolean' THEN ({x})::boolean END) {sop} {b.param(lit.text == 'true', 'boolean')})"
        if lit.kind == "kw" and lit.text == "null":
            if op == "=":
                return f"({x} IS NULL OR jsonb_typeof({x}) = 'null')"
            if op == "!=":
                return f"({x} IS NOT NULL AND jsonb_typeof({x}) <> 'null')"
            raise FilterError("null only works with = and !=", op_pos)
        return f"((CASE WHEN jsonb_typeof({x}) = 'string' THEN {x} #>> '{{}}' END) {sop} {b.param(self.text_of(lit), 'text')})"

    def contains(self, f: Field, lit: Token) -> str:
        b = self.b
        if lit.kind == "kw" and lit.text == "null":
            raise FilterError("`contains` needs a value other than null", lit.pos)
        if f.kind == "tags":
            return f"({b.param(self.text_of(lit), 'text')} = ANY(r.tags))"
        if f.kind == "time":
            raise FilterError(f"{f.name} is a time: use < > <= >=, not `contains`", lit.pos)
        if f.kind == "text":
            return f"({f.sql} ILIKE {b.param(_like(self.text_of(lit)), 'text')})"
        x = json_path_sql(f, b)
        if lit.kind == "number":
            elem: Any = float(lit.value) if "." in lit.text or "e" in lit.text.lower() else int(lit.value)
            if isinstance(elem, float) and not math.isfinite(elem):
                raise FilterError(f"`contains` compares with array elements, which are 64-bit floats: "
                                  f"{lit.text[:40]!r} is out of their range", lit.pos)
        elif lit.kind == "kw":
            elem = lit.text == "true"
        else:
            elem = self.text_of(lit)
        arr = b.param([elem], "jsonb")
        text_part = ""
        if isinstance(elem, str):
            text_part = f" OR (jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') ILIKE {b.param(_like(elem), 'text')})"
        return f"((jsonb_typeof({x}) = 'array' AND {x} @> {arr}){text_part})"

    def matches(self, f: Field, lit: Token) -> str:
        if lit.kind != "string":
            raise FilterError("`matches` takes a quoted regular expression", lit.pos)
        pattern = check_regex(str(lit.value), lit.pos)
        if f.kind == "time":
            raise FilterError(f"{f.name} is a time: use < > <= >=, not `matches`", lit.pos)
        param = self.b.param(pattern, "text")
        if f.kind == "text":
            return f"({f.sql} ~ {param})"
        if f.kind == "tags":
            return f"(EXISTS (SELECT 1 FROM unnest(r.tags) AS t(tag) WHERE t.tag ~ {param}))"
        x = json_path_sql(f, self.b)
        return f"(jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') ~ {param})"

    def in_list(self, f: Field, lits: list[Token], pos: int) -> str:
        b = self.b
        if f.kind in ("text", "tags"):
            for lit in lits:
                if lit.kind == "kw" and lit.text == "null":
                    raise FilterError(f"{f.name} is never null", lit.pos)
            values = [self.text_of(lit) for lit in lits]
            if f.kind == "tags":
                return f"(r.tags && {b.param(values, 'text[]')})"
            return f"({f.sql} = ANY({b.param(values, 'text[]')}))"
        if f.kind == "time":
            return f"({f.sql} = ANY({b.param([self.time_of(lit) for lit in lits], 'timestamptz[]')}))"
        return "(" + " OR ".join(self.compare(f, "=", lit, pos) for lit in lits) + ")"


_REGEX_UNSUPPORTED = re.compile(r"\\[1-9bBAZzGpPNxuU]|\(\?(?!:)")
_REGEX_BOUND = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def check_regex(pattern: str, pos: int) -> str:
    """A regular expression PostgreSQL and Python read alike: at most MAX_REGEX characters, an optional
    leading `(?i)` (case-insensitive), groups `( )` and `(?: )`, classes, `. * + ? | ^ $`, `{m,n}` up to
    255, and the escapes `\\d \\w \\s` (upper case too) and escaped punctuation. No back-references,
    lookarounds or other inline flags (PostgreSQL reads those differently or not at all)."""
    if len(pattern) > MAX_REGEX:
        raise FilterError(f"the regular expression is longer than {MAX_REGEX} characters", pos)
    body = pattern[4:] if pattern.startswith("(?i)") else pattern
    bad = _REGEX_UNSUPPORTED.search(body)
    if bad is not None:
        raise FilterError(f"the regular expression uses {bad.group(0)!r}, which is not supported (no back-references, "
                          "lookarounds, inline flags other than a leading (?i), or \\b \\A \\Z \\p \\x)", pos)
    for m in _REGEX_BOUND.finditer(body):
        if any(int(g) > 255 for g in m.groups() if g):
            raise FilterError("a repetition bound {m,n} may not exceed 255", pos)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise FilterError(f"invalid regular expression: {exc.msg}", pos) from None
    return pattern


def compile_filter(text: str, start: int = 0) -> tuple[str, list[Any]]:
    """SQL condition (on `runs r`) and its bind parameters, numbered from `start + 1`."""
    b = SqlBuilder(start)
    sql = Parser(text, b).parse()
    return sql, b.args


def parse_time(raw: str) -> dt.datetime:
    """An ISO 8601 date or time as an aware UTC datetime (no offset: UTC). ValueError with a message when
    it is not one, or lies outside years 1-9999 once in UTC (what both Python and PostgreSQL hold)."""
    text = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{raw[:80]!r} is not an ISO 8601 date or time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError(f"{raw[:80]!r} is out of range: times must lie within years 1-9999 in UTC") from None


# ---------------------------------------------------------------- order and group keys

def compile_sort_key(spec: str, b: SqlBuilder) -> list[str]:
    """ORDER BY items for one `order` entry: `-summary.loss`, `config.lr`, `name`, `created_at`, ...

    JSON keys sort numbers first (numerically), then strings, missing values last in both directions.
    """
    descending = spec.startswith("-")
    name = spec.lstrip("-+").strip()
    if not name:
        raise InvalidArgument("order: empty field name")
    direction = "DESC" if descending else "ASC"
    try:
        f = resolve_field(name, 0)
    except FilterError:
        raise InvalidArgument(f"order must be one of {FIELDS_HELP}, optionally prefixed with '-'; got {name!r}") from None
    if f.kind in ("text", "time"):
        return [f"{f.sql} {direction} NULLS LAST"]
    if f.kind == "tags":
        return [f"array_to_string(r.tags, ',') {direction}"]
    x = json_path_sql(f, b)
    return [
        f"(CASE WHEN jsonb_typeof({x}) = 'number' THEN 0 WHEN jsonb_typeof({x}) = 'string' THEN 1 ELSE 2 END) ASC",
        f"(CASE WHEN jsonb_typeof({x}) = 'number' THEN ({x})::numeric END) {direction} NULLS LAST",
        f"(CASE WHEN jsonb_typeof({x}) = 'string' THEN {x} #>> '{{}}' END) {direction} NULLS LAST",
    ]


def group_key_sql(spec: str, b: SqlBuilder) -> str:
    """The SQL expression of a group-by field, as jsonb (so numbers, strings and nulls group apart)."""
    try:
        f = resolve_field(spec.strip(), 0)
    except FilterError:
        raise InvalidArgument(f"by: unknown field {spec!r} (fields: {FIELDS_HELP})") from None
    if f.kind == "text":
        return f"to_jsonb({f.sql})"
    if f.kind == "tags":
        raise InvalidArgument("by: runs cannot be grouped by tags (a run has several)")
    if f.kind == "time":
        return f"to_jsonb(date_trunc('day', {f.sql}))"
    return f"coalesce({json_path_sql(f, b)}, 'null'::jsonb)"


def metric_sql(spec: str, b: SqlBuilder) -> str:
    """A numeric SQL expression for `metric=` (NULL where the value is not a JSON number).

    PostgreSQL `numeric`, not float8: JSON numbers may exceed a double, and even two values near the
    double's maximum overflow its sum (the mean); the caller turns the aggregates into floats, where
    out-of-range values become infinities."""
    try:
        f = resolve_field(spec.strip(), 0)
    except FilterError:
        raise InvalidArgument(f"metric: unknown field {spec!r} (use summary.<key> or config.<key>)") from None
    if f.kind != "json":
        raise InvalidArgument("metric: use summary.<key> or config.<key>")
    x = json_path_sql(f, b)
    return f"(CASE WHEN jsonb_typeof({x}) = 'number' THEN ({x})::numeric END)"

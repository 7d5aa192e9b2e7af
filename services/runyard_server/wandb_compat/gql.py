"""The executable GraphQL schema (ariadne, schema-first) and how a request is answered.

Errors: a domain error raised by a resolver becomes a GraphQL error whose message is the domain message
and whose `extensions.code` is its code (`not_found`, `permission_denied`, ...). A query that names a field
this server does not have (an operation of W&B that Runyard does not implement) fails validation with a
message saying so. An unknown key (Unauthenticated from any resolver) makes the whole answer HTTP 401, the
way the wandb client expects a bad key to be reported; a dependency outage makes it 503 with Retry-After.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ariadne import ScalarType, format_error, graphql, make_executable_schema
from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from ..common.errors import RunyardError, Unauthenticated
from .resolvers import bindables

__all__ = ["SCHEMA_PATH", "execute", "schema"]

log = logging.getLogger("runyard.wandb")
# ariadne logs every error it formats; ours are the client's (not found, refused) or logged in _format
_QUIET = logging.getLogger("runyard.wandb.graphql")
_QUIET.setLevel(logging.CRITICAL + 1)
SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
DOCS = "docs/wandb-compat.md"

_scalars = [ScalarType(name) for name in ("JSONString", "JSON", "DateTime", "Int64", "Duration")]
schema: GraphQLSchema = make_executable_schema(SCHEMA_PATH.read_text(), *_scalars, *bindables)

_UNKNOWN_FIELD = re.compile(r"^Cannot query field '([^']+)' on type '(Query|Mutation)'")


def _format(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    formatted: dict[str, Any] = format_error(error, debug)
    original = error.original_error
    if isinstance(original, RunyardError):
        formatted["message"] = original.message
        formatted.setdefault("extensions", {})["code"] = original.code
        return formatted
    if original is not None and not isinstance(original, GraphQLError):
        log.error("unexpected error in %s", ".".join(str(p) for p in error.path or ()), exc_info=original)
        formatted["message"] = "internal server error"
        formatted.setdefault("extensions", {})["code"] = "internal"
        return formatted
    m = _UNKNOWN_FIELD.match(error.message)
    if m:
        kind = "mutation" if m.group(2) == "Mutation" else "query"
        formatted["message"] = (
            f"Runyard does not implement the W&B {kind} `{m.group(1)}` ({DOCS} lists the operations it "
            f"answers): {error.message}"
        )
        formatted.setdefault("extensions", {})["code"] = "not_implemented"
    return formatted


MAX_DEPTH = 20  # the deepest operation of the wandb client nests 11 fields


def _depth(selection: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str],
           level: int) -> int:
    if selection is None:
        return level
    deepest = level
    for node in selection.selections:
        if isinstance(node, FieldNode):
            deepest = max(deepest, _depth(node.selection_set, fragments, seen, level + 1))
        elif isinstance(node, InlineFragmentNode):
            deepest = max(deepest, _depth(node.selection_set, fragments, seen, level))
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in fragments and name not in seen:  # a cycle is reported by the standard rules
                deepest = max(deepest, _depth(fragments[name].selection_set, fragments, seen | {name}, level))
        if deepest > MAX_DEPTH:
            return deepest
    return deepest


class MaxDepthRule(ASTValidationRule):
    """Refuse operations nested deeper than MAX_DEPTH: every level may call another service."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        fragments = {d.name.value: d for d in self.context.document.definitions
                     if isinstance(d, FragmentDefinitionNode)}
        if _depth(node.selection_set, fragments, frozenset(), 0) > MAX_DEPTH:
            self.report_error(GraphQLError(f"the operation nests fields deeper than {MAX_DEPTH} levels", node))


def _first_domain_error(errors: list[GraphQLError]) -> RunyardError | None:
    for err in errors:
        if isinstance(err.original_error, RunyardError):
            return err.original_error
    return None


async def execute(data: Any, context: Any, *, collected: list[GraphQLError] | None = None) -> tuple[int, dict[str, Any],
                                                                                               RunyardError | None]:
    """(HTTP status, body, the domain error that decides a non-200 status) for one GraphQL request."""
    raw_errors: list[GraphQLError] = collected if collected is not None else []

    def keep(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
        raw_errors.append(error)
        return _format(error, debug)

    if isinstance(data, dict) and not data.get("operationName"):
        data = {**data, "operationName": None}  # the client sends "" for a document with one operation
    success, result = await graphql(schema, data, context_value=context, error_formatter=keep, debug=False,
                                    logger=_QUIET.name, validation_rules=[MaxDepthRule])
    decisive = _first_domain_error(raw_errors)
    if isinstance(decisive, Unauthenticated):
        return 401, result, decisive
    if decisive is not None and decisive.http == 503:
        return 503, result, decisive
    # a request that did not validate (or parse) never ran: 400; errors while running travel in a 200
    return (200 if success or "data" in result else 400), result, decisive

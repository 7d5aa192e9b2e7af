"""The GraphQL operations the installed `wandb` client can send, read from the client itself.

Two sources, both from the pinned package (nothing is copied into this repository):
- the `wandb-core` binary (Go), whose operation documents are string literals in the executable;
- the Python package's generated operations (`*_GQL` constants in `_generated/operations.py`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import wandb

PACKAGE = Path(wandb.__file__).parent
_START = re.compile(rb"(query|mutation) [A-Za-z_][A-Za-z0-9_]* ?[({]")
_NAME = re.compile(r"^\s*(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)")
_SPREAD = re.compile(r"\.\.\.\s*(?!on\b)([A-Za-z_][A-Za-z0-9_]*)")


def _balanced(data: bytes, start: int) -> bytes | None:
    """The text from `start` through the brace that closes the first `{` (parentheses skipped)."""
    depth = 0
    seen = False
    for i in range(start, min(len(data), start + 20_000)):
        c = data[i]
        if c == 0x7B:
            depth += 1
            seen = True
        elif c == 0x7D:
            depth -= 1
            if seen and depth == 0:
                return data[start:i + 1]
        elif c < 0x09 or (c > 0x7E and c < 0xA0):
            return None
    return None


def core_documents() -> dict[str, str]:
    """name -> document of every operation in the wandb-core binary (fragments appended to the
    operations that spread them)."""
    data = (PACKAGE / "bin" / "wandb-core").read_bytes()
    fragments: dict[str, str] = {}
    for m in re.finditer(rb"fragment ([A-Za-z_][A-Za-z0-9_]*) on [A-Za-z_][A-Za-z0-9_]* ?\{", data):
        body = _balanced(data, m.start())
        if body is not None:
            fragments.setdefault(m.group(1).decode(), body.decode("ascii", "replace"))
    out: dict[str, str] = {}
    for m in _START.finditer(data):
        body = _balanced(data, m.start())
        if body is None:
            continue
        text = body.decode("ascii", "replace")
        name = _NAME.match(text)
        if name is None or name.group(1) in out:
            continue
        out[name.group(1)] = _with_fragments(text, fragments)
    return out


def _with_fragments(text: str, fragments: dict[str, str]) -> str:
    needed: list[str] = []
    todo = re.findall(_SPREAD, text)
    while todo:
        name = todo.pop()
        if name in needed or name not in fragments:
            continue
        needed.append(name)
        todo.extend(re.findall(_SPREAD, fragments[name]))
    return "\n".join([text, *(fragments[n] for n in needed)])


def python_documents() -> dict[str, str]:
    """name -> document of the Python package's generated operations (`*_GQL` constants)."""
    out: dict[str, str] = {}
    for path in PACKAGE.rglob("_generated/operations.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id.endswith("_GQL"):
                    name = _NAME.match(node.value.value)
                    if name:
                        out[name.group(1)] = node.value.value
    return out

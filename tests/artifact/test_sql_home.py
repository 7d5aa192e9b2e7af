"""All SQL of the artifact service lives in `artifact/queries/` (CONVENTIONS #3): a statement written
anywhere else in the service fails here, naming the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import runyard_server.artifact as artifact

PACKAGE = Path(artifact.__file__).parent
# a database call, or an SQL statement in a string
SQL = re.compile(r"\bconn\.(fetch|fetchrow|fetchval|execute|executemany|copy_\w+)\(|"
                 r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b")


def test_sql_only_in_queries() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py")) if "queries" not in path.relative_to(PACKAGE).parts
             for n, line in enumerate(path.read_text().splitlines(), 1) if SQL.search(line)]
    assert not found, "SQL outside artifact/queries/:\n" + "\n".join(found)
    assert len(list((PACKAGE / "queries").glob("*.py"))) > 1

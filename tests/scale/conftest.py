"""Scale-out fixtures: extra ingest processes beside the session stack's, and PgBouncer in front of its
PostgreSQL (transaction pooling), each a real process on a real socket.

    ingest_pair                 # (address A, address B): two `runyard-server ingest` on one database
    pgbouncer                   # Bouncer: .dsn(database) through PgBouncer, .stats()
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import TestStack

from .support import Bouncer, start_bouncer, start_ingest


@pytest.fixture(scope="module")
def ingest_pair(stack: TestStack, admin_key: str) -> Iterator[tuple[str, str]]:
    a = start_ingest(stack, "ingest-a")
    try:
        b = start_ingest(stack, "ingest-b")
        try:
            yield a.address, b.address
        finally:
            b.stop()
    finally:
        a.stop()


@pytest.fixture(scope="module")
def pgbouncer(stack: TestStack) -> Iterator[Bouncer]:
    bouncer = start_bouncer(stack)
    try:
        yield bouncer
    finally:
        bouncer.stop()

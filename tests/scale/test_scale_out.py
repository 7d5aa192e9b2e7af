"""Ingest scales as replicas: two `runyard-server ingest` processes on one database, written at once.

Exact counts, never "about": every run holds exactly the points its client sent, a replay through the
other replica stores nothing twice, racing opens of one run create it once, and run numbers stay unique.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from runyard_server.common import history_codec
from tests.support.stack import TestStack

from .support import history_messages, last_ack, open_msg, opened, stream

pytestmark = pytest.mark.slow

KEYS = ["loss", "acc", "lr"]


def _rid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _stored(stack: TestStack, project: str, run_id: str) -> dict[str, object]:
    """Per key: points stored and distinct steps, plus the run's replay guard and state."""
    rows = stack.fetch(
        """SELECT k.key, sum(c.n) AS points, max(c.max_step) AS max_step
             FROM runs r JOIN projects p ON p.id = r.project_id
             JOIN history_chunks c ON c.run_id = r.id JOIN history_keys k ON k.run_id = r.id AND k.key_id = c.key_id
            WHERE p.name = $1 AND r.run_id = $2 GROUP BY k.key""",
        project, run_id,
    )
    run = stack.fetch(
        """SELECT r.last_seq, r.state, r.next_step FROM runs r JOIN projects p ON p.id = r.project_id
            WHERE p.name = $1 AND r.run_id = $2""", project, run_id)
    return {"keys": {r["key"]: int(r["points"]) for r in rows}, "run": run}


def test_different_runs_on_two_replicas_at_once(stack: TestStack, admin_key: str,
                                                ingest_pair: tuple[str, str]) -> None:
    project, steps = "scale-out-many", 3_000
    runs = [_rid("many") for _ in range(8)]
    gate = threading.Barrier(len(runs))
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = [
            pool.submit(stream, ingest_pair[i % 2], admin_key, history_messages(project, rid, steps, KEYS, 250), gate)
            for i, rid in enumerate(runs)
        ]
        replies = [f.result() for f in futures]
    records = steps + 1  # the rows and the Finish
    assert [last_ack(r) for r in replies] == [records] * len(runs)
    for rid in runs:
        got = _stored(stack, project, rid)
        assert got["keys"] == {"_timestamp": steps, "loss": steps, "acc": steps, "lr": steps}, rid
        assert got["run"] == [{"last_seq": records, "state": "finished", "next_step": steps}], rid


def test_one_run_replayed_through_both_replicas_is_stored_once(stack: TestStack, admin_key: str,
                                                                ingest_pair: tuple[str, str]) -> None:
    """A client whose stream to replica A looks dead reconnects to replica B and replays everything
    while A is still writing: both streams finish, each point is stored exactly once."""
    project, steps, rid = "scale-out-replay", 4_000, _rid("replay")
    messages = history_messages(project, rid, steps, KEYS, 200)
    gate = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(stream, ingest_pair[0], admin_key, messages, gate)
        b = pool.submit(stream, ingest_pair[1], admin_key, messages, gate)
        ra, rb = a.result(), b.result()
    assert last_ack(ra) == last_ack(rb) == steps + 1
    got = _stored(stack, project, rid)
    assert got["keys"] == {"_timestamp": steps, "loss": steps, "acc": steps, "lr": steps}
    assert got["run"] == [{"last_seq": steps + 1, "state": "finished", "next_step": steps}]
    # and no step is doubled inside the chunks (sum(n) above would hide a double plus a gap)
    chunks = stack.fetch(
        """SELECT c.steps, c.vals FROM history_chunks c JOIN runs r ON r.id = c.run_id
             JOIN history_keys k ON k.run_id = r.id AND k.key_id = c.key_id
            WHERE r.run_id = $1 AND k.key = 'loss' ORDER BY c.id""", rid)
    parts = [history_codec.decode(c["steps"], c["vals"]) for c in chunks]
    stored_steps = np.concatenate([p[0] for p in parts])
    assert sorted(stored_steps.tolist()) == list(range(steps))


def test_resume_on_the_other_replica_continues_exactly(stack: TestStack, admin_key: str,
                                                        ingest_pair: tuple[str, str]) -> None:
    """First half through A (no Finish: the process 'died'), then resume='must' through B, replaying an
    overlap of 300 rows and adding the rest: nothing lost, nothing doubled."""
    project, rid = "scale-out-resume", _rid("resume")
    first = history_messages(project, rid, 1_000, KEYS, 100, finish=False)
    assert last_ack(stream(ingest_pair[0], admin_key, first)) == 1_000
    second = history_messages(project, rid, 1_300, KEYS, 100, first_step=700, first_seq=701, resume="must")
    replies = stream(ingest_pair[1], admin_key, second)
    assert opened(replies).resumed and opened(replies).last_seq == 1_000 and opened(replies).next_step == 1_000
    assert last_ack(replies) == 2_001
    got = _stored(stack, project, rid)
    assert got["keys"] == {"_timestamp": 2_000, "loss": 2_000, "acc": 2_000, "lr": 2_000}
    assert got["run"] == [{"last_seq": 2_001, "state": "finished", "next_step": 2_000}]


def test_racing_opens_of_one_new_run_create_it_once(stack: TestStack, admin_key: str,
                                                   ingest_pair: tuple[str, str]) -> None:
    project, rid, racers = "scale-out-race", _rid("race"), 8
    gate = threading.Barrier(racers)
    with ThreadPoolExecutor(racers) as pool:
        futures = [pool.submit(stream, ingest_pair[i % 2], admin_key, [open_msg(project, rid)], gate)
                   for i in range(racers)]
        results = [opened(f.result()) for f in futures]
    assert sorted(r.resumed for r in results) == [False] + [True] * (racers - 1)
    assert len({r.name for r in results}) == 1
    assert stack.fetch(
        "SELECT count(*) AS n FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1 AND r.run_id = $2",
        project, rid) == [{"n": 1}]


def test_racing_resume_never_lets_exactly_one_win(stack: TestStack, admin_key: str,
                                                 ingest_pair: tuple[str, str]) -> None:
    project, rid, racers = "scale-out-never", _rid("never"), 6
    gate = threading.Barrier(racers)

    def attempt(i: int) -> str:
        try:
            opened(stream(ingest_pair[i % 2], admin_key, [open_msg(project, rid, resume="never")], gate))
            return "created"
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.ALREADY_EXISTS, err.details()
            assert rid in (err.details() or "")
            return "refused"

    with ThreadPoolExecutor(racers) as pool:
        outcomes = sorted(pool.map(attempt, range(racers)))
    assert outcomes == ["created"] + ["refused"] * (racers - 1)


def test_new_runs_racing_on_two_replicas_get_unique_numbers(stack: TestStack, admin_key: str,
                                                           ingest_pair: tuple[str, str]) -> None:
    project, racers = f"scale-out-numbers-{uuid.uuid4().hex[:6]}", 12
    gate = threading.Barrier(racers)
    with ThreadPoolExecutor(racers) as pool:
        futures = [pool.submit(stream, ingest_pair[i % 2], admin_key, [open_msg(project, _rid("n"))], gate)
                   for i in range(racers)]
        for f in futures:
            assert not opened(f.result()).resumed
    numbers = stack.fetch(
        """SELECT r.run_number FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1
            ORDER BY r.run_number""", project)
    assert [r["run_number"] for r in numbers] == list(range(1, racers + 1))

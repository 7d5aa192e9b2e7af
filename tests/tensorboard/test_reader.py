"""The event-file reader and converter without a server: records written in pieces are read whole and
once; a corrupt header ends the readable part; histogram buckets and key namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.tensorboard import namespace_for
from runyard.tensorboard._convert import Converter, histogram_edges
from runyard.tensorboard._reader import EventFileTail, iter_records


@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tensorboardX import SummaryWriter

    logdir = tmp_path_factory.mktemp("events")
    with SummaryWriter(str(logdir)) as w:
        for s in range(50):
            w.add_scalar("loss", s / 7.0, s)
    return next(logdir.glob("*tfevents*"))


def test_a_file_written_in_pieces_is_read_whole_and_once(event_file: Path, tmp_path: Path) -> None:
    data = event_file.read_bytes()
    growing = tmp_path / "events.out.tfevents.growing"
    tail = EventFileTail(growing)
    assert tail.read() == []  # not there yet
    got: list[bytes] = []
    for cut in (1, 7, 13, 40, 41, len(data) // 3, len(data) // 2 + 5, len(data) - 1, len(data)):
        growing.write_bytes(data[:cut])
        got += tail.read()
        assert tail.offset <= cut
    assert got == list(iter_records(event_file))
    conv = Converter()
    steps = [p.step for payload in got for p in conv.points(payload)]
    assert steps == list(range(50))


def test_a_corrupt_header_ends_the_readable_part(event_file: Path, tmp_path: Path) -> None:
    data = bytearray(event_file.read_bytes())
    records = list(iter_records(event_file))
    second = 8 + 4 + len(records[0]) + 4  # where the second record starts
    data[second + 2] ^= 0xFF  # its length field
    broken = tmp_path / "events.out.tfevents.broken"
    broken.write_bytes(bytes(data))
    tail = EventFileTail(broken)
    assert tail.read() == records[:1]
    assert tail.broken and "corrupt record header" in tail.broken
    assert tail.read() == []


def test_histogram_buckets_become_runyard_histogram_edges() -> None:
    limits = [-1e308, -1.0, 0.0, 1.0, 2.0, 1e308]
    counts = [0, 2, 3, 0, 1, 0]
    # values in (-inf, -1], (-1, 0] and (1, 2]; the smallest -1.5, the largest 1.5
    values, edges = histogram_edges(limits, counts, lo=-1.5, hi=1.5)
    assert values == [2.0, 3.0, 0.0, 1.0] and edges == [-1.5, -1.0, 0.0, 1.0, 1.5]
    assert histogram_edges(limits, counts, lo=-0.9, hi=1.5) == ([6.0], [-0.9, 1.5])  # inconsistent: one bucket
    many = list(range(1, 1201))
    values, edges = histogram_edges([float(x) for x in many], [1] * 1200, lo=0.5, hi=1200.0)
    assert len(values) <= 64 and sum(values) == 1200 and len(edges) == len(values) + 1
    assert edges == sorted(edges) and edges[0] == 0.5 and edges[-1] == 1200.0
    assert histogram_edges([1.0], [0], lo=0.0, hi=0.0) == ([0.0], [0.0, 1.0])


def test_key_namespaces(tmp_path: Path) -> None:
    root = str(tmp_path / "logs")
    assert namespace_for(root, root) == ""
    assert namespace_for(root + "/val", root) == "val"
    assert namespace_for(root + "/a/b", root) == "a/b"
    assert namespace_for(str(tmp_path / "other"), root) == "other"

"""log()'s packer: the compiled runyard._speedups.pack_row and its Python twin runyard._items.pack_row
pack the same rows to the same bytes, refuse the same rows, and neither converts a tensor-like value."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runyard import _items
from runyard._flatten import flatten
from runyard._items import RowBlock, _layout

speedups = pytest.importorskip("runyard._speedups", reason="runyard._speedups was not built (no C compiler at "
                               "install time): install gcc and the Python headers, then `make install`")

PACKERS = {"compiled": speedups.pack_row, "python": _items.pack_row}


class Lazy:
    """A value like a tensor on a device: converting it would wait for the device. Counts each try."""

    calls: list[str] = []

    def __float__(self) -> float:
        Lazy.calls.append("float")
        return 1.0

    def __index__(self) -> int:
        Lazy.calls.append("index")
        return 1

    def __radd__(self, other: Any) -> Lazy:  # what a tensor does: a new tensor, no wait
        return self


def block_of(*keys: str) -> RowBlock:
    return RowBlock(keys, _layout(keys))


def unpack(block: RowBlock) -> list[tuple[Any, ...]]:
    fmt = struct.Struct(f"<qd{block.k}d")
    return [fmt.unpack_from(block.rows, off) for off in range(0, len(block.rows), fmt.size)]


def test_this_install_runs_the_compiled_packer() -> None:
    """`make install` builds the C packer; log() uses it (0.4 µs a call less than the Python twin)."""
    assert _items.PACK_ROW is speedups.pack_row


ROWS: list[dict[str, Any]] = [
    {"a": 1.5, "b": -0.0, "c": 3},
    {"a": math.inf, "b": -math.inf, "c": True},
    {"c": False, "b": 2**53 + 1, "a": -(2**63)},  # dict order is not key order; ints round as float() does
    {"a": np.float32(0.1), "b": np.float64(1e-300), "c": np.int64(-7)},
    {"a": np.bool_(True), "b": np.uint8(255), "c": 10**300},
    {"a": type("Rank", (int,), {})(3), "b": type("Meters", (float,), {})(2.5), "c": 0},  # subclasses: the value
]


@pytest.mark.parametrize("row", ROWS, ids=range(len(ROWS)))
def test_both_packers_write_the_same_bytes(row: dict[str, Any]) -> None:
    flatten(row)  # as log() does first: numpy's scalar types join NUMBER_TYPES
    packed = {}
    for name, pack in PACKERS.items():
        block = block_of("a", "b", "c")
        t0 = time.time()
        values = pack(block, row, 41)
        t1 = time.time()
        assert values == (row["a"], row["b"], row["c"]), name
        assert all(v is row[k] for v, k in zip(values, "abc")), name  # as logged, for the summary
        [(step, ts, *nums)] = unpack(block)
        assert step == 41 and t0 - 1e-6 <= ts <= t1 + 1e-6, name
        assert nums == [float(row[k]) for k in "abc"], name
        assert [math.copysign(1, x) for x in nums] == [math.copysign(1, float(row[k])) for k in "abc"]
        packed[name] = bytes(block.rows[:8]) + bytes(block.rows[16:])  # the time differs by the call
    assert packed["compiled"] == packed["python"]
    nan = block_of("x")
    for pack in PACKERS.values():
        assert pack(nan, {"x": math.nan}, 0) is not None
    assert [math.isnan(r[2]) for r in unpack(nan)] == [True, True]


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("missing key", {"a": 1.0, "b": 2.0, "z": 3.0}),
    ("text", {"a": 1.0, "b": "warmup", "c": 3.0}),
    ("None", {"a": None, "b": 2.0, "c": 3.0}),
    ("beyond float64", {"a": 1.0, "b": 10**400, "c": 3.0}),
    ("a list", {"a": 1.0, "b": [2.0], "c": 3.0}),
    ("a numpy array", {"a": 1.0, "b": np.array([2.0]), "c": 3.0}),
]


@pytest.mark.parametrize("what,row", REFUSED, ids=[w for w, _ in REFUSED])
@pytest.mark.parametrize("packer", PACKERS)
def test_rows_that_do_not_pack_are_refused_whole(packer: str, what: str, row: dict[str, Any]) -> None:
    """log() then takes its general path with the row; the block is left as it was."""
    block = block_of("a", "b", "c")
    assert PACKERS[packer](block, {"a": 1.0, "b": 2.0, "c": 3.0}, 0) is not None
    before = bytes(block.rows)
    assert PACKERS[packer](block, row, 1) is None, what
    assert bytes(block.rows) == before


@pytest.mark.parametrize("packer", PACKERS)
def test_a_tensor_like_value_is_never_converted(packer: str) -> None:
    """Converting a tensor waits for its device; the packer leaves it to the streamer thread."""
    Lazy.calls.clear()
    block = block_of("loss", "lr")
    assert PACKERS[packer](block, {"loss": Lazy(), "lr": 0.1}, 0) is None
    assert PACKERS[packer](block, {"loss": 0.5, "lr": Lazy()}, 1) is None
    assert Lazy.calls == [] and block.rows == bytearray()


def test_types_registered_later_pack_in_both() -> None:
    """The C packer holds NUMBER_TYPES itself, not a copy: a numpy type registered later packs at once."""
    value = np.float16(0.5)
    known = np.float16 in _items.NUMBER_TYPES
    _items.NUMBER_TYPES.discard(np.float16)
    try:
        block = block_of("h")
        assert speedups.pack_row(block, {"h": value}, 0) is None
        _items.NUMBER_TYPES.add(np.float16)  # what runyard._flatten does when it first sees one
        for pack in PACKERS.values():
            assert pack(block, {"h": value}, 1) == (value,)
        assert [r[0] for r in unpack(block)] == [1, 1] and [r[2] for r in unpack(block)] == [0.5, 0.5]
    finally:
        if not known:
            _items.NUMBER_TYPES.discard(np.float16)


def test_many_keys() -> None:
    """Rows of more keys than the C packer keeps on its stack (64) pack the same."""
    keys = tuple(f"m{i:03d}" for i in range(150))
    row = {k: i * 0.5 for i, k in enumerate(keys)}
    blocks = {name: block_of(*keys) for name in PACKERS}
    for name, pack in PACKERS.items():
        assert pack(blocks[name], row, 7) is not None
    assert unpack(blocks["compiled"])[0][2:] == unpack(blocks["python"])[0][2:] == tuple(row.values())
    assert blocks["python"].width == len(blocks["compiled"].rows) == 8 * (2 + 150)


def test_bad_arguments_raise() -> None:
    """Misuse is a TypeError, not a crash."""
    with pytest.raises(TypeError):
        speedups.pack_row(block_of("a"), {"a": 1.0})  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        speedups.pack_row(block_of("a"), [("a", 1.0)], 0)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        speedups.pack_row(object(), {"a": 1.0}, 0)
    with pytest.raises(TypeError):
        speedups.set_number_types([float])  # type: ignore[arg-type]


VALUES = st.one_of(
    st.floats(allow_nan=False), st.integers(min_value=-(2**1100), max_value=2**1100), st.booleans(),
    st.floats(width=32, allow_nan=False).map(np.float32), st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.text(max_size=3), st.none(), st.just(math.nan),
)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's, from the check; pytest resets runyard's filter
@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=8))
def test_both_packers_agree_on_any_rows(rows: list[tuple[Any, Any, Any]]) -> None:
    """Any mix of values: both packers pack the same rows to the same bytes and refuse the same ones."""
    blocks = {name: block_of("a", "b", "c") for name in PACKERS}
    for row in rows:
        data = dict(zip("abc", row))
        flatten(data)
        got = {name: pack(blocks[name], data, 3) for name, pack in PACKERS.items()}
        assert (got["compiled"] is None) == (got["python"] is None), data
    same = [bytes(b.rows[i:i + 8]) + bytes(b.rows[i + 16:i + b.width])
            for b in blocks.values() for i in range(0, len(b.rows), b.width)]
    half = len(same) // 2
    assert same[:half] == same[half:]


def test_the_python_packer_shows_no_numpy_warning_of_its_own() -> None:
    """Adding a float32 to 1e39 in the Python packer's type check overflows inside numpy; that warning is
    about the check, not the data, and a script does not see it. The values are stored as logged."""
    code = (
        "import numpy as np\n"
        "from runyard._flatten import flatten\n"
        "from runyard._items import RowBlock, _layout, pack_row\n"
        "block = RowBlock(('a', 'b'), _layout(('a', 'b')))\n"
        "row = {'a': 1e39, 'b': np.float32(0.5)}\n"
        "flatten(row)\n"
        "assert pack_row(block, row, 0) is not None\n"
        "row = {'a': float('inf'), 'b': np.float64('-inf')}\n"
        "flatten(row)\n"
        "assert pack_row(block, row, 1) is not None\n"
        "import struct; print(struct.unpack('<qddd', block.rows[:32])[2:])\n"
    )
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(1e+39, 0.5)" and "Warning" not in proc.stderr, proc.stderr

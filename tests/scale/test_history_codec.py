"""Reading chunks back: the in-order fast path and the sorting path give the documented answer."""

from __future__ import annotations

import numpy as np

from runyard_server.common import history_codec


def _chunks(*parts: tuple[list[int], list[float]]) -> list[tuple[bytes, bytes]]:
    return [history_codec.encode(np.array(s, dtype=np.int64), np.array(v)) for s, v in parts]


def test_steps_in_order_come_back_unchanged() -> None:
    steps, vals = history_codec.merge(_chunks(([0, 1, 2], [0.5, 1.5, 2.5]), ([3, 10], [3.5, 10.5])))
    assert steps.tolist() == [0, 1, 2, 3, 10]
    assert vals.tolist() == [0.5, 1.5, 2.5, 3.5, 10.5]


def test_out_of_order_and_repeated_steps_sort_and_the_later_point_wins() -> None:
    # the second chunk arrived later: its step 2 replaces the first chunk's, and step 1 slots in
    steps, vals = history_codec.merge(_chunks(([0, 2, 3], [0.0, 2.0, 3.0]), ([2, 1], [20.0, 10.0])))
    assert steps.tolist() == [0, 1, 2, 3]
    assert vals.tolist() == [0.0, 10.0, 20.0, 3.0]


def test_a_repeat_at_the_end_of_ordered_chunks_is_still_resolved() -> None:
    steps, vals = history_codec.merge(_chunks(([0, 1, 2], [0.0, 1.0, 2.0]), ([2], [99.0])))
    assert steps.tolist() == [0, 1, 2]
    assert vals.tolist() == [0.0, 1.0, 99.0]

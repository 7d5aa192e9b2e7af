"""Names and formats two services share are defined once, in runyard_server/common (issue: contracts).

A second literal copy is how a rename breaks the product silently (ingest publishing on one channel,
query listening on another), so these tests read the services' sources and fail on a copy.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from runyard_server.common.formats import iso
from runyard_server.common.names import project_channel
from runyard_server.common.settings import PLACEHOLDER_WORDS, is_placeholder

SERVICES = Path(__file__).resolve().parents[1] / "services" / "runyard_server"
COMMON = SERVICES / "common"


def _sources_outside(allowed: set[Path]) -> list[tuple[Path, str]]:
    return [(p, p.read_text()) for p in sorted(SERVICES.rglob("*.py")) if p not in allowed]


def test_redis_names_are_defined_only_in_common_names() -> None:
    copies = [
        f"{p.relative_to(SERVICES)}: {m.group(0)}"
        for p, text in _sources_outside({COMMON / "names.py"})
        for m in re.finditer(r"""[f]?["']runyard:[a-z_]+""", text)
    ]
    assert not copies, "Redis names must come from common/names.py:\n" + "\n".join(copies)


def test_timestamps_are_formatted_only_by_common_formats() -> None:
    copies = [
        f"{p.relative_to(SERVICES)}:{text[: m.start()].count(chr(10)) + 1}"
        for p, text in _sources_outside({COMMON / "formats.py"})
        for m in re.finditer(r"\.isoformat\(|\.strftime\(\s*['\"]%Y-%m-%dT", text)
    ]
    assert not copies, "format REST timestamps with common.formats.iso():\n" + "\n".join(copies)


def test_placeholder_words_are_listed_only_in_common_settings() -> None:
    copies = [
        str(p.relative_to(SERVICES))
        for p, text in _sources_outside({COMMON / "settings.py"})
        if re.search(r"""["']change-?me["']""", text, re.IGNORECASE)
    ]
    assert not copies, "use common.settings.is_placeholder():\n" + "\n".join(copies)


def test_one_timestamp_shape() -> None:
    ts = datetime(2026, 11, 30, 15, 10, 47, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(ts) == "2026-11-30T13:10:47.123456Z"
    assert iso(None) is None


def test_project_channel_is_per_project() -> None:
    assert project_channel(7) != project_channel(8)
    assert "7" in project_channel(7)


@pytest.mark.parametrize("value", ["changeme", "  CHANGE-ME ", "<todo>", '"xxx"', "placeholder"])
def test_placeholders_are_detected(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["", "s3cr3t-but-real", "xxxtentacion-is-a-long-password", "todolist-2026"])
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_placeholder_words_cover_the_documented_list() -> None:
    assert {"changeme", "placeholder", "todo"} <= set(PLACEHOLDER_WORDS)

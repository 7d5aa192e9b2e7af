"""The UI's committed API contract (services/web/src/api/openapi/*.json and the TypeScript types generated
from them in services/web/src/api/schema) is what `make client` generates from the services today."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _client_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runyard_client_script", ROOT / "scripts/client.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return _client_script()


@pytest.fixture(scope="module")
def fresh(script: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh generation (OpenAPI documents from the app factories, then openapi-typescript)."""
    out = tmp_path_factory.mktemp("client")
    script.generate(out)
    yield out


def test_committed_client_matches_the_services(script: ModuleType, fresh: Path) -> None:
    stale = script.differences(fresh, script.API)
    assert not stale, f"stale UI API contract: {stale}; run `make client` and commit"


def test_the_check_names_a_stale_file(script: ModuleType, fresh: Path, tmp_path: Path) -> None:
    """A service change the committed contract does not have yet is reported (the check can fail)."""
    copy = tmp_path / "api"
    shutil.copytree(script.API, copy)
    doc = copy / "openapi/query.json"
    doc.write_text(doc.read_text().replace('"run_number"', '"run_no"', 1))
    (copy / "schema/auth.ts").unlink()
    assert script.differences(fresh, copy) == [copy / "openapi/query.json", copy / "schema/auth.ts"]

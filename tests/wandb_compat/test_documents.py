"""Every GraphQL operation of the pinned wandb client either validates against Runyard's schema (it is
supported) or is refused with a message naming it (it is not): never a 500, never a fake success."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse, validate

from runyard_server.wandb_compat import gql
from runyard_server.wandb_compat.context import Ctx

from .documents import core_documents, python_documents

# What docs/wandb-compat.md lists as supported; each must validate as the client sends it.
SUPPORTED_CORE = {
    "ArtifactFileURLsByManifestEntries", "ArtifactManifest", "ClientIDMapping", "CommitArtifact",
    "CompleteMultipartUploadArtifact", "CreateArtifact", "CreateArtifactFiles", "CreateArtifactManifest",
    "CreateRunFiles", "FetchArtifactDigestAlgorithm", "FetchOrgEntityFromEntity", "HistoryPage", "LinkArtifact",
    "MarkRunFilesUploaded", "OrgFeatureFlags", "OrganizationCoreWeaveOrganizationID", "QueryRunInfo",
    "RunConsoleLogPage", "RunConsoleLogTail", "RunParquetHistory", "RunResumeStatus", "RunState",
    "SampledHistoryPage", "ServerFeaturesQuery", "StopRun", "UpdateArtifact", "UpdateArtifactManifest",
    "UpsertBucket", "UseArtifact", "Viewer", "XXHashDigestsEnabled",
}
SUPPORTED_PYTHON = {
    "AddAliases", "ArtifactByID", "ArtifactCollectionAliases", "ArtifactCreatedBy", "ArtifactMembershipByName",
    "ArtifactMembershipFiles", "ArtifactType", "ArtifactTypeArtifactCollections", "ArtifactUsedBy", "DeleteAliases",
    "DeleteArtifact", "FetchArtifactManifest", "FetchLinkedArtifacts", "GetArtifactMembershipFileUrls",
    "GetDefaultEntity", "GetProject", "GetProjects", "GetViewer", "IsProjectReadOnly", "LinkArtifact",
    "ProjectArtifactCollection", "ProjectArtifactCollections", "ProjectArtifactType", "ProjectArtifactTypes",
    "ProjectArtifacts", "RunInputArtifacts", "RunOutputArtifacts", "ServerFeaturesQuery", "UpdateArtifact",
}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, str]]:
    return {"core": core_documents(), "python": python_documents()}


def test_the_client_documents_were_found(documents: dict[str, dict[str, str]]) -> None:
    # the extraction reads the installed client; if a release renames things this fails loudly
    assert SUPPORTED_CORE <= set(documents["core"]), SUPPORTED_CORE - set(documents["core"])
    assert SUPPORTED_PYTHON <= set(documents["python"]), SUPPORTED_PYTHON - set(documents["python"])


@pytest.mark.parametrize("source", ["core", "python"])
def test_supported_operations_validate_as_the_client_sends_them(documents: dict[str, dict[str, str]],
                                                                 source: str) -> None:
    supported = SUPPORTED_CORE if source == "core" else SUPPORTED_PYTHON
    problems = {}
    for name in sorted(supported):
        errors = validate(gql.schema, parse(documents[source][name]))
        if errors:
            problems[name] = [e.message for e in errors]
    assert not problems, problems


def _run(document: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    class NoUpstream:  # an unimplemented operation is refused before anything is called
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"upstream.{name} must not be used")

    status, body, _ = asyncio.run(gql.execute({"query": document, "variables": variables},
                                              Ctx("key", NoUpstream())))  # type: ignore[arg-type]
    return status, body


def test_unsupported_operations_answer_an_error_naming_what_is_missing(documents: dict[str, dict[str, str]]) -> None:
    unsupported = {f"{src}:{name}": doc for src, docs in documents.items() for name, doc in docs.items()
                   if name not in (SUPPORTED_CORE if src == "core" else SUPPORTED_PYTHON)}
    assert len(unsupported) > 30  # sweeps, run queues, registries, automations, teams, users, alerts...
    for label, doc in unsupported.items():
        status, body = _run(doc, {})
        assert status == 400 and "data" not in body, label
        messages = " ".join(e["message"] for e in body["errors"])
        assert "Cannot query field" in messages or "Unknown type" in messages or "Unknown" in messages, (label, messages)
    status, body = _run(documents["core"]["NotifyScriptableRunAlert"], {})
    assert "Runyard does not implement the W&B mutation `notifyScriptableRunAlert`" in body["errors"][-1]["message"]


def test_operations_nested_too_deep_are_refused_before_anything_runs() -> None:
    inner = "artifactSequence { latestArtifact { " * 12 + "id" + " } }" * 12
    status, body = _run('query { artifact(id: "x") { ' + inner + " } }", {})
    assert status == 400 and "deeper than 20 levels" in body["errors"][0]["message"]

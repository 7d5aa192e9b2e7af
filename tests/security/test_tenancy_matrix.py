"""The tenancy matrix over EVERY route of every HTTP service, read from their own OpenAPI specs: a route
that names another team's private project, run, artifact, upload, key or team answers an outsider 404
(exactly like something that does not exist), instance-admin routes answer 403, and without credentials
everything but the public routes answers 401. A route added later is covered without editing this file;
one whose parameters this file cannot fill fails it, so it is never silently skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import Population

pytestmark = [pytest.mark.local]

PUBLIC = {("POST", "/api/v1/auth/signup"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout"),
          ("GET", "/api/v1/server-info"), ("GET", "/api/v1/auth/oidc"), ("GET", "/api/v1/auth/oidc/login"),
          ("GET", "/api/v1/auth/oidc/callback")}
# routes about the caller's own things (nothing of another tenant to name); listing leaks are tested below
OWN = {("GET", "/api/v1/viewer"), ("GET", "/api/v1/auth/keys"), ("POST", "/api/v1/auth/keys"),
       ("POST", "/api/v1/auth/password"), ("GET", "/api/v1/entities"), ("POST", "/api/v1/teams"),
       ("GET", "/api/v1/projects"), ("POST", "/api/v1/auth/invites"), ("GET", "/api/v1/transfers")}
# routes the OpenAPI spec leaves out
HIDDEN = [("query", "GET", "/api/v1/projects/{entity}/{project}/events")]
WELL_FORMED = {"sha256": "ab" * 32, "md5": "cd" * 16, "size": 3, "path": "x.txt", "number": 1}
SPECS = {"query": "/api/v1/openapi.json", "auth": "/api/v1/auth/openapi.json",
         "artifact": "/api/v1/artifacts/_openapi.json", "transfer": "/api/v1/transfers/_openapi.json"}
EXTRA_URLS: dict[str, str] = {}  # services the world does not start: the copy-job routes (fixture below)


def base_url(p: Population, service: str) -> str:
    urls = {"query": p.world.query_url, "auth": p.world.auth_url, "artifact": p.world.artifact_url, **EXTRA_URLS}
    return str(urls[service])


def operations(p: Population) -> list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    """(service, method, path template, operation, components) of every route."""
    out = []
    for service, spec_path in SPECS.items():
        base = base_url(p, service)
        spec = httpx.get(f"{base}{spec_path}").json()
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                out.append((service, method.upper(), path, op, spec.get("components", {})))
    out += [(s, m, path, {}, {}) for s, m, path in HIDDEN]
    return out


def example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A minimal valid value of a JSON schema: required fields only, one item per list, the first enum value."""
    if "$ref" in schema:
        return example(components["schemas"][schema["$ref"].rsplit("/", 1)[-1]], components, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example(options[0], components, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        out = {k: example(props[k], components, depth + 1) for k in schema.get("required", [])}
        out.update({k: v for k, v in WELL_FORMED.items() if k in props})  # well-formed, so access decides
        return out
    if kind == "array":
        return [example(schema.get("items", {}), components, depth + 1)] if depth < 4 else []
    return {"string": "x", "integer": 1, "number": 1, "boolean": False}.get(kind or "string", "x")


def body_of(op: dict[str, Any], components: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    return example(content["schema"], components) if content else None


class Victim:
    """audio/secret and what it holds, as `aadmin` (its team admin) made it."""

    def __init__(self, p: Population) -> None:
        w = p.world
        self.run = p.runs["audio/secret"]
        r = p.call("aadmin", "POST", "/api/v1/teams/audio/service-accounts", service="auth", json={"name": "audio-ci"})
        assert r.status_code in (201, 409), r.text
        keys = p.call("aadmin", "GET", "/api/v1/teams/audio/service-accounts/audio-ci/keys", service="auth").json()
        self.sa_key = keys["keys"][0]["id"]
        self.key = p.call("aadmin", "GET", "/api/v1/auth/keys", service="auth").json()["keys"][0]["id"]
        r = p.call("aadmin", "POST", "/api/v1/artifacts/audio/secret/_uploads", service="artifact",
                   json={"objects": [{"sha256": "ab" * 32, "size": 3, "md5": "cd" * 16}]})
        assert r.status_code == 200, r.text
        self.upload = r.json()["objects"][0]["upload_id"]
        r = p.call("aadmin", "POST", "/api/v1/projects/audio/secret/views", service="query",
                   json={"layout": {"sections": []}, "query": ""})
        assert r.status_code == 201, r.text
        self.view = r.json()["id"]  # a shared workspace view of the private project
        # a copy job of the private project that aadmin started (made in the database: only instance admins
        # may start one, and a remote to copy to is not needed to ask about it)
        w.sql("""INSERT INTO remote_instances (name, url, key_box, key_hint, created_by_name)
                 VALUES ('elsewhere', 'http://127.0.0.1:9', '\\x00', '…', 'root') ON CONFLICT DO NOTHING""")
        self.job = w.sql(
            """INSERT INTO transfer_jobs (remote_id, remote_name, remote_url, user_id, username, project_id, entity,
                   project, to_entity, to_project, state)
               SELECT r.id, r.name, r.url, u.id, u.username, p.id, 'audio', 'secret', 'audio', 'secret', 'cancelled'
                 FROM remote_instances r, users u, projects p JOIN entities e ON e.id = p.entity_id
                WHERE r.name = 'elsewhere' AND u.username = 'aadmin' AND e.name = 'audio' AND p.name = 'secret'
               RETURNING id""")[0]["id"]

    def fill(self, path: str) -> str:
        values = {"entity": "audio", "project": "secret", "run_id": self.run, "team": "audio", "username": "aadmin",
                  "version": "v0", "alias": "prod", "upload_id": self.upload, "view_id": self.view,
                  "job_id": str(self.job)}
        values["name"] = "audio-ci" if "/service-accounts/" in path else "weights"
        values["key_id"] = str(self.sa_key if "/service-accounts/" in path else self.key)
        values["path"] = "w.bin" if path.startswith("/api/v1/artifacts/") else "notes.txt"
        missing = set(re.findall(r"{(\w+)(?::path)?}", path)) - set(values)
        assert not missing, f"{path}: the tenancy matrix cannot fill {missing}; teach Victim.fill about it"
        return re.sub(r"{(\w+)(?::path)?}", lambda m: values[m.group(1)], path)


@pytest.fixture(scope="module")
def victim(population: Population) -> Iterator[Victim]:
    from runyard_server.transfer_jobs import create_app as create_transfers
    from tests.support.asgi import serve

    with serve(create_transfers(population.world.settings), name="transfers") as url:
        EXTRA_URLS["transfer"] = url
        try:
            yield Victim(population)
        finally:
            EXTRA_URLS.clear()


def query_of(op: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The required query parameters, with plausible values."""
    known = {"by": "state"}
    return {q["name"]: known.get(q["name"], example(q.get("schema", {}), components))
            for q in op.get("parameters", []) if q.get("in") == "query" and q.get("required")}


def request(p: Population, who: str | None, service: str, method: str, url_path: str, body: Any,
            params: dict[str, Any] | None = None) -> httpx.Response:
    base = base_url(p, service)
    headers = {"Authorization": f"Bearer {p.world.keys[who]}"} if who else {}
    kw: dict[str, Any] = {"json": body} if body is not None else {}
    kw["params"] = params or {}
    if url_path.endswith("/events"):  # an event stream: only its status matters
        with httpx.stream(method, base + url_path, headers=headers, timeout=10) as r:
            return r
    return httpx.request(method, base + url_path, headers=headers, timeout=30, **kw)


def test_every_route_refuses_anonymous_callers(population: Population, victim: Victim) -> None:
    seen = 0
    for service, method, path, op, comps in operations(population):
        if (method, path) in PUBLIC:
            continue
        r = request(population, None, service, method, victim.fill(path), body_of(op, comps), query_of(op, comps))
        assert r.status_code == 401, (service, method, path, r.status_code)
        seen += 1
    assert seen >= 50


def test_every_route_hides_another_tenants_things(population: Population, victim: Victim) -> None:
    checked: dict[str, int] = {"404": 0, "403": 0}
    wrong: list[tuple[str, str, str, int, str]] = []
    for service, method, path, op, comps in operations(population):
        if (method, path) in PUBLIC or (method, path) in OWN:
            continue
        url = victim.fill(path)
        body = body_of(op, comps)
        params = query_of(op, comps)
        r = request(population, "outsider", service, method, url, body, params)
        want = 403 if path.startswith("/api/v1/admin/") else 404
        if r.status_code != want:
            wrong.append((service, method, path, r.status_code, r.text[:120]))
            continue
        checked[str(want)] += 1
        if want == 403:
            continue
        if method == "GET" and not path.endswith("/events"):
            # the same request by the team's admin finds it: the 404 above hid something real
            owner = request(population, "aadmin", service, method, url, body, params)
            assert owner.status_code != 404, (service, method, path, owner.text)
    assert not wrong, "\n".join(map(str, wrong))
    assert checked["404"] >= 35 and checked["403"] >= 5, checked


def test_lists_leave_out_what_the_caller_may_not_read(population: Population) -> None:
    projects = population.call("outsider", "GET", "/api/v1/projects").json()["projects"]
    assert {(p["entity"], p["name"]) for p in projects} == {("vision", "pub")}  # internal only
    ents = population.call("outsider", "GET", "/api/v1/entities", service="auth").json()["entities"]
    names = [e["name"] for e in ents]  # its own entity first, then teams of its own making (test_invites)
    assert names[0] == "outsider" and not {"vision", "audio"} & set(names), names
    assert population.call("outsider", "GET", "/api/v1/projects", params={"entity": "audio"}).json()["projects"] == []


def test_the_wandb_protocol_hides_another_tenants_things(population: Population, victim: Victim) -> None:
    """The W&B client protocol (/graphql, the file stream, run-file URLs: no OpenAPI spec) run as its own
    service with one URL per service, as the Helm chart runs it: every operation naming audio/secret answers
    the outsider "not found" (GraphQL: null, or an error saying so), and the same call by the team's admin
    finds it, so the answer hid something real."""
    from runyard_server.wandb_compat import WandbSettings
    from runyard_server.wandb_compat import create_app as create_wandb
    from tests.support.asgi import serve

    w = population.world
    assert w.artifact_url is not None
    wb = WandbSettings(auth_url=w.auth_url, query_url=w.query_url, artifact_url=w.artifact_url,
                       ingest_address=w.ingest_address)
    run = victim.run
    reads = [
        ('{ project(entityName: "audio", name: "secret") { name } }', ["project"]),
        ('{ model(entityName: "audio", name: "secret") { name } }', ["model"]),
        ('{ project(entityName: "audio", name: "secret") { run(name: "RUN") { name } } }', ["project"]),
        ('{ entity(name: "audio") { name } }', ["entity"]),
    ]
    writes = [
        'mutation { upsertBucket(input: {entityName: "audio", modelName: "secret", name: "RUN", notes: "pwned"}) '
        "{ bucket { name } } }",
        'mutation { createRunFiles(input: {entityName: "audio", projectName: "secret", runName: "RUN", '
        'files: ["planted.txt"]}) { files { name uploadUrl } } }',
        'mutation { createArtifact(input: {artifactTypeName: "model", artifactCollectionName: "weights", '
        'entityName: "audio", projectName: "secret", digest: "' + "ab" * 16 + '"}) { artifact { id } } }',
    ]
    with serve(create_wandb(w.settings, wb), name="wandb") as base:
        def gql(who: str, document: str) -> dict[str, Any]:
            r = httpx.post(f"{base}/graphql", auth=("api", w.keys[who]), json={"query": document.replace("RUN", run)},
                           timeout=30)
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        for document, path in reads:
            hidden, found = gql("outsider", document), gql("aadmin", document)
            assert hidden.get("data", {})[path[0]] is None, (document, hidden)
            assert found["data"][path[0]] is not None, (document, found)
        for document in writes:
            answer = gql("outsider", document)
            assert answer.get("data") in (None, {}) or not any(answer["data"].values()), (document, answer)
            assert "not found" in str(answer.get("errors", "")).lower(), (document, answer)
        stream = httpx.post(f"{base}/files/audio/secret/{run}/file_stream", auth=("api", w.keys["outsider"]),
                            json={"files": {"wandb-summary.json": {"offset": 0, "content": ['{"pwned": 1}']}}},
                            timeout=30)
        assert stream.status_code == 404, stream.text
        for who, want in (("outsider", 404), ("aadmin", 307)):
            r = httpx.get(f"{base}/files/audio/secret/{run}/notes.txt", auth=("api", w.keys[who]), timeout=30)
            assert r.status_code == want, (who, r.status_code, r.text)
    detail = population.call("aadmin", "GET", f"/api/v1/runs/audio/secret/{run}").json()
    assert "pwned" not in str(detail.get("notes")) and "pwned" not in str(detail.get("summary"))

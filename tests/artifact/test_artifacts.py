"""Artifact versions, aliases, references, lineage and download."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from runyard import artifacts as ra
from runyard.artifacts import Artifact
from runyard.errors import InvalidArgumentError, NotFoundError, ServerError, UsageError

from .harness import ArtifactEnv

pytestmark = [pytest.mark.local]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_versions_aliases_lineage_and_download(env: ArtifactEnv, tmp_path: Path) -> None:
    alice = env.user("alice")
    for r in ("train1", "train2", "eval1"):
        env.run_row("alice", "vision", r)
    src = _tree(tmp_path / "ds", {"train/a.txt": "a", "train/b.txt": "b", "README.md": "# data"})

    art = Artifact("cifar", "dataset", description="small", metadata={"rows": 3})
    assert art.add_dir(src) == ["README.md", "train/a.txt", "train/b.txt"]
    art.add_reference("s3://external-bucket/raw/cifar.tar", digest="etag-1", size=123)
    ra.log_artifact(env.base_url, alice.key, "alice", "vision", "train1", art, aliases=["best"])
    assert (art.version, art.created, sorted(art.aliases)) == ("v0", True, ["best", "latest"])
    assert art.qualified_name == "alice/vision/cifar:v0"
    with pytest.raises(UsageError):
        art.add_file(src / "README.md", "again.md")  # logged artifacts are frozen

    # a changed file makes v1; `latest` moves, `best` stays
    (src / "train" / "a.txt").write_text("a2")
    art1 = Artifact("cifar", "dataset")
    art1.add_dir(src)
    art1.add_reference("s3://external-bucket/raw/cifar.tar", digest="etag-1", size=123)
    ra.log_artifact(env.base_url, alice.key, "alice", "vision", "train2", art1)
    assert (art1.version, art1.created, art1.aliases) == ("v1", True, ["latest"])
    assert art1.stats is not None and art1.stats.uploaded == 1 and art1.stats.deduplicated == 2

    # only the reference's digest changed: a new version too (references are compared by URI + digest)
    art2 = Artifact("cifar", "dataset")
    art2.add_dir(src)
    art2.add_reference("s3://external-bucket/raw/cifar.tar", digest="etag-2", size=123)
    ra.log_artifact(env.base_url, alice.key, "alice", "vision", "train2", art2)
    assert art2.version == "v2"

    used = ra.use_artifact(env.base_url, alice.key, "alice", "vision", "eval1", "cifar:best", type="dataset")
    assert used.version == "v0" and "best" in used.aliases
    assert ra.use_artifact(env.base_url, alice.key, "alice", "vision", "eval1", "cifar:v1").version == "v1"
    assert ra.use_artifact(env.base_url, alice.key, "alice", "vision", "eval1", "cifar").version == "v2"
    with pytest.raises(UsageError):
        ra.use_artifact(env.base_url, alice.key, "alice", "vision", "eval1", "cifar:v0", type="model")
    with pytest.raises(NotFoundError):
        ra.use_artifact(env.base_url, alice.key, "alice", "vision", "eval1", "cifar:v9")

    # download: every stored file, checked; references listed, not fetched
    out = Path(used.download(tmp_path / "dl"))
    assert (out / "train" / "a.txt").read_text() == "a" and (out / "README.md").read_text() == "# data"
    assert not (out / "cifar.tar").exists()
    refs = [f for f in used.files() if "ref" in f]
    assert refs == [{"path": "cifar.tar", "ref": "s3://external-bucket/raw/cifar.tar", "digest": "etag-1", "size": 123}]
    # a second download keeps what is already right, and repairs what is not
    (out / "train" / "b.txt").write_text("tampered")
    used.download(tmp_path / "dl")
    assert (out / "train" / "b.txt").read_text() == "b"
    assert used.stats is not None and used.stats.bytes_downloaded == 1

    # lineage, both ways
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        v0 = c.get(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/v0").json()
        assert v0["created_by_run"] == {"entity": "alice", "project": "vision", "run_id": "train1"}
        assert [u["run_id"] for u in v0["used_by"]] == ["eval1"]
        assert v0["metadata"] == {"rows": 3} and v0["file_count"] == 4
        lin = c.get(f"{env.base_url}/api/v1/runs/alice/vision/eval1/artifacts").json()
        assert [x["version"] for x in lin["used"]] == ["v0", "v1", "v2"]
        assert [x["version"] for x in c.get(f"{env.base_url}/api/v1/runs/alice/vision/train2/artifacts")
                .json()["logged"]] == ["v1", "v2"]
        listing = c.get(f"{env.base_url}/api/v1/artifacts/alice/vision").json()["artifacts"]
        assert [(a["name"], a["version_count"], a["latest"]) for a in listing] == [("cifar", 3, "v2")]

        # aliases by hand; `latest` is the service's
        assert c.put(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/aliases/prod",
                     json={"version": "v1"}).status_code == 200
        assert c.put(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/aliases/latest",
                     json={"version": "v0"}).status_code == 400
        # deleting a version with aliases needs delete_aliases; `latest` moves back
        assert c.delete(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/v1").status_code == 409
        assert c.delete(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/v1",
                        params={"delete_aliases": "true"}).status_code == 204
        assert c.delete(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/v2").status_code == 204
        latest = c.get(f"{env.base_url}/api/v1/artifacts/alice/vision/cifar/latest").json()
        assert latest["version"] == "v0"
    # version numbers are never reused
    art3 = Artifact("cifar", "dataset")
    art3.add_file(src / "README.md")
    ra.log_artifact(env.base_url, alice.key, "alice", "vision", None, art3)
    assert art3.version == "v3"


def test_type_and_name_rules(env: ArtifactEnv, tmp_path: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "vision", "x")
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    a = Artifact("net", "model")
    a.add_file(f)
    ra.log_artifact(env.base_url, alice.key, "alice", "vision", "x", a)
    b = Artifact("net", "dataset")
    b.add_file(f)
    with pytest.raises(ServerError) as err:
        ra.log_artifact(env.base_url, alice.key, "alice", "vision", "x", b)
    assert err.value.status == 409 and "type" in str(err.value)
    with pytest.raises(UsageError):
        Artifact("../evil", "model")
    with pytest.raises(UsageError):
        Artifact("ok", "model").add_file(f, "../outside.bin")
    c = Artifact("net", "model")
    c.add_file(f)
    with pytest.raises(InvalidArgumentError):
        ra.log_artifact(env.base_url, alice.key, "alice", "vision", "x", c, aliases=["v7"])


def test_a_version_may_keep_the_time_it_was_made_elsewhere(env: ArtifactEnv) -> None:
    """What `runyard transfer` sends: the source's created_at is kept; a time without a zone or in the future
    is refused and nothing is stored."""
    bob = env.user("bob")
    env.run_row("bob", "moved", "r1")
    base = f"{env.base_url}/api/v1/artifacts/bob/moved"
    head = {"Authorization": f"Bearer {bob.key}"}
    ref = {"path": "data.csv", "ref": "s3://elsewhere/data.csv", "digest": "abc", "size": 3}
    for bad, why in (("2025-01-02T03:04:05", "time zone"), ("2999-01-01T00:00:00Z", "in the future")):
        r = httpx.post(f"{base}/old/versions", json={"type": "dataset", "files": [ref], "created_at": bad}, headers=head)
        assert r.status_code == 400 and why in r.json()["detail"], r.text
    assert httpx.get(f"{base}/old", headers=head).status_code == 404
    r = httpx.post(f"{base}/old/versions", json={"type": "dataset", "files": [ref],
                                                 "created_at": "2025-01-02T03:04:05.250+00:00"}, headers=head)
    assert r.status_code == 200, r.text
    got = httpx.get(f"{base}/old/v0", headers=head).json()
    assert got["created_at"].startswith("2025-01-02T03:04:05.25")

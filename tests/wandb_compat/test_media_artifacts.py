"""Tables with images, wandb.plot and wandb.sklearn charts, and artifacts (logged, used, aliased, linked,
downloaded) from the real client, compared with what Runyard stores."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Result, WandbWorld

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "wb-media"

MEDIA = f"""
import numpy as np, wandb
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

run = wandb.init(project="{PROJECT}")
rng = np.random.default_rng(2)
pixels = [(rng.random((8, 8, 3)) * 255).astype("uint8") for _ in range(3)]
table = wandb.Table(columns=["id", "image", "label", "score"])
for i, p in enumerate(pixels):
    table.add_data(i, wandb.Image(p, caption=f"c{{i}}"), f"label{{i}}", i / 4)
wandb.log({{"samples": table}})
curve = wandb.Table(data=[[x, x * x] for x in range(12)], columns=["x", "y"])
wandb.log({{"squares": wandb.plot.line(curve, "x", "y", title="squares")}})
wandb.log({{"cm": wandb.plot.confusion_matrix(y_true=[0, 1, 1, 2], preds=[0, 1, 2, 2], class_names=["a", "b", "c"])}})
digits = load_digits()
X, y = digits.data[:300], digits.target[:300]
clf = LogisticRegression(max_iter=200).fit(X[:200], y[:200])
wandb.sklearn.plot_confusion_matrix(y[200:], clf.predict(X[200:]), labels=list(range(10)))
wandb.sklearn.plot_roc(y[200:], clf.predict_proba(X[200:]), labels=list(range(10)))
wandb.log({{"weights": wandb.Histogram(rng.normal(size=500), num_bins=20)}})
save_out(id=run.id, table_rows=[[i, f"label{{i}}", i / 4] for i in range(3)])
run.finish()
"""

LOG_ARTIFACTS = f"""
import os, wandb
os.makedirs("data", exist_ok=True)
with open("data/a.txt", "w") as f:
    f.write("alpha\\n")
with open("data/b.bin", "wb") as f:
    f.write(bytes(range(256)) * 40)
with open("ref.csv", "w") as f:
    f.write("1,2\\n")
run = wandb.init(project="{PROJECT}")
art = wandb.Artifact("corpus", type="dataset", description="first", metadata={{"rows": 2, "source": "test"}})
art.add_dir("data")
art.add_reference("file://" + os.path.abspath("ref.csv"))
run.log_artifact(art, aliases=["best"])
art.wait()
first = {{"id": art.id, "version": art.version, "digest": art.digest}}
with open("data/a.txt", "w") as f:
    f.write("alpha, second\\n")
art2 = wandb.Artifact("corpus", type="dataset", description="second")
art2.add_dir("data")
run.log_artifact(art2)
art2.wait()
save_out(run=run.id, first=first, second={{"id": art2.id, "version": art2.version}})
run.finish()
"""


@pytest.fixture(scope="module")
def media_run(wandb_world: WandbWorld) -> Result:
    return wandb_world.script("media", MEDIA)


@pytest.fixture(scope="module")
def artifacts_run(wandb_world: WandbWorld) -> Result:
    return wandb_world.script("artifacts", LOG_ARTIFACTS)


def _json_point(w: WandbWorld, run_id: str, key: str) -> Any:
    points = w.history(PROJECT, run_id, [key])[key]
    assert len(points) == 1, points
    return next(iter(points.values()))


def _run_file(w: WandbWorld, run_id: str, path: str) -> bytes:
    record = w.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}/files/{path}")
    data = w.download(record["url"])
    assert hashlib.sha256(data).hexdigest() == record["sha256"]
    return data


def test_a_table_with_images_is_a_run_file_with_its_images(wandb_world: WandbWorld, media_run: Result) -> None:
    run_id = media_run.out["id"]
    desc = _json_point(wandb_world, run_id, "samples")
    assert desc["_type"] == "table-file" and (desc["ncols"], desc["nrows"]) == (4, 3)
    # the client's run file holds placeholders for the images; Runyard points the row at the table of
    # the artifact the client logged with it, whose image cells name files
    assert json.loads(_run_file(wandb_world, run_id, desc["wandb_path"]))["data"][0][1] == "Image"
    body = json.loads(_run_file(wandb_world, run_id, desc["path"]))
    assert body["columns"] == ["id", "image", "label", "score"]
    assert [[r[0], r[2], r[3]] for r in body["data"]] == media_run.out["table_rows"]
    for i, row in enumerate(body["data"]):
        image = row[1]
        assert image["_type"] == "image-file" and image["caption"] == f"c{i}"
        # the image a table cell names is a run file too, with the digest the client computed
        data = _run_file(wandb_world, run_id, image["path"])
        assert hashlib.sha256(data).hexdigest() == image["sha256"]


def test_plot_and_sklearn_charts_keep_their_tables(wandb_world: WandbWorld, media_run: Result) -> None:
    run_id = media_run.out["id"]
    run = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}")
    keys = set(run["media_keys"]) | set(run["history_keys"])
    assert {"squares_table", "cm_table", "confusion_matrix", "roc_table", "weights"} <= keys, keys
    squares = json.loads(_run_file(wandb_world, run_id, _json_point(wandb_world, run_id, "squares_table")["path"]))
    assert squares["data"] == [[x, x * x] for x in range(12)]
    cm = json.loads(_run_file(wandb_world, run_id, _json_point(wandb_world, run_id, "cm_table")["path"]))
    counts = {(r[0], r[1]): r[2] for r in cm["data"]}  # (actual, predicted) -> count
    assert counts[("a", "a")] == 1 and counts[("b", "b")] == 1 and counts[("b", "c")] == 1 and counts[("c", "c")] == 1
    hist = _json_point(wandb_world, run_id, "weights")
    assert hist["_type"] == "histogram" and len(hist["bins"]) == 21 and sum(hist["values"]) == 500
    # the chart definitions travel in the client's own config section, kept as logged
    assert "visualize" in json.dumps(run["config"].get("_wandb", {}))


def test_logged_artifacts_are_runyard_versions(wandb_world: WandbWorld, artifacts_run: Result) -> None:
    out = artifacts_run.out
    assert (out["first"]["version"], out["second"]["version"]) == ("v0", "v1")
    v0 = wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus/v0")
    v1 = wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus/v1")
    assert (v0["type"], v0["description"], v0["metadata"]) == ("dataset", "first", {"rows": 2, "source": "test"})
    assert sorted(v0["aliases"]) == ["best"] and sorted(v1["aliases"]) == ["latest"]
    assert v0["created_by_run"]["run_id"] == v1["created_by_run"]["run_id"] == out["run"]
    files = {f["path"]: f for f in wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus/v0/files")["files"]}
    assert hashlib.sha256(b"alpha\n").hexdigest() == files["a.txt"]["sha256"]
    blob = bytes(range(256)) * 40
    assert files["b.bin"]["sha256"] == hashlib.sha256(blob).hexdigest() and files["b.bin"]["size"] == len(blob)
    assert files["ref.csv"]["ref"].startswith("file://")
    files1 = {f["path"]: f for f in wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus/v1/files")["files"]}
    assert files1["b.bin"]["sha256"] == files["b.bin"]["sha256"]
    stored = wandb_world.stack.fetch("SELECT count(*) AS n FROM storage_objects WHERE sha256 = $1",
                                     files["b.bin"]["sha256"])
    assert stored[0]["n"] == 1  # the unchanged file is stored once for both versions


def test_use_download_alias_and_link(wandb_world: WandbWorld, artifacts_run: Result) -> None:
    res = wandb_world.script("use", f"""
        import hashlib, os, wandb
        run = wandb.init(project="{PROJECT}")
        art = run.use_artifact("corpus:best")
        root = art.download(root="dl")
        files = {{}}
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                files[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        api = wandb.Api()
        latest = api.artifact("admin/{PROJECT}/corpus:latest")
        latest.aliases.append("prod")
        latest.save()
        run.link_artifact(latest, "admin/{PROJECT}/corpus-registry", aliases=["staging"])
        used = [a.name for a in api.run("admin/{PROJECT}/" + run.id).used_artifacts()]
        logged = [a.name for a in api.run("admin/{PROJECT}/{artifacts_run.out['run']}").logged_artifacts()]
        save_out(run=run.id, version=art.version, files=files, metadata=art.metadata, used=used, logged=logged,
                 best_aliases=sorted(api.artifact("admin/{PROJECT}/corpus:v0").aliases))
        run.finish()
    """)
    out = res.out
    assert out["version"] == "v0" and out["metadata"] == {"rows": 2, "source": "test"}
    assert out["files"] == {"a.txt": hashlib.sha256(b"alpha\n").hexdigest(),
                            "b.bin": hashlib.sha256(bytes(range(256)) * 40).hexdigest(),
                            "ref.csv": hashlib.sha256(b"1,2\n").hexdigest()}
    assert out["used"] == ["corpus:v0"] and sorted(out["logged"]) == ["corpus:v0", "corpus:v1"]
    assert out["best_aliases"] == ["best"]
    v0 = wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus/v0")
    assert [u["run_id"] for u in v0["used_by"]] == [out["run"]]
    v1 = wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus/v1")
    assert sorted(v1["aliases"]) == ["latest", "prod"]
    linked = wandb_world.get(f"/api/v1/artifacts/admin/{PROJECT}/corpus-registry/v0")
    assert "staging" in linked["aliases"] and linked["digest"] == v1["digest"]  # same files, no bytes copied
    # and the bytes downloaded by the client are the bytes Runyard holds for v0 (the test above)
    assert Path(res.folder / "dl").is_dir()


def test_public_api_artifact_types_single_file_download_and_file_md5(wandb_world: WandbWorld,
                                                                     artifacts_run: Result) -> None:
    """What an importer or a notebook reaches for next: the project's artifact types and collections, one
    file of a version (the manifest entry's own download), and run files' md5 as W&B reports it."""
    res = wandb_world.script("api-more", f"""
        import hashlib, base64, wandb
        api = wandb.Api()
        types = [t.name for t in api.artifact_types("admin/{PROJECT}")]
        collections = [c.name for c in api.artifact_type("dataset", "admin/{PROJECT}").collections()]
        art = api.artifact("admin/{PROJECT}/corpus:v0")
        one = art.get_entry("a.txt").download(root="one")
        run = api.run("admin/{PROJECT}/{artifacts_run.out['run']}")
        md5s = {{f.name: f.md5 for f in run.files()}}
        save_out(types=types, collections=collections, one=open(one, "rb").read().decode(), md5s=md5s)
    """)
    out = res.out
    assert "dataset" in out["types"], out
    assert "corpus" in out["collections"], out
    assert out["one"] == "alpha\n"
    assert out["md5s"] and all(out["md5s"].values()), out["md5s"]
    for name, md5 in out["md5s"].items():
        data = _run_file(wandb_world, artifacts_run.out["run"], name)
        assert md5 == base64.b64encode(hashlib.md5(data).digest()).decode(), name

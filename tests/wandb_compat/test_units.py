"""Pure parts of the W&B protocol: key format, file-stream records, filters, ids (no services)."""

from __future__ import annotations

import json
import math

import pytest
from wandb.sdk.lib.wbauth.validation import check_api_key

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_server.common.errors import InvalidArgument
from runyard_server.common.security import hash_api_key, key_prefix_of, new_api_key, split_api_key
from runyard_server.wandb_compat import filestream, filters, ids, translate


# ---- API keys ----------------------------------------------------------------------------------------------
def test_new_keys_pass_the_wandb_clients_own_check_and_old_keys_still_parse() -> None:
    for _ in range(200):  # the secret is random: dashes and underscores land anywhere
        key, prefix, digest = new_api_key()
        assert check_api_key(key) is None, key
        assert key.startswith("ry-") and split_api_key(key) == prefix == key_prefix_of(key)
        assert digest == hash_api_key(key)
    old = "ry_0123456789ab_" + "x" * 43
    assert split_api_key(old) == "0123456789ab" == key_prefix_of(old)
    for bad in ("ry-0123_abc", "ry-0123456789ab", "rx-0123456789ab_secret", "", "garbage"):
        assert split_api_key(bad) is None, bad


# ---- file stream -------------------------------------------------------------------------------------------
def _opened(next_step: int = 0) -> pb.RunOpened:
    return pb.RunOpened(run_id="r", entity="e", project="p", next_step=next_step)


def test_file_stream_lines_get_per_file_sequence_numbers_and_the_rest_travels_unsequenced() -> None:
    body = {
        "files": {
            "wandb-history.jsonl": {"offset": 7, "content": [
                json.dumps({"_step": 7, "_timestamp": 100.5, "_runtime": 3, "loss": 0.5, "acc": 1,
                            "img": {"_type": "image-file", "path": "media/images/a.png"},
                            "nested": {"a": 1, "b": {"c": 2.5}}, "flag": True, "word": "hi", "none": None}),
                "{\"_step\": 8, \"_timestamp\": 101, \"x\": NaN, \"y\": Infinity}",
                "not json",
            ]},
            "wandb-events.jsonl": {"offset": 2, "content": [
                json.dumps({"system.cpu": 12.5, "system.gpu.0.temp": 40, "_wandb": True, "_timestamp": 99.0,
                            "_runtime": 1, "system.name": "text is dropped"})]},
            "wandb-summary.json": {"offset": 0, "content": [json.dumps({"loss": 0.5, "_step": 8})]},
            "output.log": {"offset": 40, "content": ["2024-04-05T10:15:30.250000 hello\n",
                                                      "ERROR 2024-04-05T10:15:31.000000 [rank-0] boom"]},
        },
        "uploaded": ["media/images/a.png"], "complete": True, "exitcode": 3,
    }
    req = filestream.parse_request(body)
    built = filestream.build_records(req, _opened(), now=1000.0)
    assert built.refused == ["history line 9: Expecting value: line 1 column 1 (char 0)"]
    kinds = [(r.WhichOneof("payload"), r.channel, r.seq) for r in built.records]
    # the unreadable line keeps its number with a no-op stand-in: ingest's channels are strict (+1, no gaps)
    assert kinds == [
        ("history", "wandb/history", 8), ("history", "wandb/history", 9), ("update", "wandb/history", 10),
        ("system", "wandb/events", 3), ("output", "", 0), ("output", "", 0), ("summary", "", 0), ("finish", "", 0),
    ]
    assert built.records[2].update == pb.RunUpdate()
    h = built.records[0].history
    assert (h.step, h.timestamp) == (7, 100.5)
    assert dict(zip(h.keys, h.values)) == {"loss": 0.5, "acc": 1.0, "nested.a": 1.0, "nested.b.c": 2.5}
    assert {k: json.loads(v) for k, v in zip(h.json_keys, h.json_values)} == {
        "img": {"_type": "image-file", "path": "media/images/a.png"}, "flag": True, "word": "hi"}
    h2 = built.records[1].history
    assert math.isnan(h2.values[0]) and h2.values[1] == math.inf  # numbers stay IEEE values
    ev = built.records[3].system
    assert (ev.timestamp, list(ev.keys), list(ev.values)) == (99.0, ["cpu", "gpu.0.temp"], [12.5, 40.0])
    out = [built.records[4].output, built.records[5].output]
    assert [(o.first_line, o.stream, list(o.lines)) for o in out] == [
        (40, "stdout", ["hello"]), (41, "stderr", ["[rank-0] boom"])]
    assert out[0].timestamp == pytest.approx(1712312130.25)
    assert json.loads(built.records[6].summary.set_json) == {"loss": 0.5, "_step": 8}
    assert built.records[7].finish.exit_code == 3 and "exited with code 3" in built.records[7].finish.error
    assert req.uploaded == ["media/images/a.png"]


def test_file_stream_refuses_malformed_requests_with_a_message() -> None:
    for body, needle in (
        ([], "JSON object"),
        ({"files": {"wandb-history.jsonl": {"offset": -1, "content": []}}}, "offset"),
        ({"files": {"output.log": {"offset": 0, "content": [1]}}}, "list of strings"),
        ({"exitcode": "x"}, "exitcode"),
    ):
        with pytest.raises(InvalidArgument, match=needle):
            filestream.parse_request(body)


def test_summary_with_non_finite_values_travels_as_strings() -> None:
    req = filestream.parse_request({"files": {"wandb-summary.json": {"offset": 0, "content": [
        "{\"a\": NaN, \"b\": -Infinity, \"c\": [1.5, Infinity]}"]}}})
    rec = filestream.build_records(req, _opened()).records[0]
    assert json.loads(rec.summary.set_json) == {"a": "NaN", "b": "-Infinity", "c": [1.5, "Infinity"]}


def test_config_round_trip_between_wandb_and_runyard_shapes() -> None:
    wandb_config = {"lr": {"value": 0.1, "desc": None}, "_wandb": {"value": {"t": {"1": [1]}}}}
    plain = translate.unwrap_config(json.dumps(wandb_config))
    assert plain == {"lr": 0.1, "_wandb": {"t": {"1": [1]}}}
    assert translate.config_to_wandb(plain)["lr"] == {"value": 0.1, "desc": None}


# ---- filters and order -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mongo, expected", [
    ({"state": "finished"}, 'state = "finished"'),
    ({"config.lr.value": {"$lt": 0.01}}, "config.lr < 0.01"),
    ({"config.optimizer": "adam", "summary_metrics.acc": {"$gte": 0.9}},
     '(config.optimizer = "adam") and (summary.acc >= 0.9)'),
    ({"$or": [{"tags": "best"}, {"tags": {"$in": ["a", "b"]}}]},
     '(tags contains "best") or ((tags contains "a" or tags contains "b"))'),
    ({"display_name": {"$ne": "x"}, "createdAt": {"$gt": "2026-01-01T00:00:00"}},
     '(name != "x") and (created_at > "2026-01-01T00:00:00")'),
    ({"config.a b": {"$exists": True}}, "not (config.`a b` = null)"),
    ({"$nor": [{"state": "crashed"}]}, 'not ((state = "crashed"))'),
    ({"name": {"$nin": ["r1", "r2"]}}, 'id not in ("r1", "r2")'),
    ({}, None),
])
def test_mongo_filters_become_runyard_filter_expressions(mongo: dict, expected: str | None) -> None:
    assert filters.to_filter(mongo) == expected
    assert filters.to_filter(json.dumps(mongo)) == expected


def test_unsupported_filters_are_refused_by_name() -> None:
    with pytest.raises(InvalidArgument, match=r"\$regex"):
        filters.to_filter({"display_name": {"$regex": "^a"}})
    with pytest.raises(InvalidArgument, match="unknown field 'sweep'"):
        filters.to_filter({"sweep": "x"})


def test_order_defaults_to_oldest_first_like_wandb() -> None:
    assert filters.to_order(None) == "created_at"
    assert filters.to_order("-summary_metrics.loss") == "-summary.loss"
    assert filters.to_order("+config.lr.value") == "config.lr"


# ---- ids ---------------------------------------------------------------------------------------------------
def test_ids_round_trip_and_refuse_foreign_ones() -> None:
    rid = ids.run_id("ada", "mnist", "abc123")
    assert ids.parse_run_id(rid) == ("ada", "mnist", "abc123")
    assert bytes.fromhex(__import__("base64").b64decode(rid).hex())  # standard base64, as the client needs
    with pytest.raises(InvalidArgument):
        ids.parse_run_id(ids.project_id("ada", "mnist"))
    with pytest.raises(InvalidArgument):
        ids.parse_run_id("not base64!")
    assert ids.decode_json(ids.encode_json("Artifact", {"a": [1, "x:y"]}), "Artifact") == {"a": [1, "x:y"]}
    assert int(ids.project_number("ada", "mnist")) < 2**53


def test_a_table_logged_with_its_artifact_points_at_the_artifacts_copy() -> None:
    row = translate.parse_history_line(json.dumps({"_step": 1, "t": {
        "_type": "table-file", "path": "media/table/t_1_abc.table.json",
        "artifact_path": "wandb-client-artifact://cid123/t.table.json"}, "plain": {
        "_type": "table-file", "path": "media/table/p.table.json"}}), 0)
    values = {k: json.loads(v) for k, v in zip(row.json_keys, row.json_values)}
    assert values["t"]["path"] == "media/wandb-tables/cid123/t.table.json"
    assert values["t"]["wandb_path"] == "media/table/t_1_abc.table.json"
    assert values["plain"] == {"_type": "table-file", "path": "media/table/p.table.json"}


def test_new_history_lines_at_steps_already_stored_are_dropped_like_wandb_does() -> None:
    """`wandb sync` of a run synced before sends its whole history again at new offsets."""
    lines = [json.dumps({"_step": s, "_timestamp": 1.0, "x": s}) for s in range(4)]
    req = filestream.parse_request({"files": {"wandb-history.jsonl": {"offset": 4, "content": lines}}})
    opened = pb.RunOpened(next_step=4, channel_seqs={"wandb/history": 4})
    dropped = filestream.build_records(req, opened).records
    # nothing stored, but the lines keep their numbers (no-op stand-ins), so the channel has no gap
    assert [(r.seq, r.channel, r.WhichOneof("payload")) for r in dropped] == [
        (seq, "wandb/history", "update") for seq in (5, 6, 7, 8)]
    assert all(r.update == pb.RunUpdate() for r in dropped)
    # the same lines at their original offsets are a plain resend: skipped by ingest's channel guard
    req = filestream.parse_request({"files": {"wandb-history.jsonl": {"offset": 0, "content": lines}}})
    assert [r.seq for r in filestream.build_records(req, opened).records] == [1, 2, 3, 4]
    # new steps after a resume go in
    req = filestream.parse_request({"files": {"wandb-history.jsonl": {"offset": 4, "content": [
        json.dumps({"_step": 4, "x": 1})]}}})
    assert [r.history.step for r in filestream.build_records(req, opened).records] == [4]


def test_define_metric_definitions_become_runyards() -> None:
    encoded = [{"1": "loss", "6": [3], "7": [1, 5]}, {"1": "epoch", "6": [3, 2], "7": []},
               {"2": "val/*", "5": 2, "6": [1], "7": [2], "8": 2}]
    assert translate.runyard_metrics(encoded) == {
        "loss": {"summary": ["min", "last"]}, "epoch": {"hidden": True},
        "val/*": {"step_metric": "epoch", "summary": ["max"], "goal": "maximize"}}
    assert translate.runyard_metrics([]) is None and translate.runyard_metrics("x") is None


def test_every_wandb_setting_is_documented() -> None:
    from pathlib import Path

    from runyard_server.wandb_compat import WandbSettings

    docs = Path(__file__).resolve().parents[2] / "docs"
    for doc in ("configuration.md", "wandb-compat.md"):
        text = (docs / doc).read_text()
        missing = [f"RUNYARD_WANDB_{n.upper()}" for n in WandbSettings.model_fields
                   if f"`RUNYARD_WANDB_{n.upper()}`" not in text]
        assert not missing, f"add to docs/{doc}: {missing}"


# ---- where the standalone service sends its calls ------------------------------------------------------------
def test_rest_calls_go_where_the_front_door_and_the_chart_route_them() -> None:
    from runyard_server.artifact.app import is_artifact_path
    from runyard_server.auth.app import owns_path as auth_owns
    from runyard_server.wandb_compat.settings import service_for

    samples = [
        "/api/v1/viewer", "/api/v1/entities/alice", "/api/v1/auth/keys", "/api/v1/teams/t/members", "/api/v1/admin/users",
        "/api/v1/artifacts/alice/p/_staged", "/api/v1/artifacts/_uploads/u1/complete", "/api/v1/runs/a/p/r/files/_staged",
        "/api/v1/runs/a/p/r/files", "/api/v1/runs/a/p/r/artifacts", "/api/v1/runs/a/p/r", "/api/v1/runs/a/p/r/history",
        "/api/v1/projects/a/p/runs", "/api/v1/server-info", "/api/v1/viewers", "/api/v1/runs/a/p/files",
    ]
    for path in samples:
        expected = "auth" if auth_owns(path) else "artifact" if is_artifact_path(path) else "query"
        assert service_for(path) == expected, path


def test_split_service_urls_stand_in_for_one_api_url() -> None:
    from runyard_server.common.settings import SettingsError
    from runyard_server.wandb_compat import load_wandb_settings

    split = load_wandb_settings(auth_url="http://a:8080", query_url="http://q:8080/", artifact_url="http://x:8080")
    assert split.standalone_ready()
    assert split.base_urls() == {"auth": "http://a:8080", "query": "http://q:8080", "artifact": "http://x:8080"}
    mixed = load_wandb_settings(api_url="https://runyard.example", artifact_url="http://x:8080")
    assert mixed.base_urls()["query"] == "https://runyard.example" and mixed.base_urls()["artifact"] == "http://x:8080"
    assert not load_wandb_settings(auth_url="http://a:8080").standalone_ready()
    with pytest.raises(SettingsError, match=r"RUNYARD_WANDB_QUERY_URL: .*http:// or https://"):
        load_wandb_settings(query_url="runyard-query:8080")

"""Import MLflow runs: an `mlruns` folder or a tracking server, read through the `mlflow` client itself
(`pip install "runyard[mlflow]"`, which installs mlflow-skinny).

    runyard import mlflow ./mlruns --project from-mlflow
    runyard import mlflow --tracking-uri http://mlflow.internal:5000 --experiment churn --project churn
    runyard import mlflow http://mlflow.internal:5000 --project churn      # the same, positional

Each MLflow run becomes a Runyard run with the same run id: run name -> name, params -> config (as the
strings MLflow stores), the latest metric values -> summary, every metric history -> history at its
steps (one history row per step; its `_timestamp` is the latest MLflow timestamp of that step), user tags
-> tags `key=value` (and every tag, `mlflow.*` included, under the config key `mlflow.tags`), the note
(`mlflow.note.content`) -> notes, the experiment name -> group, start and end time, status FINISHED ->
finished, FAILED/KILLED -> failed, RUNNING -> as far as it got. Artifacts become the run's files at their
artifact paths. The copy goes through `runyard transfer`'s machinery: a second import sends nothing, an
interrupted one goes on, and a run id the project holds with other data is reported as a conflict.
MLflow keeps several values of one metric at one step; Runyard keeps the last one logged. MLflow's SQL
stores keep ±Inf as ±1.7976931348623157e308 (the largest float); that value comes back as ±Inf.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from runyard_proto.v1 import ingest_pb2 as pb

from .. import _transfer as t
from .._runcopy import RunStream, add_record, canon, finish_stream, new_stream
from .._sources import Cache, Source, TransferError
from ._common import add_target_arguments, import_runs, iso, run_dict

NAME = "mlflow"
HELP = "MLflow runs from an mlruns folder or a tracking server (needs the mlflow package)"
MAX_TAG = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="MLRUNS_OR_URI", nargs="?",
                        help="an mlruns folder, or a tracking URI (http://..., sqlite:///..., databricks)")
    parser.add_argument("--tracking-uri", dest="tracking_uri", metavar="URI",
                        help="an MLflow tracking server or store to read instead of a folder (http://host:5000, "
                             "sqlite:///mlflow.db, databricks); MLflow's own variables (MLFLOW_TRACKING_TOKEN, "
                             "MLFLOW_TRACKING_USERNAME/PASSWORD) authenticate")
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME",
                        help="import only this experiment (repeatable; default: every experiment)")
    add_target_arguments(parser)


def run(args: argparse.Namespace) -> int:
    given = [x for x in (args.source, args.tracking_uri) if x]
    if len(given) != 1:
        print("runyard: give an mlruns folder or --tracking-uri URI (one of them)", file=sys.stderr)
        return 2
    try:
        source = MLflowSource(given[0], args.experiment)
    except TransferError as exc:
        print(f"runyard: {exc.message}", file=sys.stderr)
        return 2
    return import_runs(source, args, f"MLflow {given[0]}")


def _tracking_uri(source: str) -> str:
    if "://" in source or source.startswith(("databricks", "file:")):
        return source
    path = Path(source)
    if not path.is_dir():
        raise TransferError(f"{source} is neither an mlruns folder nor a tracking URI")
    return path.resolve().as_uri()


class MLflowSource(Source):
    def __init__(self, source: str, experiments: list[str]) -> None:
        try:
            import mlflow  # noqa: F401
            from mlflow import MlflowClient
        except ImportError:
            raise TransferError('the mlflow importer needs the mlflow package: pip install "runyard[mlflow]"') \
                from None
        uri = _tracking_uri(source)
        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # reading an existing folder
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        self.uri = uri
        self.label = f"mlflow:{uri}"
        self.client = MlflowClient(tracking_uri=uri)
        self.experiments = experiments
        self._runs: dict[str, Any] = {}
        self._exp_names: dict[str, str] = {}
        self._files: dict[str, dict[str, dict[str, Any]]] = {}
        self._local: dict[str, dict[str, Path]] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="runyard-mlflow-"))

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)

    def project(self, entity: str, project: str) -> None:
        pass

    def runs(self, entity: str, project: str) -> list[dict[str, Any]]:
        from mlflow.entities import ViewType

        exps: list[Any] = []
        token: str | None = None
        while True:
            page: Any = self.client.search_experiments(view_type=ViewType.ALL, page_token=token)
            exps.extend(page)
            token = page.token
            if not token:
                break
        if self.experiments:
            known = {e.name for e in exps}
            missing = [n for n in self.experiments if n not in known]
            if missing:
                raise TransferError(f"no MLflow experiment named {', '.join(missing)} at {self.uri} "
                                    f"(there are: {', '.join(sorted(known)) or 'none'})")
            exps = [e for e in exps if e.name in self.experiments]
        self._exp_names = {e.experiment_id: e.name for e in exps}
        out: list[Any] = []
        if exps:
            token = None
            while True:
                runs_page: Any = self.client.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL,
                                                    max_results=1000, order_by=["attributes.start_time ASC"],
                                                    page_token=token)
                out.extend(runs_page)
                token = runs_page.token
                if not token:
                    break
        self._runs = {r.info.run_id: r for r in out}
        return [{"id": r.info.run_id} for r in out]

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        r = self._runs.get(run_id) or self.client.get_run(run_id)
        info, data = r.info, r.data
        tags = dict(data.tags)
        user_tags = [f"{k}={v}" for k, v in sorted(tags.items())
                     if not k.startswith("mlflow.") and len(f"{k}={v}") <= MAX_TAG and "\n" not in f"{k}={v}"]
        config: dict[str, Any] = dict(sorted(data.params.items()))
        config["mlflow.tags"] = dict(sorted(tags.items()))
        summary = {k: _json_number(_value(v)) for k, v in sorted(data.metrics.items())}
        status = str(info.status)
        state = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "failed"}.get(status, "crashed")
        end = info.end_time / 1000.0 if info.end_time else None
        seen = hashlib.sha256(repr((sorted(data.metrics.items()), sorted(data.params.items()), sorted(tags.items()),
                                     status, info.end_time)).encode()).hexdigest()[:16]
        return run_dict(
            id=run_id, name=info.run_name or tags.get("mlflow.runName") or "", config=config, summary=summary,
            tags=user_tags, notes=tags.get("mlflow.note.content", ""),
            group=self._exp_names.get(info.experiment_id, ""), job_type="",
            state=state, exit_code={"finished": 0, "failed": 1}.get(state),
            error="killed (MLflow status KILLED)" if status == "KILLED" else "",
            created_at=iso(info.start_time / 1000.0), finished_at=iso(end) if state != "crashed" else None,
            updated_at=f"mlflow:{seen}",  # what the journal compares: any change makes the run read again
            history_keys=sorted(data.metrics),
        )

    def stream(self, run: dict[str, Any], spool: IO[bytes], progress: Callable[[str], None]) -> RunStream:
        stream = new_stream(run)
        rows: dict[int, dict[str, float]] = defaultdict(dict)
        times: dict[int, int] = defaultdict(int)
        for key in run["history_keys"]:
            for m in self.client.get_metric_history(run["id"], key):
                rows[int(m.step)][key] = _value(m.value)  # a step logged twice: the later value wins
                times[int(m.step)] = max(times[int(m.step)], int(m.timestamp))
        for step in sorted(rows):
            h = pb.HistoryRow(step=step, timestamp=times[step] / 1000.0)
            for key in sorted(rows[step]):
                h.keys.append(key)
                h.values.append(rows[step][key])
            add_record(spool, stream, pb.Record(history=h))
            stream.history_rows += 1
            stream.points += len(h.keys)
        if run["summary"]:
            add_record(spool, stream, pb.Record(summary=pb.SummaryUpdate(set_json=canon(run["summary"]))))
        if run["state"] in ("finished", "failed"):
            from .._runcopy import iso_seconds

            add_record(spool, stream, pb.Record(finish=pb.Finish(
                exit_code=int(run["exit_code"]), error=run["error"], time=iso_seconds(run["finished_at"]))))
            stream.finished = True
        return finish_stream(stream, spool)

    def _download(self, run_id: str) -> None:
        if run_id in self._files:
            return
        from mlflow.artifacts import download_artifacts

        files: dict[str, dict[str, Any]] = {}
        local: dict[str, Path] = {}
        todo = [""]
        found = False
        while todo:
            for fi in self.client.list_artifacts(run_id, todo.pop() or None):
                if fi.is_dir:
                    todo.append(fi.path)
                else:
                    found = True
        if found:
            root = Path(download_artifacts(run_id=run_id, artifact_path="", dst_path=str(self._tmp / run_id),
                                           tracking_uri=self.uri))
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    rel = p.relative_to(root).as_posix()
                    h = t.hash_file(p)
                    files[rel] = {"path": rel, "sha256": h.sha256, "size": h.size}
                    local[rel] = p
        self._files[run_id], self._local[run_id] = files, local

    def files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        self._download(run_id)
        return self._files[run_id]

    def file(self, entity: str, project: str, run_id: str, rec: dict[str, Any], cache: Cache) -> Path:
        return self._local[run_id][rec["path"]]

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return {"logged": [], "used": []}

    def artifacts(self, entity: str, project: str) -> list[dict[str, Any]]:
        return []


def _value(v: Any) -> float:
    """A metric value as MLflow gives it back, ±Inf restored: MLflow's SQL stores (a tracking server on a
    database) keep ±Inf as ±1.7976931348623157e308, the largest float, since SQL has no infinity."""
    f = float(v)
    if abs(f) == sys.float_info.max:
        return math.inf if f > 0 else -math.inf
    return f


def _json_number(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v

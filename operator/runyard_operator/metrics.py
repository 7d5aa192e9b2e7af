"""The operator's Prometheus metrics (module level, bounded labels; never an instance name as a label).

- `runyard_operator_reconciles_total{trigger,result}`: reconcile passes by what started them (create,
  update, resume, timer, delete) and how they ended (ready, progressing, degraded, paused, error, deleted).
- `runyard_operator_errors_total{kind}`: failures by kind (api, spec, render, migration, internal).
- `runyard_operator_reconcile_duration_seconds{trigger}`: one pass, helm render and API calls included.
- `runyard_operator_instances{condition}`: TrackerInstances this operator holds, by their condition
  (Ready, Progressing, Degraded, Paused), read at scrape time.

Served on RUNYARD_OPERATOR_METRICS_PORT (`start_metrics_server`), scraped through the operator chart's
Service or PodMonitor; the Grafana dashboard has an Operator row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONDITIONS", "ERRORS", "RECONCILES", "RECONCILE_SECONDS", "forget_all", "forget_instance", "set_instance",
           "start_metrics_server"]

TRIGGERS = ("create", "update", "resume", "timer", "delete")
RESULTS = ("ready", "progressing", "degraded", "paused", "error", "deleted")
ERROR_KINDS = ("api", "spec", "render", "migration", "internal")
CONDITIONS = ("Ready", "Progressing", "Degraded", "Paused")

RECONCILES = Counter("runyard_operator_reconciles_total", "TrackerInstance reconcile passes, by trigger and result",
                     ["trigger", "result"])
ERRORS = Counter("runyard_operator_errors_total", "Reconcile failures, by kind", ["kind"])
RECONCILE_SECONDS = Histogram("runyard_operator_reconcile_duration_seconds", "One reconcile pass", ["trigger"],
                              buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
for _t in TRIGGERS:
    RECONCILE_SECONDS.labels(_t)
    for _r in RESULTS:
        RECONCILES.labels(_t, _r)  # every series exists from the start (rate() reads 0, not nothing)
for _k in ERROR_KINDS:
    ERRORS.labels(_k)

_INSTANCES: dict[tuple[str, str], str] = {}


def set_instance(namespace: str, name: str, condition: str) -> None:
    """Record the condition an instance is in now (one of CONDITIONS)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}")
    _INSTANCES[(namespace, name)] = condition


def forget_instance(namespace: str, name: str) -> None:
    _INSTANCES.pop((namespace, name), None)


def forget_all() -> None:
    """A starting operator knows no instance yet (each is counted again when kopf resumes it)."""
    _INSTANCES.clear()


class _InstancesCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("runyard_operator_instances", "TrackerInstances by condition",
                                   labels=["condition"])
        counts = dict.fromkeys(CONDITIONS, 0)
        for condition in list(_INSTANCES.values()):
            counts[condition] += 1
        for condition, count in counts.items():
            family.add_metric([condition], count)
        yield family


REGISTRY.register(_InstancesCollector())


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> Callable[[], None]:
    """Serve /metrics on a thread; returns the function that stops it."""
    server, thread = start_http_server(port, addr=addr)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop

"""The operator's Prometheus series (its own registry, served on its own port).

The chart's dashboards and alerts query these names: keep them stable.
Per-job gauges are removed when the job is deleted, so series do not pile up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from seer.platform.contract import OPERATOR_METRICS_PORT
from seer.platform.kube.status import Phase

RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DEFAULT_PORT = OPERATOR_METRICS_PORT


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = Counter(
            "seer_operator_reconciles", "Reconciles by result (success, conflict, error).", ["result"], registry=r
        )
        self.jobs = Gauge("seer_operator_jobs", "SeerJobs known to the operator, by phase.", ["phase"], registry=r)
        self.restarts = Counter(
            "seer_operator_restarts",
            "Worker pods replaced, by cause (preemption, eviction, nodeLoss, oomKill, signal).",
            ["reason"],
            registry=r,
        )
        self.duration = Histogram(
            "seer_operator_reconcile_duration_seconds",
            "Time of one reconcile (API calls included).",
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.nodes_ready = Gauge(
            "seer_operator_job_nodes_ready", "Ready worker pods of a job.", ["namespace", "seer_job"], registry=r
        )
        self.nodes_desired = Gauge(
            "seer_operator_job_nodes_desired", "Worker pods a job wants.", ["namespace", "seer_job"], registry=r
        )
        self.job_restarts = Gauge(
            "seer_operator_job_restarts",
            "Restart count of a job (status.restarts).",
            ["namespace", "seer_job"],
            registry=r,
        )
        for phase in Phase:
            self.jobs.labels(phase=phase.value).set(0)
        self._phases: dict[tuple[str, str], str] = {}

    def observe_job(self, namespace: str, name: str, phase: str, ready: int, desired: int, restarts: int) -> None:
        self._phases[(namespace, name)] = phase
        self._refresh_phases()
        self.nodes_ready.labels(namespace=namespace, seer_job=name).set(ready)
        self.nodes_desired.labels(namespace=namespace, seer_job=name).set(desired)
        self.job_restarts.labels(namespace=namespace, seer_job=name).set(restarts)

    def forget_job(self, namespace: str, name: str) -> None:
        self._phases.pop((namespace, name), None)
        self._refresh_phases()
        for gauge in (self.nodes_ready, self.nodes_desired, self.job_restarts):
            try:
                gauge.remove(namespace, name)
            except KeyError:
                pass

    def _refresh_phases(self) -> None:
        counts = {p.value: 0 for p in Phase}
        for phase in list(self._phases.values()):
            counts[phase] = counts.get(phase, 0) + 1
        for phase, n in counts.items():
            self.jobs.labels(phase=phase).set(n)

    def serve(self, port: int = DEFAULT_PORT, addr: str = "0.0.0.0") -> int:
        server, _ = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_address[1])

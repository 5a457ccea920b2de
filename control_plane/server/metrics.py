"""Prometheus metrics of the control plane, in a registry of its own (several servers per test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tasks_queued = Counter("outrider_tasks_queued", "Tasks queued", ["type"], registry=self.registry)
        self.tasks_finished = Counter(
            "outrider_tasks_finished", "Tasks that reached a terminal state", ["type", "state"], registry=self.registry
        )
        self.tasks_dispatched = Counter(
            "outrider_tasks_dispatched", "Leases handed to delegates", ["type"], registry=self.registry
        )
        self.leases_expired = Counter("outrider_leases_expired", "Leases that expired", registry=self.registry)
        self.polls_waiting = Gauge("outrider_polls_waiting", "Long polls being held", registry=self.registry)
        self.log_lines = Counter("outrider_log_lines", "Log lines stored", registry=self.registry)
        self.rpc_seconds = Histogram(
            "outrider_rpc_seconds", "Handler time per RPC (long polls excluded)", ["method"], registry=self.registry
        )
        self.auth_failures = Counter("outrider_auth_failures", "Refused credentials", ["kind"], registry=self.registry)

"""The service's Prometheus metrics: requests, errors and latency per model and endpoint.
With several uvicorn workers a scrape reaches one of them, so the counts live in
prometheus_client's multiprocess files (PROMETHEUS_MULTIPROC_DIR, set by `scorehouse
serve`) and every scrape sums the workers'."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

# seconds: half a millisecond to two seconds, finest where the 10 ms goal is
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1, 2)


class Metrics:
    def __init__(self, multiprocess: bool = False) -> None:
        self.multiprocess = multiprocess and "PROMETHEUS_MULTIPROC_DIR" in os.environ
        self.registry = None if self.multiprocess else CollectorRegistry()
        labels = ["model", "endpoint"]
        self.requests = Counter(
            "scorehouse_requests",
            "Requests answered, by model, endpoint and HTTP status",
            [*labels, "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "scorehouse_request_errors",
            "Requests answered with a 4xx or 5xx status",
            labels,
            registry=self.registry,
        )
        self.rows = Counter(
            "scorehouse_rows_scored", "Rows scored (or looked up)", labels, registry=self.registry
        )
        self.latency = Histogram(
            "scorehouse_request_seconds",
            "Time from the request's arrival to its response's start",
            labels,
            buckets=BUCKETS,
            registry=self.registry,
        )

    def observe(
        self, model: str | None, endpoint: str, status: int, seconds: float, rows: int
    ) -> None:
        labels = (model or "", endpoint)
        self.requests.labels(*labels, str(status)).inc()
        if status >= 400:
            self.errors.labels(*labels).inc()
        elif rows:
            self.rows.labels(*labels).inc(rows)
        self.latency.labels(*labels).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

"""Prometheus metrics of a worker (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

CONNECTED = Gauge("exam_connected_learners", "Learner sockets connected to this worker", registry=REGISTRY)
ANSWERS = Counter("exam_answers_total", "Answers acknowledged by this worker", registry=REGISTRY)
ACK_LATENCY = Histogram("exam_ack_latency_seconds", "Time from receiving a learner message to its ack",
                        buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
SWEEP_LATENESS = Histogram("exam_sweeper_lateness_seconds", "How long after deadline + grace an attempt was closed",
                           buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60), registry=REGISTRY)
SWEPT = Counter("exam_sweeper_closed_total", "Attempts closed by this worker's sweeper", registry=REGISTRY)
OUTAGE_CREDIT = Counter("exam_outage_credit_seconds_total", "Seconds of outage credited to attempts", registry=REGISTRY)

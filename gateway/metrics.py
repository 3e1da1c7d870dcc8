"""What the operators' Prometheus reads at GET /metrics (gateway/api/metrics.py).

Counters and the identity histogram live in the memory of the process doing the work: intakes in the serving
processes, deliveries in whichever process runs the outbox worker. Each `Services` owns one `Metrics` with a
registry of its own, never prometheus_client's global one, so two apps in one process (as the tests build
them) count apart. Updating a metric is a dictionary look-up and an addition: no I/O.

The backlog gauges (outbox depth and oldest age, overdue dossiers) are read from PostgreSQL when scraped
(`Backlog`, two queries) and belong to that one answer. When the database does not answer, the scrape still
answers, with the process metrics, the counters and motcua_database_up 0.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import prometheus_client
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from gateway.errors import GatewayError
from gateway.store import outbox

# No `…_created` series beside every counter (a process-wide switch of prometheus_client; nothing here reads them).
prometheus_client.disable_created_metrics()

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus version reads
CHANNELS = ("postal", "counter", "online")
INTAKE_OUTCOMES = ("accepted", "replayed", "rejected", "failed")
IDENTITY_OUTCOMES = ("verified", "partial", "mismatch", "pending", "error")
DELIVERY_OUTCOMES = ("done", "retry", "dead")
BACKLOG_STATUSES = ("pending", "dead")
# The look-up's own timeout is MOTCUA_IDENTITY_TIMEOUT_SECONDS (3 s by default), bounded again at twice that.
IDENTITY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)


@dataclass
class IntakeAttempt:
    """One request to an intake endpoint. The handler names the channel once the caller is known (until then
    `unknown`) and marks a replay; an error escaping it decides the outcome instead."""

    channel: str = "unknown"
    outcome: str = "accepted"


@dataclass(frozen=True)
class BacklogRow:
    kind: str
    status: str  # pending | dead
    messages: int
    oldest_seconds: float | None  # pending only


@dataclass(frozen=True)
class Backlog:
    """The database's part of one scrape."""

    outbox: list[BacklogRow] = field(default_factory=list)
    overdue: int = 0


class Metrics:
    """The registry of one process and the metrics its code updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prometheus_client.ProcessCollector(registry=self.registry)  # process_*: CPU, memory, open files
        prometheus_client.PlatformCollector(registry=self.registry)  # python_info
        prometheus_client.GCCollector(registry=self.registry)  # python_gc_*
        self.intakes = Counter(
            "motcua_intakes",
            "Intake requests (POST /v1/dossiers, POST /v1/portal/dossiers) by channel (unknown: refused before "
            "the caller was identified) and outcome: accepted (201), replayed (the stored answer to a retried "
            "Idempotency-Key), rejected (4xx), failed (5xx, database unavailable).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.routing_errors = Counter(
            "motcua_routing_errors",
            "Intakes refused because the units or the procedure could not be mapped, by stable problem code "
            "(unit.unknown, unit.ambiguous, procedure.unknown ...).",
            ["code"],
            registry=self.registry,
        )
        self.identity_seconds = Histogram(
            "motcua_identity_seconds",
            "Population-register look-ups (cache hits excluded) by outcome: verified, partial (name matches only "
            "without diacritics), mismatch, pending (no answer in time: unavailable or timed out), error (a fault, "
            "an answer that failed its signature or freshness checks, or an unexpected exception).",
            ["outcome"],
            buckets=IDENTITY_BUCKETS,
            registry=self.registry,
        )
        self.deliveries = Counter(
            "motcua_deliveries",
            "Outbox messages handled by this process's worker, by kind and outcome: done (delivered), retry "
            "(rescheduled with backoff), dead (dead-lettered past the retry budget).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        # Known label values start at 0, so a first increment is a visible change rather than a new series.
        for channel in CHANNELS:
            for outcome in INTAKE_OUTCOMES:
                self.intakes.labels(channel, outcome)
        for outcome in IDENTITY_OUTCOMES:
            self.identity_seconds.labels(outcome)
        for kind in outbox.KINDS:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(kind, outcome)

    @contextmanager
    def intake_attempt(self) -> Iterator[IntakeAttempt]:
        """Count the intake request run inside: accepted or replayed as the handler says, rejected when a 4xx
        error escapes, failed for anything else (the problem middleware answers it with a 5xx)."""
        attempt = IntakeAttempt()
        try:
            yield attempt
        except BaseException as exc:
            status = exc.status if isinstance(exc, GatewayError | web.HTTPException) else 500
            attempt.outcome = "rejected" if 400 <= status < 500 else "failed"
            raise
        finally:
            self.intakes.labels(attempt.channel, attempt.outcome).inc()

    def exposition(self, backlog: Backlog | None) -> bytes:
        """The answer to a scrape: this process's metrics, then the backlog read for it (None: the database did
        not answer)."""
        return generate_latest(_Scrape(self.registry, backlog))


class _Scrape:
    """One scrape's collector: the registry's metrics and the backlog gauges, which no other scrape shares."""

    def __init__(self, registry: CollectorRegistry, backlog: Backlog | None) -> None:
        self.registry, self.backlog = registry, backlog

    def collect(self) -> Iterable[Metric]:
        yield from self.registry.collect()
        up = GaugeMetricFamily(
            "motcua_database_up", "1 when this scrape read the backlog gauges from PostgreSQL, 0 when it could not."
        )
        up.add_metric([], 0 if self.backlog is None else 1)
        yield up
        if self.backlog is not None:
            yield from _backlog_families(self.backlog)


def _backlog_families(backlog: Backlog) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "motcua_outbox_depth",
        "Outbox messages waiting (pending, including pull deliveries not yet taken by their agency) or "
        "dead-lettered (dead), by kind.",
        labels=["kind", "status"],
    )
    oldest = GaugeMetricFamily(
        "motcua_outbox_oldest_seconds",
        "Age of the oldest pending outbox message of each kind, in seconds since it was enqueued (0: none pending).",
        labels=["kind"],
    )
    counts = {(kind, status): 0 for kind in outbox.KINDS for status in BACKLOG_STATUSES}
    ages = dict.fromkeys(outbox.KINDS, 0.0)
    for row in backlog.outbox:
        counts[(row.kind, row.status)] = row.messages
        if row.status == "pending":
            ages[row.kind] = max(0.0, row.oldest_seconds or 0.0)
    for (kind, status), messages in sorted(counts.items()):
        depth.add_metric([kind, status], messages)
    for kind, age in sorted(ages.items()):
        oldest.add_metric([kind], age)
    yield depth
    yield oldest
    yield GaugeMetricFamily(
        "motcua_dossiers_overdue",
        "Dossiers past their appointment that are unfinished with their clock running (not waiting for a "
        "supplement): what the overdue scan raises `overdue` events on.",
        value=backlog.overdue,
    )

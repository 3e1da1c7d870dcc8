"""Routing plus appointment computation for 100,000 dossiers, and the start-up load of all tables.

Run: .venv/bin/python -m bench.bench_mapping [--dossiers N]

Absolute figures depend on the machine, so each is also printed as a ratio against a baseline measured in
the same process and the same run: serialising the same request to JSON (a fixed, small piece of work).
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vietnam_provinces import Ward

from bench.machine import describe
from mapping import IntakePoint, MappingError, RoutingRequest, UnitInput, WorkingCalendar, decide, load_catalog
from mapping.calendar import VN_TZ
from mapping.units import resolve_unit

RESULTS = Path(__file__).parent / "results"
_LOAD = (
    "import time; started = time.perf_counter(); from mapping import load_catalog; from mapping.units import "
    "load_tables; load_catalog(); load_tables(); print(time.perf_counter() - started)"
)


def _requests(count: int, codes: list[str], communes: list[str]) -> list[RoutingRequest]:
    rng = random.Random(20261121)  # the same inputs on every run
    start = datetime(2026, 1, 1, tzinfo=VN_TZ)
    intake_units = [resolve_unit(c) for c in rng.sample(communes, 200)]
    return [
        RoutingRequest(
            procedure_code=rng.choice(codes),
            residence=UnitInput(rng.choice(communes)),
            intake=IntakePoint(rng.choice(("postal", "counter")), rng.choice(intake_units)),
            at=start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60)),
            subject=UnitInput(rng.choice(communes)),
        )
        for _ in range(count)
    ]


def _timed(work, repeats: int = 3) -> float:
    """Best of `repeats` wall-clock runs, in seconds."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=100_000)
    count = parser.parse_args().dossiers

    # Start-up load, measured in fresh processes (imports and generated agencies included, nothing cached).
    load_times = [
        float(subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    catalog = load_catalog()
    calendar = WorkingCalendar()
    communes = [f"{int(w.code):05d}" for w in Ward.iter_all()]
    requests = _requests(count, sorted({p.code for p in catalog.procedures()}), communes)

    outcomes: dict[str, int] = {}

    def route_and_date() -> None:
        outcomes.clear()
        for request in requests:
            try:
                decision = decide(catalog, request)
                calendar.appointment(request.at, decision.procedure.processing, decision.procedure.same_day_cutoff)
                outcomes["routed"] = outcomes.get("routed", 0) + 1
            except MappingError as error:
                outcomes[error.code] = outcomes.get(error.code, 0) + 1

    def baseline() -> None:
        for request in requests:
            json.dumps([request.procedure_code, request.residence.code, request.at.isoformat()])

    routed = _timed(route_and_date)
    base = _timed(baseline)
    lines = [
        f"command: .venv/bin/python -m bench.bench_mapping --dossiers {count}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {describe()}",
        f"start-up load (catalog, {len(catalog.agencies)} agencies, 2025 and legacy unit tables): "
        f"median {statistics.median(load_times) * 1000:.0f} ms of 3 fresh processes, imports included",
        f"route + appointment: {count} dossiers in {routed:.3f} s = {count / routed:,.0f} dossiers/s "
        f"({routed / count * 1e6:.1f} µs each)",
        f"baseline (json.dumps of the same inputs): {base:.3f} s; ratio route+appointment / baseline = "
        f"{routed / base:.1f}",
        f"outcomes: {dict(sorted(outcomes.items()))}",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mapping.txt").write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())

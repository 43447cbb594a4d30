"""Metrics (admins): charts of the last 24 hours' throughput, entries created per day and the warm/cold
split, each with its numbers in a table, then every counter, gauge and rate of the metrics snapshot (the
fact-extraction backlog reads "off" rather than 0 when LLM fact extraction is not enabled).

One service call (`metrics.overview`: the `GET /v1/admin/metrics` snapshot plus its series); the charts
are drawn here, on the server, by `web/charts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from starlette.responses import Response

from novamem.services.operations.models import MetricsOverview, MetricsSnapshot
from novamem.web.charts import Chart, Series, bar_chart, category_chart, line_chart
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["METRICS", "SCREENS", "Figure", "metrics_charts"]

METRICS = "/admin/metrics"
# what each snapshot number means, in the words of the page (the wire names are shown beside them)
_COUNTERS = {
    "queries_total": "Queries answered",
    "queries_zero_hit": "Queries that found nothing",
    "remembers_total": "Memories stored",
    "forgets_total": "Memories forgotten",
    "hits_warm_total": "Warm entries returned",
    "hits_cold_total": "Cold entries returned",
    "hits_graph_total": "Graph neighbours returned",
    "promotions_total": "Promotions (cold to warm)",
    "demotions_total": "Demotions (warm to cold)",
    "decay_runs_total": "Decay passes",
    "orphans_reaped_total": "Orphans reaped",
    "search_errors_total": "Failed reads",
    "remember_errors_total": "Failed writes",
}
_GAUGES = {
    "warm_entries": "Warm entries",
    "cold_entries": "Cold entries",
    "graph_edges": "Graph edges",
    "orphans_pending": "Orphans pending",
    "pending_embeddings": "Pending embeddings",
    "pending_facts": "Pending fact extractions",
    "last_decay_run_iso": "Last decay pass",
}


@dataclass(frozen=True, slots=True)
class Figure:
    """A number of the snapshot as the page lists it."""

    label: str
    name: str
    value: int | float | str | None
    note: str | None = None  # shown instead of the value when the number does not apply (a stage that is off)


def _hour(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%H:%M")


def _day(iso_day: str) -> str:
    day = date.fromisoformat(iso_day)
    return f"{day:%b} {day.day}"


def metrics_charts(overview: MetricsOverview) -> list[Chart]:
    """The charts of an overview (those whose numbers are known)."""
    charts: list[Chart] = []
    if overview.throughput is not None:
        hours = overview.throughput
        charts.append(
            bar_chart(
                "Throughput, last 24 hours",
                "Hour (UTC)",
                [_hour(h.start) for h in hours],
                [
                    Series("Queries", "cold", tuple(h.queries for h in hours)),
                    Series("Remembers", "warm", tuple(h.remembers for h in hours)),
                ],
                label_every=4,
            )
        )
    if overview.entries_per_day is not None:
        days = overview.entries_per_day
        charts.append(
            line_chart(
                f"Entries created per day, last {len(days)} days",
                "Day (UTC)",
                [_day(d.day) for d in days],
                [Series("Entries", "graph", tuple(d.entries for d in days))],
                label_every=5,
            )
        )
    gauges = overview.snapshot.gauges
    if gauges.warm_entries is not None and gauges.cold_entries is not None:
        charts.append(
            category_chart(
                "Entries by tier",
                "Tier",
                "Entries",
                [("Warm", gauges.warm_entries, "warm"), ("Cold", gauges.cold_entries, "cold")],
            )
        )
    return charts


def _gauge_figure(name: str, label: str, value: int | str | None, *, extraction: bool) -> Figure:
    if name == "pending_facts" and not extraction:
        return Figure(label, name, None, note="extraction off")
    return Figure(label, name, value)


def _figures(snapshot: MetricsSnapshot, *, extraction: bool) -> tuple[list[Figure], list[Figure], list[Figure]]:
    counters = snapshot.counters.model_dump()
    gauges = snapshot.gauges.model_dump()
    rates = snapshot.rates
    return (
        [Figure(label, name, counters[name]) for name, label in _COUNTERS.items()],
        [_gauge_figure(name, label, gauges[name], extraction=extraction) for name, label in _GAUGES.items()],
        [
            Figure("Queries per second, last minute", "queries_per_sec_60s", rates.queries_per_sec_60s),
            Figure("Stores per second, last minute", "remembers_per_sec_60s", rates.remembers_per_sec_60s),
        ],
    )


def _uptime(ms: int) -> str:
    minutes = ms // 60_000
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


async def metrics_page(visit: Visit) -> Response:
    """Charts and the metrics snapshot of the admin's tenant (the deployment's for a server admin)."""
    overview = await visit.container.metrics.overview(visit.caller)
    counters, gauges, rates = _figures(overview.snapshot, extraction=visit.container.settings.extraction_enabled)
    return visit.render(
        "admin_metrics.html",
        charts=metrics_charts(overview),
        counters=counters,
        gauges=gauges,
        rates=rates,
        uptime=_uptime(overview.snapshot.uptime_ms),
    )


SCREENS = (Screen(METRICS, metrics_page, ("GET", "/v1/admin/metrics"), admin=True),)

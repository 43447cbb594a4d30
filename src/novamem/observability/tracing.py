"""OpenTelemetry spans, exported over OTLP/HTTP only when an endpoint is configured.

Unset (the default), nothing is set up: no SDK, no exporter, no processor thread, and every helper here
is one check of a module flag. The tracer provider is process-wide by OpenTelemetry's design (the MCP
SDK's own spans use the global one too), so the flag lives here rather than in the container.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer

from novamem import __version__
from novamem.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "EXPORT_DELAY_MS",
    "TracingHandle",
    "configure_tracing",
    "current_context",
    "current_trace_ids",
    "enabled",
    "extract_context",
    "inject_headers",
    "span",
]

log = logging.getLogger("novamem.tracing")

#: batch export interval (the reference's "batch export 5 s")
EXPORT_DELAY_MS = 5000
EXPORT_TIMEOUT_S = 5.0
_NO_SPAN: nullcontext[None] = nullcontext()
_tracer: Tracer | None = None


class TracingHandle:
    """The installed tracer provider; `shutdown()` exports what is queued, then stops the exporter."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    def shutdown(self) -> None:
        global _tracer
        _tracer = None
        try:
            self.provider.force_flush(timeout_millis=int(EXPORT_TIMEOUT_S * 1000))
            self.provider.shutdown()
        except Exception:  # a collector that is down must never fail the shutdown
            log.warning("could not flush the last spans", exc_info=True)


def configure_tracing(settings: Settings) -> TracingHandle | None:
    """Install a batching OTLP/HTTP tracer provider when `settings.otel_traces_url` is set, else do nothing."""
    global _tracer
    url = settings.otel_traces_url
    if not url:
        return None
    # imported only here: without an endpoint the SDK is never loaded
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": settings.otel_service_name, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=url, timeout=EXPORT_TIMEOUT_S)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=EXPORT_DELAY_MS))
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer("novamem", __version__)
    log.info("exporting traces", extra={"otlp_url": url, "service_name": settings.otel_service_name})
    return TracingHandle(provider)


def enabled() -> bool:
    """Whether spans are being recorded (an OTLP endpoint is configured)."""
    return _tracer is not None


def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    context: Context | None = None,
    links: Sequence[Link] | None = None,
    record_exception: bool = True,
) -> AbstractContextManager[Span | None]:
    """A span made current for the `with` block, or a shared no-op context (yielding None) when tracing is off."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=dict(attributes) if attributes else None,
        links=links,
        record_exception=record_exception,
        set_status_on_exception=record_exception,
    )


def current_context() -> Context | None:
    """The active trace context, to hand to work done in another task (None when tracing is off)."""
    if _tracer is None:
        return None
    from opentelemetry.context import get_current

    return get_current()


def current_trace_ids() -> tuple[str, str] | None:
    """Hex trace id and span id of the active span, for log correlation (None when off or outside a span)."""
    if _tracer is None:
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def extract_context(headers: Mapping[str, str]) -> Context:
    """The W3C trace context (traceparent, tracestate, baggage) of an incoming request's headers."""
    return propagate.extract(headers)


def inject_headers(headers: MutableMapping[str, str]) -> None:
    """Add the active trace context to an outgoing request's headers (no-op when tracing is off)."""
    if _tracer is not None:
        propagate.inject(headers)

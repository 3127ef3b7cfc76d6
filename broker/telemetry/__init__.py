"""OpenTelemetry traces, exported over OTLP/HTTP when `BROKER_OTLP_ENDPOINT` is set.

Off by default, and then nothing is built: no tracer provider, no middleware, no span
wrappers around the pipeline stages, so the hot path is exactly what it is without tracing.
"""

from broker.telemetry.tracing import TraceRequests, current_trace_id, make_tracer

__all__ = ["TraceRequests", "current_trace_id", "make_tracer"]

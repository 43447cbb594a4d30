"""Logs and traces: JSON log lines with redaction, the request id, and OpenTelemetry spans.

It sits just above `config` and `errors`, so storage, embedding, services and edges can all use it.
"""

"""The OpenTelemetry export parses as an OTLP ExportTraceServiceRequest (the OpenTelemetry
protobuf definitions), holds one trace per saga, and every parent and link points at a span of
the same trace."""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from typer.testing import CliRunner

from concertsim.cli import app
from concertsim.reports.exports.otlp import otlp_trace
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

CHOREOGRAPHY = small_scenario("workload.users=6", "design.payment_flow=choreography", "workload.abandon_probability=0")


def parse(document: dict) -> ExportTraceServiceRequest:
    """OTLP/JSON writes trace and span ids as hex where protobuf's JSON mapping expects base64:
    convert them, then parse strictly."""
    converted = copy.deepcopy(document)
    for resource in converted["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for holder in (span, *span.get("links", [])):
                    for field in ("traceId", "spanId", "parentSpanId"):
                        if field in holder:
                            holder[field] = base64.b64encode(bytes.fromhex(holder[field])).decode()
    return json_format.Parse(json.dumps(converted), ExportTraceServiceRequest())


@pytest.fixture(scope="module")
def request_() -> ExportTraceServiceRequest:
    return parse(otlp_trace(run_scenario(CHOREOGRAPHY)))


def spans(request: ExportTraceServiceRequest) -> list[tuple[str, Span]]:
    return [(resource.resource.attributes[0].value.string_value, span)
            for resource in request.resource_spans for scope in resource.scope_spans for span in scope.spans]


def test_the_export_parses_with_the_opentelemetry_definitions(request_: ExportTraceServiceRequest) -> None:
    services = {service for service, _ in spans(request_)}
    assert {"client", "gateway", "reservation", "point", "concert"} <= services
    kinds = Counter(span.kind for _, span in spans(request_))
    assert all(kinds[k] for k in (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_SERVER, Span.SPAN_KIND_PRODUCER,
                                   Span.SPAN_KIND_CONSUMER, Span.SPAN_KIND_INTERNAL))


def test_one_saga_is_one_connected_trace(request_: ExportTraceServiceRequest) -> None:
    by_id = {(span.trace_id, span.span_id): span for _, span in spans(request_)}
    for _, span in spans(request_):
        if span.parent_span_id:
            assert (span.trace_id, span.parent_span_id) in by_id  # the parent is in the same trace
        for link in span.links:
            assert (link.trace_id, link.span_id) in by_id
    pay_roots = [span for service, span in spans(request_) if service == "client" and span.name == "pay"]
    assert pay_roots
    for root in pay_roots:
        saga = [span for _, span in spans(request_) if span.trace_id == root.trace_id]
        names = {span.name for span in saga}
        # the payment call, Point's deduction, the PointUsedEvent and Reservation's handling of it
        assert {"POST /api/v1/payments", "point.use", "publish PointUsedEvent", "handle PointUsedEvent"} <= names
        consumer = next(span for span in saga if span.name == "handle PointUsedEvent")
        producer = next(span for span in saga if span.name == "publish PointUsedEvent")
        assert consumer.parent_span_id == producer.span_id and consumer.links[0].span_id == producer.span_id


def test_the_same_run_exports_the_same_file() -> None:
    assert otlp_trace(run_scenario(CHOREOGRAPHY)) == otlp_trace(run_scenario(CHOREOGRAPHY))


def test_run_writes_the_otlp_file(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["run", "small-opening", "--set", "workload.users=3", "--trace-format", "otlp",
                                    "--quiet", "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    parse(json.loads((tmp_path / "out" / "trace.otlp.json").read_text()))

"""Exports OpenTelemetry traces and logs to Plutus with the real OpenTelemetry Python SDK.

Environment: PLUTUS_URL, PLUTUS_KEY, FAKE_OPENAI_URL (a local stand-in for the OpenAI API),
FIXTURES (the directory of recorded Claude Code and Codex exports).

1. The official `openai` SDK, instrumented by `opentelemetry-instrumentation-openai`, makes two
   chat calls against the fake upstream; the spans go to Plutus's /v1/traces through
   `opentelemetry-exporter-otlp-proto-http` (protobuf, gzip), then the same export is sent again.
2. Hand-made GenAI spans (OpenInference's names, an older instrumentation's, one without usage,
   one without a provider) go as OTLP/JSON, encoded by the SDK's own encoder.
3. A log record shaped like Claude Code's `claude_code.api_request` goes through the SDK's OTLP
   log exporter (protobuf); the recorded Claude Code and Codex exports go as JSON, twice.

Prints one JSON object: what Plutus answered to each export.
"""

import base64
import json
import os
import re
import time
import urllib.request

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from google.protobuf.json_format import MessageToDict

BASE = os.environ["PLUTUS_URL"]
KEY = os.environ["PLUTUS_KEY"]
HEADERS = {"Authorization": "Bearer " + KEY}
results = {}


def to_otlp_json(message):
    """The protobuf JSON mapping, with trace and span ids in hex as OTLP/JSON wants them."""
    data = MessageToDict(message)

    def fix(node):
        if isinstance(node, dict):
            for key, value in list(node.items()):
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(data)
    return data


def post_json(path, body):
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST",
                                     headers={**HEADERS, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return {"status": response.status, "body": json.loads(response.read() or b"{}")}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": json.loads(error.read() or b"{}")}


# 1. The instrumented openai SDK, exported as protobuf with gzip, then the same spans again.
captured = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
provider.add_span_processor(SimpleSpanProcessor(captured))
trace.set_tracer_provider(provider)

from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument()
from openai import OpenAI  # noqa: E402

client = OpenAI(base_url=os.environ["FAKE_OPENAI_URL"] + "/v1", api_key="sk-test")
for text in ["Summarise the ticket", "Draft a reply"]:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
spans = captured.get_finished_spans()
results["instrumented_spans"] = len(spans)
exporter = OTLPSpanExporter(endpoint=BASE + "/v1/traces", headers=HEADERS, compression=Compression.Gzip)
results["protobuf_first"] = exporter.export(spans).name
results["protobuf_again"] = exporter.export(spans).name

# 2. Hand-made spans as OTLP/JSON, encoded by the SDK.
captured.clear()
tracer = trace.get_tracer("plutus-test")
with tracer.start_as_current_span("chat claude", attributes={
        "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.prompt_tokens": 1200, "gen_ai.usage.completion_tokens": 300,
        "plutus.workspace": "research", "plutus.task": "triage"}):
    pass
with tracer.start_as_current_span("llm", attributes={
        "llm.provider": "openai", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 2000,
        "llm.token_count.completion": 100, "llm.token_count.prompt_details.cache_read": 1500}):
    pass
with tracer.start_as_current_span("no usage here", attributes={"http.method": "GET"}):
    pass
with tracer.start_as_current_span("no provider", attributes={"gen_ai.usage.input_tokens": 10}):
    pass
body = to_otlp_json(encode_spans(captured.get_finished_spans()))
results["json_first"] = post_json("/v1/traces", body)
results["json_again"] = post_json("/v1/traces", body)

# 3. Claude Code's log event through the SDK's log exporter, and the recorded exports.
from opentelemetry._logs import SeverityNumber  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor  # noqa: E402

logs = LoggerProvider(resource=Resource.create({"service.name": "claude-code", "plutus.workspace": "billing-app"}))
log_exporter = OTLPLogExporter(endpoint=BASE + "/v1/logs", headers=HEADERS)
logs.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
logger = logs.get_logger("com.anthropic.claude_code.events")
logger.emit(
    timestamp=time.time_ns() - 60 * 10**9,
    severity_number=SeverityNumber.INFO, body="claude_code.api_request",
    attributes={"event.name": "api_request", "session.id": "sess-1", "event.sequence": 7,
                "model": "claude-sonnet-4-5", "input_tokens": 40, "output_tokens": 900,
                "cache_read_tokens": 30000, "cache_creation_tokens": 2000, "cost_usd": 99.0})
logs.force_flush()
results["claude_code_sdk"] = "sent"

fixtures = os.environ["FIXTURES"]
for name in ["claude_code_logs.json", "codex_logs.json"]:
    with open(os.path.join(fixtures, name)) as source:
        # The recordings mark times as "NOW-300s": an export made five minutes ago.
        now = time.time_ns()
        text = re.sub(r'"NOW-(\d+)s"', lambda match: '"%d"' % (now - int(match.group(1)) * 10**9), source.read())
        export = json.loads(text)
    results[name + "_first"] = post_json("/v1/logs", export)
    results[name + "_again"] = post_json("/v1/logs", export)

print(json.dumps(results))

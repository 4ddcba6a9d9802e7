//! Kafka record headers: event identity, W3C trace context, dead-letter details.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The event's id (also inside the Avro body), so tools can dedupe without decoding.
pub const EVENT_ID: &str = "smsflow.event.id";
/// The event's type name, e.g. `SendRequested`.
pub const EVENT_TYPE: &str = "smsflow.event.type";
/// Dead letter: topic the record came from.
pub const DLQ_TOPIC: &str = "smsflow.dlq.topic";
/// Dead letter: partition it came from.
pub const DLQ_PARTITION: &str = "smsflow.dlq.partition";
/// Dead letter: offset it had.
pub const DLQ_OFFSET: &str = "smsflow.dlq.offset";
/// Dead letter: stable error code.
pub const DLQ_ERROR_CODE: &str = "smsflow.dlq.error.code";
/// Dead letter: error text.
pub const DLQ_ERROR: &str = "smsflow.dlq.error";
/// Dead letter: service (consumer group) that gave up on it.
pub const DLQ_SERVICE: &str = "smsflow.dlq.service";
/// A record republished from the dead-letter topic by `smsflow dlq redrive`: the
/// `<partition>:<offset>` of the dead letter it came from, so a record dead-lettered again
/// can be traced to its earlier life.
pub const REDRIVE_FROM: &str = "smsflow.redrive.from";

/// Adds `key: value` to `headers`.
pub fn with(headers: OwnedHeaders, key: &str, value: &str) -> OwnedHeaders {
    headers.insert(Header {
        key,
        value: Some(value),
    })
}

/// The value of header `key` as UTF-8, if present.
pub fn get_owned<'a>(headers: Option<&'a OwnedHeaders>, key: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
}

struct HeaderInjector(Vec<(String, String)>);

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

struct HeaderExtractor<'a>(&'a OwnedHeaders);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        get_owned(Some(self.0), key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.key).collect()
    }
}

/// Adds the current span's W3C trace context (`traceparent`, `tracestate`) to `headers`.
pub fn inject_current_trace(mut headers: OwnedHeaders) -> OwnedHeaders {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return headers;
    }
    let cx = span.context();
    let mut inj = HeaderInjector(Vec::new());
    TraceContextPropagator::new().inject_context(&cx, &mut inj);
    for (k, v) in inj.0 {
        headers = with(headers, &k, &v);
    }
    headers
}

/// Makes `span` a child of the trace context carried in `headers`, if any. A disabled span
/// (nobody records it) costs nothing: the headers are not parsed.
pub fn set_parent_from(span: &tracing::Span, headers: Option<&OwnedHeaders>) {
    if let Some(h) = headers.filter(|_| !span.is_disabled()) {
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(h));
        let _ = span.set_parent(cx);
    }
}

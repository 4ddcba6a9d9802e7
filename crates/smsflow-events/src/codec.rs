//! [`EventCodec`]: typed events to and from Confluent-framed Avro, through a schema registry.
//!
//! Subject naming: **TopicRecordNameStrategy**, `<topic>-<fully.qualified.RecordName>`, e.g.
//! `sms.attempts-io.smsflow.events.AttemptStarted`, because several event types share a topic.
//! Each subject's compatibility is set to BACKWARD_TRANSITIVE before its schema is registered.
//!
//! Encoding writes with our embedded schema. Decoding reads the writer schema id, fetches the
//! schema (cached), maps its record name to an [`EventKind`], and reads either straight into
//! the Rust type (writer schema identical to ours: the common case) or through Avro schema
//! resolution (an older or newer compatible writer).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use apache_avro::reader::datum::GenericDatumReader;
use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};

use crate::error::{DecodeError, EncodeError};
use crate::events::{Event, EventKind};
use crate::schema;
use crate::wire;

/// Largest Avro allocation accepted while decoding (guards against hostile length prefixes).
const MAX_AVRO_ALLOCATION: usize = 4 << 20;

/// Compatibility level set on every subject we register.
pub const COMPATIBILITY: &str = "BACKWARD_TRANSITIVE";

/// What a writer schema id means to us.
#[derive(Debug)]
struct WriterInfo {
    kind: EventKind,
    /// Writer schema identical to ours: read straight into the Rust type.
    same_as_ours: bool,
    /// The writer schema, for resolution when it differs.
    writer: Arc<schema_registry_converter::avro_common::AvroSchema>,
}

/// Encodes and decodes events in the Confluent wire format. Cheap to share (`Arc`).
pub struct EventCodec {
    /// Registry base URL, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`.
    url: String,
    encoder: AvroEncoder,
    decoder: AvroDecoder,
    http: reqwest::Client,
    /// Registered schema id per (topic, event).
    ids: RwLock<HashMap<(String, EventKind), u32>>,
    /// Decoding plan per writer schema id.
    writers: RwLock<HashMap<u32, Arc<WriterInfo>>>,
    /// Serialises registrations (first use of a subject), which race in the registry otherwise.
    registering: tokio::sync::Mutex<()>,
    /// Basic-auth credentials for the registry, if it wants them.
    basic: Option<(String, String)>,
}

impl std::fmt::Debug for EventCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventCodec")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn registry_error(e: &SRCError) -> EncodeError {
    EncodeError::Registry {
        message: match &e.cause {
            Some(c) => format!("{}: {c}", e.error),
            None => e.error.clone(),
        },
        retriable: e.retriable,
    }
}

impl EventCodec {
    /// A codec talking to the Confluent-compatible registry at `url`.
    pub fn new(url: &str) -> Result<Self, EncodeError> {
        Self::with_auth(url, None)
    }

    /// A codec for a registry that wants HTTP basic authentication (`user`, `password`), as
    /// Confluent Cloud's does.
    pub fn with_auth(url: &str, basic: Option<(&str, &str)>) -> Result<Self, EncodeError> {
        apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION);
        let url = url.trim_end_matches('/').to_owned();
        let settings = || {
            let mut b = SrSettings::new_builder(url.clone());
            b.set_timeout(Duration::from_secs(5)).no_proxy();
            if let Some((user, password)) = basic {
                b.set_basic_authorization(user, Some(password));
            }
            b.build().map_err(|e| registry_error(&e))
        };
        Ok(Self {
            encoder: AvroEncoder::new(settings()?),
            decoder: AvroDecoder::new(settings()?),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .no_proxy()
                .build()
                .map_err(|e| EncodeError::Registry {
                    message: e.to_string(),
                    retriable: false,
                })?,
            ids: RwLock::default(),
            writers: RwLock::default(),
            registering: tokio::sync::Mutex::new(()),
            basic: basic.map(|(u, p)| (u.to_owned(), p.to_owned())),
            url,
        })
    }

    /// The registry subject for `kind` on `topic`.
    pub fn subject(topic: &str, kind: EventKind) -> String {
        format!("{topic}-{}", kind.full_name())
    }

    /// Sets BACKWARD_TRANSITIVE on the subject and registers our schema of `kind` for `topic`
    /// (idempotent: an identical schema gets its existing id). Fails if the registry holds an
    /// incompatible earlier version.
    pub async fn register(&self, topic: &str, kind: EventKind) -> Result<u32, EncodeError> {
        if let Some(id) = self.cached_id(topic, kind) {
            return Ok(id);
        }
        let _one_at_a_time = self.registering.lock().await;
        if let Some(id) = self.cached_id(topic, kind) {
            return Ok(id);
        }
        let subject = Self::subject(topic, kind);
        self.set_compatibility(Some(&subject)).await?;
        let supplied = SuppliedSchema::new(
            Some(kind.full_name().to_owned()),
            SchemaType::Avro,
            schema::schema(kind).json.clone(),
        );
        let strategy =
            SubjectNameStrategy::TopicRecordNameStrategyWithSchema(topic.to_owned(), supplied);
        let registered = self
            .encoder
            .get_schema_and_id(&subject, strategy)
            .await
            .map_err(|e| registry_error(&e))?;
        self.ids
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((topic.to_owned(), kind), registered.id);
        Ok(registered.id)
    }

    /// Registers every event schema of every topic in `catalog` (at start-up: an incompatible
    /// schema then stops the service before it takes any traffic).
    pub async fn register_catalog(
        &self,
        catalog: &[crate::TopicSpec],
    ) -> Result<usize, EncodeError> {
        let mut n = 0;
        for spec in catalog {
            for kind in spec.events {
                self.register(&spec.name, *kind).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Sets the compatibility level of `subject`, or the registry default when `None`.
    pub async fn set_compatibility(&self, subject: Option<&str>) -> Result<(), EncodeError> {
        let url = match subject {
            Some(s) => format!("{}/config/{s}", self.url),
            None => format!("{}/config", self.url),
        };
        let mut req = self.http.put(url);
        if let Some((u, p)) = &self.basic {
            req = req.basic_auth(u, Some(p));
        }
        let res = req
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .body(format!("{{\"compatibility\":\"{COMPATIBILITY}\"}}"))
            .send()
            .await
            .map_err(|e| EncodeError::Registry {
                message: format!("setting compatibility: {e}"),
                retriable: true,
            })?;
        // 409: the rule exists already (another client set it first).
        if res.status().is_success() || res.status() == reqwest::StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(EncodeError::Registry {
                message: format!("setting compatibility: HTTP {}", res.status()),
                retriable: res.status().is_server_error(),
            })
        }
    }

    fn cached_id(&self, topic: &str, kind: EventKind) -> Option<u32> {
        self.ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(topic.to_owned(), kind))
            .copied()
    }

    /// Encodes `event` for `topic`: header + Avro body. Registers the schema on first use.
    pub async fn encode(&self, topic: &str, event: &Event) -> Result<Vec<u8>, EncodeError> {
        let kind = event.kind();
        let id = match self.cached_id(topic, kind) {
            Some(id) => id,
            None => self.register(topic, kind).await?,
        };
        encode_with_id(id, event)
    }

    /// Decodes a framed payload into an event.
    pub async fn decode(&self, payload: &[u8]) -> Result<Event, DecodeError> {
        let (id, body) = wire::split(payload)?;
        let info = self.writer_info(id).await?;
        let writer = (!info.same_as_ours).then_some(&info.writer.parsed);
        decode_body(info.kind, writer, body)
    }

    async fn writer_info(&self, id: u32) -> Result<Arc<WriterInfo>, DecodeError> {
        if let Some(i) = self
            .writers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(i.clone());
        }
        let writer = match self.decoder.get_schema(id).await {
            Ok(w) => w,
            Err(e) => {
                // Don't let the failure stick in the decoder's cache: an id unknown during a
                // registry rollout may be known a moment later.
                self.decoder.remove_errors_from_cache();
                return Err(match self.lookup_id(id).await {
                    IdLookup::NotFound => DecodeError::UnknownSchemaId(id),
                    // The registry has it, but it cannot be read as a schema of ours: retrying
                    // would stall the partition forever.
                    IdLookup::Found if !e.retriable => DecodeError::UnknownEventType(format!(
                        "schema id {id} cannot be read: {}",
                        e.error
                    )),
                    IdLookup::Found | IdLookup::Unavailable => {
                        DecodeError::RegistryUnavailable(e.to_string())
                    }
                });
            }
        };
        let name = writer
            .parsed
            .name()
            .map(|n| n.fullname(None))
            .unwrap_or_default();
        let kind = EventKind::from_full_name(&name).ok_or(DecodeError::UnknownEventType(name))?;
        let info = Arc::new(WriterInfo {
            kind,
            same_as_ours: writer.parsed.canonical_form() == schema::schema(kind).canonical,
            writer,
        });
        self.writers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, info.clone());
        Ok(info)
    }
}

/// Frames `event` with `schema_id` (which must be the id of our schema of its kind).
pub fn encode_with_id(schema_id: u32, event: &Event) -> Result<Vec<u8>, EncodeError> {
    let mut out = wire::header(schema_id, 256);
    event.write_datum(&mut out).map_err(|e| EncodeError::Avro {
        event: event.kind().name(),
        source: Box::new(e),
    })?;
    Ok(out)
}

/// The bare Avro body of `event` with our schema (no header): for storing an event in a table.
pub fn encode_datum(event: &Event) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    event.write_datum(&mut out).map_err(|e| EncodeError::Avro {
        event: event.kind().name(),
        source: Box::new(e),
    })?;
    Ok(out)
}

/// Decodes a bare Avro body written with our schema of `kind` (no registry involved).
pub fn decode_datum(kind: EventKind, body: &[u8]) -> Result<Event, DecodeError> {
    decode_body(kind, None, body)
}

/// Decodes the Avro body of an event of `kind` written with `writer`: `None` when the writer
/// schema is ours (read straight into the Rust type), else an older or newer compatible
/// schema (read through Avro schema resolution). The whole body must be the record.
pub fn decode_body(
    kind: EventKind,
    writer: Option<&apache_avro::Schema>,
    body: &[u8],
) -> Result<Event, DecodeError> {
    // Set once per process; whichever decoder runs first must not leave avro's 512 MiB default.
    apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION);
    let Some(writer) = writer else {
        return Event::read_datum(kind, body).map_err(|e| avro_err(kind.name(), &e));
    };
    let reader = GenericDatumReader::builder(writer)
        .reader_schema(&schema::schema(kind).schema)
        .human_readable(true)
        .build()
        .map_err(|e| avro_err(kind.name(), &e))?;
    let mut input = Bounded {
        rest: body,
        overrun: false,
    };
    let value = reader
        .read_value(&mut input)
        .map_err(|e| avro_err(kind.name(), &e))?;
    if input.overrun {
        return Err(DecodeError::Avro {
            event: kind.name().to_owned(),
            message: "the record is truncated".to_owned(),
        });
    }
    if !input.rest.is_empty() {
        return Err(DecodeError::Avro {
            event: kind.name().to_owned(),
            message: format!("{} trailing bytes after the record", input.rest.len()),
        });
    }
    Event::from_resolved(kind, &value).map_err(|e| avro_err(kind.name(), &e))
}

/// The body as the generic (resolving) reader reads it, remembering whether it read past
/// the end: apache-avro 0.22 decodes a union index or a string cut off by the end of the
/// body as null instead of failing, so a truncated record would decode with its last
/// optional fields null (found by the `avro_wire` fuzz target).
struct Bounded<'a> {
    rest: &'a [u8],
    overrun: bool,
}

impl std::io::Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.rest.is_empty() && !buf.is_empty() {
            self.overrun = true;
            return Ok(0);
        }
        self.rest.read(buf)
    }
}

/// Decodes a framed payload without a registry: `writer_of` says what a schema id stands for
/// (the event kind and its writer schema, `None` for ours), as the registry would. For tools,
/// tests and the fuzz targets; services use [`EventCodec::decode`], which differs only in
/// asking the registry.
pub fn decode_framed<'s>(
    payload: &[u8],
    writer_of: impl FnOnce(u32) -> Result<(EventKind, Option<&'s apache_avro::Schema>), DecodeError>,
) -> Result<Event, DecodeError> {
    let (id, body) = wire::split(payload)?;
    let (kind, writer) = writer_of(id)?;
    decode_body(kind, writer, body)
}

/// What the registry says of a schema id, asked directly when the decoder failed to fetch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdLookup {
    /// It has the schema (the decoder's failure was something else).
    Found,
    /// HTTP 404 with Confluent's error code 40403 ("schema not found"): the id was never
    /// given, and a record naming it is poison.
    NotFound,
    /// No answer, a 5xx, or anything else: retry, never dead-letter on it.
    Unavailable,
}

/// Classifies the registry's answer to `GET /schemas/ids/{id}` by HTTP status and error code.
fn classify_id_lookup(status: u16, body: &str) -> IdLookup {
    let error_code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error_code").and_then(serde_json::Value::as_i64));
    match (status, error_code) {
        (200..=299, _) => IdLookup::Found,
        (404, Some(40403)) => IdLookup::NotFound,
        _ => IdLookup::Unavailable,
    }
}

impl EventCodec {
    async fn lookup_id(&self, id: u32) -> IdLookup {
        // Asked as the decoder asks (soft-deleted schemas included), so a deleted schema's
        // old records are not taken for poison.
        let mut req = self
            .http
            .get(format!("{}/schemas/ids/{id}?deleted=true", self.url));
        if let Some((u, p)) = &self.basic {
            req = req.basic_auth(u, Some(p));
        }
        let Ok(res) = req.send().await else {
            return IdLookup::Unavailable;
        };
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        classify_id_lookup(status, &body)
    }
}

fn avro_err(event: &str, e: &apache_avro::Error) -> DecodeError {
    DecodeError::Avro {
        event: event.to_owned(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_record_is_refused_on_both_paths() {
        // Regression (fuzz/, `avro_wire`): through schema resolution, a ConsentChanged cut
        // before its optional fields, or inside its keyword, decoded with them null.
        let mut event = crate::arbitrary::one_of_each_kind()
            .into_iter()
            .find_map(|e| crate::ConsentChanged::try_from(e).ok())
            .expect("a ConsentChanged");
        event.keyword = Some("STOP".into());
        event.evidence_message_id = None;
        let event = Event::ConsentChanged(event);
        let body = encode_datum(&event).expect("encodes");
        let ours = &schema::schema(event.kind()).schema;
        assert_eq!(
            decode_body(event.kind(), Some(ours), &body).ok(),
            Some(event.clone())
        );
        // Cut inside "STOP" (4 bytes, then the evidence index), and before the keyword's index.
        for cut in [3, 7] {
            let short = &body[..body.len() - cut];
            assert!(
                decode_body(event.kind(), None, short).is_err(),
                "fast path, cut {cut}"
            );
            assert!(
                decode_body(event.kind(), Some(ours), short).is_err(),
                "resolution, cut {cut}"
            );
        }
    }

    #[test]
    fn only_the_registrys_schema_not_found_makes_an_id_unknown() {
        let not_found = r#"{"error_code":40403,"message":"Schema 7 not found"}"#;
        assert_eq!(classify_id_lookup(404, not_found), IdLookup::NotFound);
        assert_eq!(
            classify_id_lookup(200, r#"{"schema":"..."}"#),
            IdLookup::Found
        );
        // A 404 that is not the registry's (a proxy, a wrong path) is an outage, not poison.
        assert_eq!(
            classify_id_lookup(404, "<html>404 Not Found</html>"),
            IdLookup::Unavailable
        );
        // A message that merely mentions 404 or 40403 is not the code.
        let backend = r#"{"error_code":50001,"message":"store error near 40403 (404)"}"#;
        assert_eq!(classify_id_lookup(500, backend), IdLookup::Unavailable);
        assert_eq!(classify_id_lookup(503, ""), IdLookup::Unavailable);
    }
}

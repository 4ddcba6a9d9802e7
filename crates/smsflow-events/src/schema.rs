//! The Avro schemas, embedded from `schemas/` at compile time.
//!
//! Shared types (the envelope and the enums) are written once in `schemas/common/`; event
//! schemas refer to them by name. [`EventSchema::json`] is the event schema with every shared
//! type inlined at its first use, which is what gets registered: a self-contained schema that
//! any Confluent-compatible client can use without schema references.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use serde_json::{Map, Value};

use crate::events::{EventKind, NAMESPACE};

/// Shared named types, by file stem, in `schemas/common/`.
const COMMON: &[(&str, &str)] = &[
    (
        "EventMeta",
        include_str!("../../../schemas/common/EventMeta.avsc"),
    ),
    ("Lane", include_str!("../../../schemas/common/Lane.avsc")),
    (
        "MessageType",
        include_str!("../../../schemas/common/MessageType.avsc"),
    ),
    (
        "TerminalStatus",
        include_str!("../../../schemas/common/TerminalStatus.avsc"),
    ),
    (
        "ErrorClass",
        include_str!("../../../schemas/common/ErrorClass.avsc"),
    ),
    (
        "Encoding",
        include_str!("../../../schemas/common/Encoding.avsc"),
    ),
    (
        "DeliveryState",
        include_str!("../../../schemas/common/DeliveryState.avsc"),
    ),
];

/// The `.avsc` text of an event as written in `schemas/`, shared types by reference.
pub fn source(kind: EventKind) -> &'static str {
    kind.avsc()
}

/// One event's schema, self-contained and parsed.
#[derive(Debug)]
pub struct EventSchema {
    /// Self-contained JSON (shared types inlined): what is registered.
    pub json: String,
    /// Parsed schema.
    pub schema: Schema,
    /// Parsing Canonical Form, to recognise an identical writer schema.
    pub canonical: String,
}

/// Error while assembling a schema from `.avsc` texts.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A file is not valid JSON.
    #[error("{file}: not JSON: {source}")]
    Json {
        /// File stem.
        file: String,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
    /// The assembled schema is not valid Avro.
    #[error("{file}: not a valid Avro schema: {source}")]
    Avro {
        /// File stem.
        file: String,
        /// Avro error.
        #[source]
        source: Box<apache_avro::Error>,
    },
}

/// Builds the self-contained schema of `event_source` (an `.avsc` text), inlining shared
/// types from `schemas/common/`. Used for the embedded schemas and, by the evolution test, for
/// older versions taken from git history.
pub fn assemble(file: &str, event_source: &str) -> Result<EventSchema, SchemaError> {
    assemble_with_common(file, event_source, &common_sources())
}

/// Like [`assemble`], with explicit shared-type sources (file stem → text).
pub fn assemble_with_common(
    file: &str,
    event_source: &str,
    common: &[(String, String)],
) -> Result<EventSchema, SchemaError> {
    let json_err = |file: &str| {
        let file = file.to_owned();
        move |source| SchemaError::Json { file, source }
    };
    let mut shared = HashMap::new();
    for (stem, text) in common {
        let v: Value = serde_json::from_str(text).map_err(json_err(stem))?;
        shared.insert(format!("{NAMESPACE}.{stem}"), v);
    }
    let root: Value = serde_json::from_str(event_source).map_err(json_err(file))?;
    let mut inliner = Inliner {
        shared: &shared,
        defined: HashSet::new(),
    };
    let expanded = inliner.schema(&root);
    let json = serde_json::to_string(&expanded).map_err(json_err(file))?;
    let schema = Schema::parse_str(&json).map_err(|e| SchemaError::Avro {
        file: file.to_owned(),
        source: Box::new(e),
    })?;
    let canonical = schema.canonical_form();
    Ok(EventSchema {
        json,
        schema,
        canonical,
    })
}

fn common_sources() -> Vec<(String, String)> {
    COMMON
        .iter()
        .map(|(s, t)| ((*s).to_owned(), (*t).to_owned()))
        .collect()
}

/// Replaces references to shared types by their definition at first use.
struct Inliner<'a> {
    /// Shared definitions by full name.
    shared: &'a HashMap<String, Value>,
    /// Full names already defined in the output (later uses stay references).
    defined: HashSet<String>,
}

impl Inliner<'_> {
    /// A schema position: a type name, a union, or a complex type object.
    fn schema(&mut self, v: &Value) -> Value {
        match v {
            Value::String(name) => {
                let full = if name.contains('.') {
                    name.clone()
                } else {
                    format!("{NAMESPACE}.{name}")
                };
                match self.shared.get(&full) {
                    Some(def) if self.defined.insert(full) => self.schema(def),
                    _ => v.clone(),
                }
            }
            Value::Array(union) => Value::Array(union.iter().map(|s| self.schema(s)).collect()),
            Value::Object(obj) => Value::Object(self.object(obj)),
            other => other.clone(),
        }
    }

    fn object(&mut self, obj: &Map<String, Value>) -> Map<String, Value> {
        if let Some(Value::String(name)) = obj.get("name") {
            let ns = obj
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(NAMESPACE);
            let full = if name.contains('.') {
                name.clone()
            } else {
                format!("{ns}.{name}")
            };
            self.defined.insert(full);
        }
        let mut out = Map::new();
        for (k, v) in obj {
            let nv = match (k.as_str(), v) {
                ("type" | "items" | "values", _) => self.schema(v),
                ("fields", Value::Array(fields)) => Value::Array(
                    fields
                        .iter()
                        .map(|f| match f {
                            Value::Object(fo) => Value::Object(self.field(fo)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            out.insert(k.clone(), nv);
        }
        out
    }

    fn field(&mut self, f: &Map<String, Value>) -> Map<String, Value> {
        f.iter()
            .map(|(k, v)| {
                let nv = if k == "type" {
                    self.schema(v)
                } else {
                    v.clone()
                };
                (k.clone(), nv)
            })
            .collect()
    }
}

static SCHEMAS: LazyLock<Vec<EventSchema>> = LazyLock::new(|| {
    EventKind::ALL
        .iter()
        .map(|k| {
            assemble(k.name(), source(*k))
                .unwrap_or_else(|e| panic!("embedded schema {k} is invalid: {e}"))
        })
        .collect()
});

static WRITERS: LazyLock<Vec<GenericDatumWriter<'static>>> = LazyLock::new(|| {
    SCHEMAS
        .iter()
        .map(|s| {
            GenericDatumWriter::builder(&s.schema)
                .human_readable(true)
                .build()
                .unwrap_or_else(|e| panic!("avro writer: {e}"))
        })
        .collect()
});

static READERS: LazyLock<Vec<GenericDatumReader<'static>>> = LazyLock::new(|| {
    SCHEMAS
        .iter()
        .map(|s| {
            GenericDatumReader::builder(&s.schema)
                .human_readable(true)
                .build()
                .unwrap_or_else(|e| panic!("avro reader: {e}"))
        })
        .collect()
});

fn index(kind: EventKind) -> usize {
    EventKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

/// The embedded schema of `kind`.
pub fn schema(kind: EventKind) -> &'static EventSchema {
    &SCHEMAS[index(kind)]
}

/// Datum writer of `kind` (our schema).
pub(crate) fn writer(kind: EventKind) -> &'static GenericDatumWriter<'static> {
    &WRITERS[index(kind)]
}

/// Datum reader of `kind` (our schema as writer schema: the fast path).
pub(crate) fn reader(kind: EventKind) -> &'static GenericDatumReader<'static> {
    &READERS[index(kind)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_assembles_and_names_its_event() {
        for k in EventKind::ALL {
            let s = schema(*k);
            assert_eq!(
                s.schema.name().map(|n| n.fullname(None)),
                Some(k.full_name().to_owned())
            );
        }
    }

    #[test]
    fn shared_types_are_inlined_once() {
        let s = schema(EventKind::RoutingDecided);
        assert_eq!(s.json.matches("\"name\":\"EventMeta\"").count(), 1);
        assert_eq!(s.json.matches("\"name\":\"Lane\"").count(), 1);
        // A second use of a shared type stays a reference (Route.lanes after RoutingDecided.lane
        // does not apply here, but RouteTablePublished has Lane only inside Route).
        let r = schema(EventKind::RouteTablePublished);
        assert_eq!(r.json.matches("\"name\":\"Lane\"").count(), 1);
    }

    #[test]
    fn every_field_has_a_doc() {
        fn check(v: &Value, path: &str) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::Array(fields)) = o.get("fields") {
                        for f in fields {
                            let name = f.get("name").and_then(Value::as_str).unwrap_or("?");
                            assert!(
                                f.get("doc")
                                    .and_then(Value::as_str)
                                    .is_some_and(|d| !d.is_empty()),
                                "field {path}.{name} has no doc"
                            );
                            check(&f["type"], &format!("{path}.{name}"));
                        }
                    }
                    for key in ["type", "items", "values"] {
                        if let Some(t) = o.get(key) {
                            check(t, path);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| check(x, path)),
                _ => {}
            }
        }
        for k in EventKind::ALL {
            let v: Value = serde_json::from_str(&schema(*k).json).unwrap();
            check(&v, k.name());
        }
    }
}

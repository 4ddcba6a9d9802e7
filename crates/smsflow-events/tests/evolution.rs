//! Schema evolution check: every `schemas/<Event>.avsc` as it is now must be able to read data
//! written with every version of it ever committed (BACKWARD_TRANSITIVE, what the registry is
//! set to). Old versions come from git history; shared types are taken from the same commit.
//!
//! Fails with the event, the commit and the incompatibility when a change would break readers
//! of old data (a changed field type, a new field without default, a removed enum symbol...).

use std::path::{Path, PathBuf};
use std::process::Command;

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use smsflow_events::EventKind;
use smsflow_events::schema::{self, assemble_with_common};

fn repo_root() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Output of a git command; panics with git's message when it fails (a check that cannot
/// read the history must not pass).
fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("the evolution check needs git: {e}"));
    assert!(
        out.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `path` exists at `commit`.
fn exists_at(commit: &str, path: &str) -> bool {
    !git(&["ls-tree", "--name-only", commit, "--", path])
        .trim()
        .is_empty()
}

/// Shared type files (`schemas/common/*.avsc`) as they were at `commit`.
fn common_at(commit: &str) -> Vec<(String, String)> {
    if !exists_at(commit, "schemas/common") {
        return Vec::new();
    }
    let list = git(&[
        "ls-tree",
        "--name-only",
        &format!("{commit}:schemas/common"),
    ]);
    list.lines()
        .filter_map(|f| {
            let stem = f.strip_suffix(".avsc")?;
            let text = git(&["show", &format!("{commit}:schemas/common/{f}")]);
            Some((stem.to_owned(), text))
        })
        .collect()
}

/// Commits that touched the event's schema file or the shared types.
fn history(kind: EventKind) -> Vec<String> {
    let file = format!("schemas/{}.avsc", kind.name());
    git(&["log", "--format=%H", "--", &file, "schemas/common"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether `new` can read everything written with `old`; an error text otherwise.
fn check_backward(old: &apache_avro::Schema, new: &apache_avro::Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(old, new) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(partial) => Err(format!(
            "only {partial:?} compatibility (an enum symbol or union branch was removed)"
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn every_schema_reads_every_committed_version_of_itself() {
    assert_eq!(
        git(&["rev-parse", "--is-shallow-repository"]).trim(),
        "false",
        "the evolution check needs the whole git history (a shallow clone hides old versions)"
    );
    let mut failures = Vec::new();
    let mut compared = 0;
    for kind in EventKind::ALL {
        let current = &schema::schema(*kind).schema;
        let path = format!("schemas/{}.avsc", kind.name());
        let mut versions = 0;
        for commit in history(*kind) {
            if !exists_at(&commit, &path) {
                continue; // the file did not exist yet at that commit
            }
            let text = git(&["show", &format!("{commit}:{path}")]);
            let old = match assemble_with_common(kind.name(), &text, &common_at(&commit)) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!(
                        "{kind} at {}: old version does not assemble: {e}",
                        &commit[..10]
                    ));
                    continue;
                }
            };
            compared += 1;
            versions += 1;
            if let Err(e) = check_backward(&old.schema, current) {
                failures.push(format!(
                    "{kind}: the working copy of schemas/{}.avsc cannot read data written with the version of commit {}: {e}",
                    kind.name(),
                    &commit[..10]
                ));
            }
        }
        // A schema committed at HEAD has at least that version to compare with; none means
        // the history was not read (only a schema not committed yet has nothing to compare).
        assert!(
            versions > 0 || !exists_at("HEAD", &path),
            "{path} is committed, but no committed version of it was compared"
        );
    }
    assert!(
        failures.is_empty(),
        "schema changes are not BACKWARD_TRANSITIVE compatible ({} of {compared} comparisons failed):\n  {}\n\
         Allowed: add a field with a default, remove a field, add an enum symbol, widen int->long.\n\
         For anything else, publish a new event type (see docs/events.md).",
        failures.len(),
        failures.join("\n  ")
    );
}

/// Edits the field `name` of an event schema's JSON with `f`.
fn edit(src: &str, f: impl FnOnce(&mut Vec<serde_json::Value>)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(src).unwrap();
    f(v["fields"].as_array_mut().unwrap());
    v.to_string()
}

/// The checker itself: changing a field type is caught, adding a defaulted field is not.
#[test]
fn the_checker_catches_a_changed_field_type() {
    let src = schema::source(EventKind::SendRequested);
    let v1 = schema::assemble("SendRequested", src).unwrap();
    let changed = edit(src, |fields| {
        let f = fields
            .iter_mut()
            .find(|f| f["name"] == "smart_encoding")
            .unwrap();
        f["type"] = "string".into();
        f["default"] = "no".into();
    });
    let v2 = schema::assemble("SendRequested", &changed).unwrap();
    let err = check_backward(&v1.schema, &v2.schema).unwrap_err();
    assert!(!err.is_empty());

    let added = edit(src, |fields| {
        fields.push(
            serde_json::json!({"name": "extra", "type": "string", "default": "", "doc": "x"}),
        );
    });
    check_backward(
        &v1.schema,
        &schema::assemble("SendRequested", &added).unwrap().schema,
    )
    .unwrap();
    let no_default = edit(src, |fields| {
        fields.push(serde_json::json!({"name": "extra", "type": "string", "doc": "x"}));
    });
    let v4 = schema::assemble("SendRequested", &no_default).unwrap();
    assert!(
        check_backward(&v1.schema, &v4.schema).is_err(),
        "a new field without default must be refused"
    );
}

//! The refused file (`--refused-out`): one line per POST that did not end in an accepted
//! message, tab-separated, with a header line, in index order. With the ids file, the only
//! place the generator writes destination numbers.
//!
//! Columns:
//! - `index`: sequence number in the run (as in the ids file);
//! - `to`: the destination, E.164;
//! - `priority`: `otp`, `transactional` or `bulk`;
//! - `status`: the HTTP status (`503`, `429`...; a `202` here had no id in its body), or
//!   `timeout`, `connect`, `transport` when no answer came;
//! - `told_unknown`: `1` if the answer was a 503 whose error message says the request may or
//!   may not have been accepted (the platform may still send it), else `0`;
//! - `retry_after`: the `Retry-After` header as sent, empty without one;
//! - `answer_ms`: answer time, ms (see [`crate::answers`]);
//! - `sent_us`: when the request was written, Unix µs (to place it against an outage).
//!
//! Together with the ids file every POST of a run is accounted for: its lines are the
//! `failed` of the result, the ids file's are the `accepted`.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::Context as _;

use crate::{
    answers::AnswerKind,
    book::Refused,
    plan::{Destinations, Priority},
};

const HEADER: &str = "index\tto\tpriority\tstatus\ttold_unknown\tretry_after\tanswer_ms\tsent_us";

/// One line of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Sequence number in its run.
    pub index: u64,
    /// Destination, E.164.
    pub to: String,
    /// Priority.
    pub priority: Priority,
    /// How the POST ended.
    pub status: AnswerKind,
    /// The answer said the outcome is unknown.
    pub told_unknown: bool,
    /// `Retry-After` as sent.
    pub retry_after: Option<String>,
    /// Answer time, ms.
    pub answer_ms: f64,
    /// Request written, Unix µs.
    pub sent_us: u64,
}

impl Line {
    /// The line of a refused POST.
    pub fn of(r: &Refused, d: &Destinations) -> Self {
        Self {
            index: r.index,
            to: d.number(r.index),
            priority: r.priority,
            status: r.kind,
            told_unknown: r.told_unknown,
            retry_after: r.retry_after.clone(),
            answer_ms: r.answer_ms,
            sent_us: r.sent_us,
        }
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A header value may hold a tab (never a line break): it must not split the column.
        let retry_after = self
            .retry_after
            .as_deref()
            .unwrap_or("")
            .replace(|c: char| c.is_control(), " ");
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{}",
            self.index,
            self.to,
            self.priority,
            self.status,
            u8::from(self.told_unknown),
            retry_after,
            self.answer_ms,
            self.sent_us
        )
    }
}

/// Writes the file (the header alone when nothing was refused).
pub fn write(path: &Path, lines: impl Iterator<Item = Line>) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut w = BufWriter::new(f);
    writeln!(w, "{HEADER}")?;
    for l in lines {
        writeln!(w, "{l}")?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_then_one_line_per_refusal() {
        let path = std::env::temp_dir().join(format!("loadgen-refused-{}", std::process::id()));
        let d = Destinations::new(5);
        let unknown = Refused {
            index: 3,
            priority: Priority::Otp,
            kind: AnswerKind::Status(503),
            told_unknown: true,
            retry_after: Some("2".into()),
            sent_us: 1_700_000_000_000_000,
            answer_ms: 5003.2146,
        };
        let timeout = Refused {
            index: 4,
            priority: Priority::Bulk,
            kind: AnswerKind::Timeout,
            told_unknown: false,
            retry_after: None,
            sent_us: 7,
            answer_ms: 30_000.0,
        };
        write(
            &path,
            [&unknown, &timeout].into_iter().map(|r| Line::of(r, &d)),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            text,
            "index\tto\tpriority\tstatus\ttold_unknown\tretry_after\tanswer_ms\tsent_us\n\
             3\t+447000000008\totp\t503\t1\t2\t5003.215\t1700000000000000\n\
             4\t+447000000009\tbulk\ttimeout\t0\t\t30000.000\t7\n"
        );
    }

    #[test]
    fn a_tab_in_retry_after_stays_in_its_column() {
        let l = Line {
            index: 0,
            to: "+447000000000".into(),
            priority: Priority::Transactional,
            status: AnswerKind::Status(429),
            told_unknown: false,
            retry_after: Some("Wed, 21 Oct\t2026".into()),
            answer_ms: 1.0,
            sent_us: 1,
        };
        let s = l.to_string();
        assert_eq!(s.split('\t').count(), HEADER.split('\t').count());
        assert!(s.contains("\tWed, 21 Oct 2026\t"));
    }
}

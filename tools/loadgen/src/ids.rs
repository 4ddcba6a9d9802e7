//! The ids file: one line per accepted message, tab-separated, with a header line. The only
//! place the generator writes destination numbers.

use std::{
    fs::File,
    io::{BufRead, BufReader, BufWriter, Write},
    path::Path,
};

use anyhow::Context as _;
use uuid::Uuid;

use crate::{book::Accepted, plan::Destinations, plan::Priority};

const HEADER: &str = "index\tid\tpriority\tto\tintended_us\tsent_us\taccept_us";

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Sequence number in its run.
    pub index: u64,
    /// Message id.
    pub id: Uuid,
    /// Priority.
    pub priority: Priority,
    /// Destination, E.164.
    pub to: String,
    /// Due time, Unix µs.
    pub intended_us: u64,
    /// Request written, Unix µs.
    pub sent_us: u64,
    /// 202 received, Unix µs.
    pub accept_us: u64,
}

impl Line {
    /// The line of an accepted message.
    pub fn of(a: &Accepted, d: &Destinations) -> Self {
        Self {
            index: a.index,
            id: a.id,
            priority: a.priority,
            to: d.number(a.index),
            intended_us: a.intended_us,
            sent_us: a.sent_us,
            accept_us: a.accept_us,
        }
    }
}

/// Writes the file.
pub fn write(path: &Path, lines: impl Iterator<Item = Line>) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut w = BufWriter::new(f);
    writeln!(w, "{HEADER}")?;
    for l in lines {
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            l.index, l.id, l.priority, l.to, l.intended_us, l.sent_us, l.accept_us
        )?;
    }
    w.flush()?;
    Ok(())
}

/// Reads a file written by [`write`].
pub fn read(path: &Path) -> anyhow::Result<Vec<Line>> {
    let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        if n == 0 && line == HEADER || line.is_empty() {
            continue;
        }
        out.push(parse(&line).with_context(|| format!("{}:{}", path.display(), n + 1))?);
    }
    Ok(out)
}

fn parse(line: &str) -> anyhow::Result<Line> {
    let f: Vec<&str> = line.split('\t').collect();
    anyhow::ensure!(f.len() == 7, "expected 7 fields, got {}", f.len());
    Ok(Line {
        index: f[0].parse()?,
        id: f[1].parse()?,
        priority: f[2].parse().map_err(anyhow::Error::msg)?,
        to: f[3].to_string(),
        intended_us: f[4].parse()?,
        sent_us: f[5].parse()?,
        accept_us: f[6].parse()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = std::env::temp_dir().join(format!("loadgen-ids-{}", std::process::id()));
        let d = Destinations::new(5);
        let a = Accepted {
            id: Uuid::now_v7(),
            index: 3,
            priority: Priority::Otp,
            intended_us: 1,
            sent_us: 2,
            accept_us: 3,
        };
        write(&dir, std::iter::once(Line::of(&a, &d))).unwrap();
        let back = read(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(back, vec![Line::of(&a, &d)]);
        assert_eq!(back[0].to, "+447000000008");
    }
}

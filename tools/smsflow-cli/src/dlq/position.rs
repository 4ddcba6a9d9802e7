//! A record's place in the dead-letter topic, `<partition>:<offset>`: what `dlq list` prints
//! first on each line and what `dlq show` takes.

use std::fmt;
use std::str::FromStr;

/// Partition and offset of one record of the dead-letter topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Partition of the dead-letter topic.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
}

impl fmt::Display for Position {
    /// `<partition>:<offset>`, padded to the formatter's width.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("{}:{}", self.partition, self.offset))
    }
}

impl FromStr for Position {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a position: expected <partition>:<offset>, e.g. 3:1042");
        let (p, o) = s.trim().split_once(':').ok_or_else(bad)?;
        let partition: i32 = p.parse().map_err(|_| bad())?;
        let offset: i64 = o.parse().map_err(|_| bad())?;
        if partition < 0 || offset < 0 {
            return Err(format!(
                "'{s}' is not a position: partition and offset are never negative"
            ));
        }
        Ok(Self { partition, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partition_colon_offset_and_prints_it_back() {
        let p: Position = "3:1042".parse().unwrap();
        assert_eq!(
            p,
            Position {
                partition: 3,
                offset: 1042
            }
        );
        assert_eq!(p.to_string(), "3:1042");
        assert_eq!(format!("{p:<8}|"), "3:1042  |");
        assert_eq!(" 0:0 ".parse::<Position>().unwrap().offset, 0);
    }

    #[test]
    fn rejects_what_is_not_a_position() {
        for bad in [
            "", "3", "3:", ":5", "a:1", "1:b", "1:2:3", "-1:5", "1:-5", "1.5:2",
        ] {
            let e = bad.parse::<Position>().unwrap_err();
            assert!(e.contains("not a position"), "{bad}: {e}");
        }
    }
}
